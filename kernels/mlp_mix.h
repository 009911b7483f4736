/*
 * kernels/mlp_mix.h: the routed "mixture MLP": every layer of an MLP (the
 * hidden layers AND the logits layer) is a per-example softmax mixture of
 * expert layers taken from other parameter vectors with the MLP layout
 * (specialists, or the base itself), on one shared stream.
 *
 * Letters as in kernels/mlp.h (N rows, D input, H_l widths, V classes);
 * Lh = n_hidden, nl = Lh + 1 layers, E experts per layer; in_l and out_l
 * are layer l's (in, out) widths. Layer l, with h_0 = x (N,D):
 *   z_l     = h_l R_l^T                         (N,E) router logits
 *   p_l     = topk-softmax(z_l) per row         (N,E)
 *   h_{l+1} = sum_e p_{l,e} f_{l,e}(h_l)        (N,out_l)
 *   f_{l,e}(h) = act(W h + b)  (no act on the logits layer l = Lh)
 * where expert e of layer l is (params, layer j): the tensors fc<j+1>.weight
 * (out,in) and fc<j+1>.bias of that vector, whose shape must equal layer
 * l's; the activation is layer l's (act on hidden l, none on the logits).
 * h_nl are the logits, trained with softmax cross-entropy.
 * top-k: the k largest logits of a row are kept (ties go to the lower
 * index), softmax over them, the others weigh exactly 0. "shared": ONE
 * router R (E,D) at layer 0's input x, its weights reused by every layer.
 * The router parameters (and only they) train: own layout "router.<l>"
 * (E, in_l) per layer, or one "router" (E,D); zero at start (every expert
 * weighted 1/E); flat params/grads for ml_adamw_new(&o, &m->layout, ...).
 *
 * Owns: the mixture's buffers (allocated once in ml_mlp_mix_new: a step
 * allocates nothing), its forward and the backward to the router.
 * Not here: the plain MLP (mlp.c), fixed-weight interpolation
 * (ml_mlp_forward_mix), training loops.
 * Memory: the mixture BORROWS every experts[].params: they must stay alive
 * and unchanged while it is used; ml_mlp_mix_free() frees only what
 * ml_mlp_mix_new() allocated.
 * Errors: 0 or ML_E*, reason in ml_error_last().
 */
#ifndef ML_KERNELS_MLP_MIX_H
#define ML_KERNELS_MLP_MIX_H

#include "kernels/mlp.h"
#include "kernels/params.h"

#include <stdint.h>

#define ML_MLP_MIX_MAX_EXPERTS 64
#define ML_MLP_MIX_MAX_LAYERS (ML_MLP_MAX_HIDDEN + 1)

/* One expert layer: fc<layer+1>.{weight,bias} of params, a vector with the
 * MLP layout of the mixture's config. Borrowed. */
typedef struct {
    const float *params;   /* (layout.total of an ml_mlp with that config) */
    int layer;             /* source layer j, 0 <= j <= n_hidden */
} ml_mlp_expert;

/* Ablations of the backward, for tests that show the gradient checks can
 * see a missing path. Never set outside tests. */
enum {
    ML_MLP_MIX_ABLATE_EXPERT_PATHS = 1,  /* no gradient through the frozen experts into their input h_l */
    ML_MLP_MIX_ABLATE_ROUTER_INPUT = 2,  /* no gradient from the router logits into the h_l they read */
};

typedef struct {
    ml_mlp_config cfg;
    int nl;                  /* layers: n_hidden + 1 */
    int E;
    int top_k;               /* 1..E */
    int shared;
    int in_w[ML_MLP_MIX_MAX_LAYERS], out_w[ML_MLP_MIX_MAX_LAYERS];  /* in_l, out_l */
    ml_mlp_expert *experts;  /* (nl,E) copy of the table */
    const float **xp;        /* (nl,E,2) cached W (out_l,in_l) and b (out_l) of each expert */
    /* router parameters: (layout.total) each */
    ml_layout layout;
    float *params;
    float *grads;
    int    max_batch;
    int    last_n, had_targets;
    int    ablate;           /* ML_MLP_MIX_ABLATE_* bits, 0 normally */
    /* activations of the last forward, capacity max_batch rows */
    float *pre[ML_MLP_MIX_MAX_LAYERS];  /* hidden l: (E,N,out_l) pre-activation of every expert */
    float *ey[ML_MLP_MIX_MAX_LAYERS];   /* (E,N,out_l) expert outputs f_{l,e}(h_l) */
    float *hs[ML_MLP_MIX_MAX_LAYERS];   /* (N,out_l) mixed outputs h_{l+1}; hs[nl-1] = logits (N,V) */
    float *zlog;             /* (nl,N,E) router logits (shared: layer 0 only) */
    float *wts;              /* (nl,N,E) mixing weights (shared: layer 0 only) */
    float *logits;           /* = hs[nl-1] (N,V), not a separate allocation */
    float *probs;            /* (N,V) */
    float *losses;           /* (N) */
    /* backward scratch */
    float *dA, *dB, *dy, *dpre;   /* (N, max width) */
    float *dw, *dwsum, *dz;       /* (N,E) */
} ml_mlp_mix;

/* experts (nl,E), row l the experts of layer l; E in 1..ML_MLP_MIX_MAX_EXPERTS;
 * top_k in 0..E (0 means E: dense); shared 0/1; max_batch > 0 rows.
 * ML_EINVALID (a bad config or size, a NULL expert, a source layer out of
 * range or of another shape than layer l) or ML_ENOMEM; *out is set only
 * on success. The router starts at zero. */
int  ml_mlp_mix_new(ml_mlp_mix **out, const ml_mlp_config *cfg, const ml_mlp_expert *experts, int E, int top_k,
                    int shared, int max_batch);
void ml_mlp_mix_free(ml_mlp_mix *m);   /* NULL-safe */

/* x (N,D), targets (N) in [0,V) or ML_IGNORE, or NULL; N <= max_batch.
 * Returns the mean CE loss over non-ignored rows (0 when targets is NULL);
 * logits in m->logits, probs in m->probs (probs only with targets). */
float ml_mlp_mix_forward(ml_mlp_mix *m, const float *x, const int32_t *targets, int N);
/* Accumulates d(mean loss)/d router params into m->grads for the last
 * forward (the caller zeroes them: ml_mlp_mix_zero_grad). x must be the
 * forward's x. The gradient runs through the frozen experts into the
 * stream and down to the lower layers' routers; no expert weight gradient
 * is computed. ML_EINVALID without the forward's targets. */
int  ml_mlp_mix_backward(ml_mlp_mix *m, const float *x, const int32_t *targets);
void ml_mlp_mix_zero_grad(ml_mlp_mix *m);

/* Accuracy and mean loss over n rows, in chunks of max_batch. */
void ml_mlp_mix_evaluate(ml_mlp_mix *m, const float *x, const int32_t *y, int n, double *acc, double *loss);

/* Mixing weights layer l used in the last forward: (last_n, E)
 * (shared: the same array for every l). */
const float *ml_mlp_mix_weights(const ml_mlp_mix *m, int l);

/* Single-layer pool: experts (nl,E) with E = K + (base != NULL); expert e
 * of layer l is (specialists[e], l), and the base's own layer l last when
 * base is given. Returns E, or ML_EINVALID (nl not 1..ML_MLP_MIX_MAX_LAYERS,
 * E not 1..ML_MLP_MIX_MAX_EXPERTS, a NULL parameter vector). */
int ml_mlp_mix_pool_single_layer(ml_mlp_expert *experts, int nl, const float *const *specialists, int K,
                                 const float *base);

#endif
