/*
 * kernels/layers.h: forward/backward pairs of the MLP's layers.
 * Dimension letters: N batch rows, C input features, OC output features,
 * V classes. Every array is contiguous row-major float32.
 * Forward writes its outputs; backward ACCUMULATES (+=) into dx/dW/db so
 * the caller zeroes gradients once per step (llm.c convention).
 * Not here: the model that strings them together (mlp.c), optimisers.
 * Naive references with the same signatures live in kernels/ref/layers_ref.c.
 */
#ifndef ML_KERNELS_LAYERS_H
#define ML_KERNELS_LAYERS_H

#include <stdint.h>

/* x (N,C)  W (OC,C)  b (OC) or NULL  ->  y (N,OC) */
void ml_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC);
/* dy (N,OC) -> dx (N,C) or NULL, dW (OC,C), db (OC) or NULL; accumulates */
void ml_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                        const float *W, int N, int C, int OC);

/* x (n) -> y (n) */
void ml_relu_forward(float *y, const float *x, long n);
/* dy (n), x (n): the forward's input -> dx (n); accumulates */
void ml_relu_backward(float *dx, const float *dy, const float *x, long n);

/* GELU, tanh approximation (as GPT-2). x (n) -> y (n) */
void ml_gelu_forward(float *y, const float *x, long n);
void ml_gelu_backward(float *dx, const float *dy, const float *x, long n);

/* logits (N,V), targets (N) in [0,V) or ML_IGNORE -> probs (N,V), losses (N)
 * or NULL; returns the mean loss over the rows that are not ignored (0 when
 * all are). Numerically stable (log-sum-exp with the max subtracted). */
#define ML_IGNORE (-1)
float ml_softmax_ce_forward(float *probs, float *losses, const float *logits,
                            const int32_t *targets, int N, int V);
/* d(mean loss)/d logits = (probs - onehot)/n_counted; ignored rows get no
 * gradient; dlogits (N,V) accumulates. */
void ml_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V);

/* References (plain loops, double accumulators). */
void ml_ref_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC);
void ml_ref_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, int N, int C, int OC);

#endif
