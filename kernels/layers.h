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
/* dy (N,OC) -> dx (N,C), dW (OC,C), db (OC); each may be NULL (not
 * wanted: frozen weights skip their gemm); accumulates */
void ml_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                        const float *W, int N, int C, int OC);

/* x (n) -> y (n) */
void ml_relu_forward(float *y, const float *x, long n);
/* dy (n), x (n): the forward's input -> dx (n); accumulates */
void ml_relu_backward(float *dx, const float *dy, const float *x, long n);

/* GELU, tanh approximation (as GPT-2). x (n) -> y (n) */
void ml_gelu_forward(float *y, const float *x, long n);
void ml_gelu_backward(float *dx, const float *dy, const float *x, long n);
/* x (n) -> y (n) = gelu(x) and d (n) = gelu'(x) in one pass (d may alias x): for a
 * backward that needs only the activation's slope, so it need not recompute tanh. */
void ml_gelu_forward_slope(float *y, float *d, const float *x, long n);
/* dx (n) = dy (n) * d (n), the slope from ml_gelu_forward_slope; assigns, for a
 * scratch gradient that nothing else accumulates into. */
void ml_mul_slope(float *dx, const float *dy, const float *d, long n);

/* logits (N,V), targets (N) in [0,V) or ML_IGNORE -> probs (N,V), losses (N)
 * (required: rows run in parallel, then the mean is summed in row order);
 * returns the mean loss over the rows that are not ignored (0 when all
 * are). Numerically stable (log-sum-exp with the max subtracted). */
#define ML_IGNORE (-1)
float ml_softmax_ce_forward(float *probs, float *losses, const float *logits,
                            const int32_t *targets, int N, int V);
/* d(mean loss)/d logits = (probs - onehot)/n_counted; ignored rows get no
 * gradient; dlogits (N,V) accumulates. */
void ml_softmax_ce_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V);

/* ---- transformer layers (layernorm.c, embedding.c, attention.c) ----
 * More letters: B batch, T time (positions), C channels, NH heads,
 * hs = C/NH head size. A (B,T,C) array is the same memory as (B*T, C). */

/* x (N,C), w (C), b (C) -> y (N,C), mean (N), rstd (N); eps 1e-5 */
void ml_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int N, int C);
/* dy (N,C), x, mean, rstd from the forward -> dx (N,C), dw (C), db (C);
 * accumulates; dw and db may be NULL (a frozen LayerNorm) */
void ml_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, int N, int C);

/* tokens (B,T), wte (V,C), wpe (maxT,C) -> x (B,T,C) = wte[token] + wpe[t] */
void ml_embedding_forward(float *x, const int32_t *tokens, const float *wte, const float *wpe,
                          int B, int T, int C);
/* dx (B,T,C) -> dwte (V,C), dwpe (maxT,C); accumulates */
void ml_embedding_backward(float *dwte, float *dwpe, const float *dx, const int32_t *tokens,
                           int B, int T, int C);

/* Causal multi-head self-attention core (no projections):
 * qkv (B,T,3C) holding q | k | v per position -> y (B,T,C), att (B,NH,T,T)
 * the softmax probabilities (zero above the diagonal), kept for backward.
 * Scores are scaled by 1/sqrt(hs). Products run on sgemm per (b, head),
 * reading q, k, v in place through leading dimensions. */
void ml_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH);
/* dy (B,T,C) -> dqkv (B,T,3C); datt (B,NH,T,T) is scratch (one block per
 * head, so heads run in parallel). Accumulates into dqkv. */
void ml_attention_backward(float *dqkv, float *datt, const float *dy, const float *qkv,
                           const float *att, int B, int T, int C, int NH);

/* References (plain loops, double accumulators). */
void ml_ref_attention_forward(float *y, float *att, const float *qkv, int B, int T, int C, int NH);
void ml_ref_attention_backward(float *dqkv, const float *dy, const float *qkv, const float *att,
                               int B, int T, int C, int NH);
void ml_ref_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int C, int OC);
void ml_ref_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, int N, int C, int OC);

#endif
