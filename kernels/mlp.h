/*
 * kernels/mlp.h: a multilayer perceptron classifier on the flat layout.
 * Dimension letters: N batch rows, D input features, H_l width of hidden
 * layer l, V classes. Layer l (1-based in names) is "fc<l>.weight" (out,in)
 * and "fc<l>.bias" (out); hidden layers use ReLU or GELU; the last layer
 * gives logits, trained with softmax cross-entropy.
 * Owns: the model's buffers and its forward/backward. Not here: the
 * optimiser (adamw.c), data (data/), merging (merge_*.c).
 */
#ifndef ML_KERNELS_MLP_H
#define ML_KERNELS_MLP_H

#include "kernels/params.h"

#include <stdint.h>

#define ML_MLP_MAX_HIDDEN 8

typedef enum { ML_ACT_RELU = 0, ML_ACT_GELU = 1 } ml_activation;

typedef struct {
    int in_dim;                        /* D */
    int n_hidden;                      /* number of hidden layers, 1..ML_MLP_MAX_HIDDEN */
    int hidden[ML_MLP_MAX_HIDDEN];     /* H_l */
    int out_dim;                       /* V, at most 256 (targets are uint8) */
    ml_activation act;
} ml_mlp_config;

typedef struct {
    ml_mlp_config cfg;
    ml_layout layout;
    float *params;                     /* (layout.total) */
    float *grads;                      /* (layout.total) */
    int    max_batch;
    /* activations of the last forward, for up to max_batch rows */
    float *pre[ML_MLP_MAX_HIDDEN + 1];  /* (N, H_l) before activation; pre[n_hidden] = logits (N,V) */
    float *post[ML_MLP_MAX_HIDDEN];     /* (N, H_l) after activation */
    float *probs;                       /* (N, V) */
    float *losses;                      /* (N) per-row loss of the last forward */
    float *dpre, *dpost;                /* scratch (N, max width) */
    int    last_n;                      /* rows of the last forward */
    size_t bytes;                       /* what ml_mlp_new allocated for the buffers above */
} ml_mlp;

/* The bytes ml_mlp_new(cfg, max_batch) allocates, without allocating. */
size_t ml_mlp_bytes(const ml_mlp_config *cfg, int max_batch);
int  ml_mlp_new(ml_mlp **out, const ml_mlp_config *cfg, int max_batch);
void ml_mlp_free(ml_mlp *m);
/* Normal(0, sqrt(2/fan_in)) weights (sqrt(1/fan_in) for the logits layer),
 * zero biases; element i of tensor t uses counter i of stream INIT+t. */
void ml_mlp_init(ml_mlp *m, uint64_t seed);
/* x (N,D); targets (N) or NULL. Returns the mean loss (0 when targets is NULL).
 * N <= max_batch. Keeps activations for backward and for probes. */
float ml_mlp_forward(ml_mlp *m, const float *x, const int32_t *targets, int N);
/* Accumulates d(mean loss)/d params into m->grads; needs the forward's x. */
void ml_mlp_backward(ml_mlp *m, const float *x, const int32_t *targets, int N);
/* Accuracy and mean loss over n rows, in chunks of max_batch. */
void ml_mlp_evaluate(ml_mlp *m, const float *x, const int32_t *y, int n, double *acc, double *loss);
/* Feature interpolation of K models of one shape on a shared stream: at
 * every layer the output is sum_k w[k] * layer_k(h) (after the activation
 * for hidden layers; the logits are mixed the same way), and the mixed
 * output is the next layer's input for every model. w = (1, 0, ...) gives
 * model 0's own forward bit for bit. work provides the buffers (its own
 * parameters are not used); x (N,D) with N <= work->max_batch; targets as
 * in ml_mlp_forward. Returns the mean loss; logits in work->pre[L], probs
 * in work->probs. */
float ml_mlp_forward_mix(ml_mlp *work, const ml_mlp *const *models, const double *w, int K, const float *x,
                         const int32_t *targets, int N);
/* Accuracy and mean loss of that mixture over n rows (chunks of max_batch). */
void ml_mlp_evaluate_mix(ml_mlp *work, const ml_mlp *const *models, const double *w, int K, const float *x,
                         const int32_t *y, int n, double *acc, double *loss);

/* Rows i < B whose argmax over probs (B,V) (ties: the lower class) equals
 * y[i]: the count correct. Shared with the routed mixture (mlp_mix.c). */
long ml_mlp_count_correct(const float *probs, const int32_t *y, int B, int V);

/* Width of hidden layer l (0-based) and its activations from the last forward (N, H_l). */
int ml_mlp_hidden_width(const ml_mlp *m, int l);
const float *ml_mlp_hidden(const ml_mlp *m, int l);

#endif
