/*
 * kernels/gpt_mix.h: feature-space merges of GPTs: the "mixture GPT", whose
 * block MLPs are combinations of expert MLPs taken from other parameter
 * vectors with the base's layout (specialists, or the base itself), and
 * the output-space ensembles they are compared with.
 *
 * The mixture keeps the base's embeddings, LayerNorms, attention and tied
 * head. Block l, with letters as in kernels/gpt.h and E experts per layer:
 *   mid = x + attn(ln1(x))                    (base weights of block l)
 *   u   = ln2(mid)                            (base ln2 of block l)
 *   out = mid + sum_e w_{l,e} MLP_e(u),  MLP_e(u) = proj_e(gelu(fc_e(u)))
 * where expert e of layer l is (params, block j): the tensors
 * h.<j>.mlp.{fc,proj}.{w,b} of that parameter vector.
 * Mixing weights w:
 *   FIXED   w (L,E) given: activation interpolation (E = 2, w = (alpha,
 *           1-alpha) at every layer), or N specialists on the simplex.
 *           Experts whose weight is exactly 0 are not run.
 *   ROUTER  per token, w = topk-softmax(R_l u) with a bias-free router
 *           R_l (E,C) on the block's u; "shared": ONE router R applied to
 *           layer 0's u, and those weights reused by every layer.
 * The router parameters (and only they) train: own layout ("router.<l>"
 * (E,C) per layer, or one "router" (E,C)), zero at start (every expert
 * weighted 1/E), flat params/grads for ml_adamw.
 * The multi-layer router is a pool: ml_mix_pool_multilayer() builds it.
 *
 * Owns: the mixture's buffers (allocated once in ml_gpt_mix_new: a step
 * allocates nothing), its forward and the backward to the router.
 * Not here: training loops and schedules (the runner), weight-space merges
 * (merge_*.c).
 * Memory: the mixture BORROWS base and every experts[].params: they must
 * stay alive and unchanged while it is used; ml_gpt_mix_free() frees only
 * what ml_gpt_mix_new() allocated.
 * Errors: 0 or ML_E*, reason in ml_error_last().
 */
#ifndef ML_KERNELS_GPT_MIX_H
#define ML_KERNELS_GPT_MIX_H

#include "kernels/gpt.h"
#include "kernels/params.h"

#include <stdint.h>

#define ML_MIX_MAX_EXPERTS 64

/* One expert MLP: the h.<block>.mlp.* tensors of params (laid out like the
 * base: same layout, e.g. a specialist fine-tuned from it). Borrowed. */
typedef struct {
    const float *params;   /* (base layout.total) */
    int block;             /* source block j, 0 <= j < L */
} ml_expert;

typedef enum { ML_MIX_FIXED = 0, ML_MIX_ROUTER = 1 } ml_mix_kind;

typedef struct {
    ml_mix_kind kind;
    const double *weights;  /* FIXED: (L,E), copied; NULL = 1/E everywhere. Any real values
                             * are accepted (the simplex is the caller's choice). */
    int top_k;              /* ROUTER: experts kept per token, 1..E; 0 means E (dense) */
    int shared;             /* ROUTER: one router at layer 0's u, its weights used by every layer */
} ml_mix_options;

/* Ablations of the backward, for tests that show the gradient checks can
 * see a missing path. Never set outside tests. */
enum {
    ML_MIX_ABLATE_BLOCK_PATHS   = 1,  /* the gradient crosses each block by the residual identity only */
    ML_MIX_ABLATE_ROUTER_INPUT  = 2,  /* no gradient from the router logits into the u they read */
};

typedef struct {
    const ml_gpt *base;      /* borrowed: embeddings, LayerNorms, attention, head */
    int L, E, C, NH, V;
    ml_mix_kind kind;
    int top_k;               /* 1..E (ROUTER) */
    int shared;
    ml_expert *experts;      /* (L,E) copy of the table */
    float *fixed_w;          /* (L,E) FIXED weights */
    /* router parameters: (layout.total) each; layout "router.<l>" (E,C) or "router" (E,C) */
    ml_layout layout;
    float *params;
    float *grads;
    int    B, T;             /* capacity */
    int    last_B, last_T, had_targets;
    int    eval_only;   /* the last forward kept no GELU slopes: no backward after it */
    int    ablate;           /* ML_MIX_ABLATE_* bits, 0 normally */
    /* cached tensor pointers (into base or experts) */
    const float *wte, *wpe, *lnf_w, *lnf_b;
    const float **bp;        /* (L, 8) base ln1.w ln1.b qkv.w qkv.b proj.w proj.b ln2.w ln2.b */
    const float **xp;        /* (L, E, 4) expert fc.w fc.b proj.w proj.b */
    /* activations of the last forward; capacity rows N = B*T */
    float *res;              /* (L+1, N, C) residual: res[0] embedding, res[l+1] after block l */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,N,C) (L,N) (L,N) */
    float *qkv;              /* (L,N,3C) */
    float *att;              /* (L,B,NH,T,T) */
    float *atty;             /* (L,N,C) */
    float *mid;              /* (L,N,C) */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (L,N,C) (L,N) (L,N): u of every block */
    float *fch;              /* ROUTER (L,E,N,4C) GELU's slope at every expert's pre-activation (all the
                                backward needs); FIXED (N,4C) the pre-activation, scratch */
    float *ey;               /* ROUTER (L,E,N,C) expert outputs; FIXED (N,C) scratch */
    float *gel;              /* (N,4C) GELU scratch */
    float *zlog;             /* (L,N,E) router logits (shared: layer 0 only) */
    float *wts;              /* (L,N,E) mixing weights per token (shared: layer 0 only) */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (N,C) (N) (N) */
    float *logits, *probs;   /* (N,V) */
    float *losses;           /* (N) */
    /* backward scratch */
    float *dres, *du, *dC, *dC2, *dy;   /* (N,C) */
    float *dh, *dfch;                   /* (N,4C) */
    float *dqkv;                        /* (N,3C) */
    float *datt;                        /* (B,NH,T,T) */
    float *dlogits;                     /* (N,V) */
    float *dw, *dwsum, *dz;             /* (N,E) */
} ml_gpt_mix;

/* experts (L,E), row l the experts of layer l; E in 1..ML_MIX_MAX_EXPERTS;
 * opt NULL = dense per-layer router. Activations for up to (B,T) tokens,
 * T <= base max_T. ML_EINVALID (bad sizes, an expert block out of range,
 * a NULL expert, top_k out of 0..E, an unknown kind) or ML_ENOMEM; *out is
 * set only on success. */
int  ml_gpt_mix_new(ml_gpt_mix **out, const ml_gpt *base, const ml_expert *experts, int E,
                    const ml_mix_options *opt, int B, int T);
void ml_gpt_mix_free(ml_gpt_mix *m);   /* NULL-safe */

/* FIXED only: w (L,E) replaces the weights / w = (alpha, 1-alpha) at every
 * layer (E must be 2). ML_EINVALID otherwise. */
int ml_gpt_mix_set_weights(ml_gpt_mix *m, const double *w);
int ml_gpt_mix_set_alpha(ml_gpt_mix *m, double alpha);

/* tokens (B,T), targets (B,T) or NULL (ids or ML_IGNORE) -> mean loss over
 * non-ignored targets (0 when targets is NULL). B, T within capacity. */
float ml_gpt_mix_forward(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets, int B, int T);
/* The same loss and logits, bit for bit, for scoring only: the experts'
 * GELU slopes the backward needs are not computed (a tenth of a router's
 * evaluation time), and ml_gpt_mix_backward refuses to follow it. */
float ml_gpt_mix_forward_eval(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets, int B, int T);
/* ROUTER only: accumulates d(mean loss)/d router params into m->grads for
 * the last forward (the caller zeroes them: ml_gpt_mix_zero_grad). The
 * gradient runs through the frozen experts, attention and LayerNorms to the
 * lower layers' routers; none of their weight gradients are computed.
 * tokens is unused (the embeddings are frozen), kept for symmetry.
 * ML_EINVALID for FIXED or without the forward's targets. */
int  ml_gpt_mix_backward(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets);
void ml_gpt_mix_zero_grad(ml_gpt_mix *m);

/* Logits of the last forward at (b,t): (V). */
const float *ml_gpt_mix_logits(const ml_gpt_mix *m, int b, int t);
/* Mixing weights layer l used in the last forward: (last_B*last_T, E),
 * row = token (FIXED: its weights broadcast; shared: the same for all l). */
const float *ml_gpt_mix_weights(const ml_gpt_mix *m, int l);

/* Multi-layer router pool from two specialists a and b (parameter vectors
 * with the base layout): experts (L, 2k). Layer i's source blocks are
 * s_0..s_{k-1} = i, i+1, ..., L-1 and then, where those run out near the
 * top, i-1, i-2, ...; expert 2m is (a, s_m) and 2m+1 is (b, s_m).
 * k = 1: the single-layer pool ((a,i), (b,i)). ML_EINVALID unless
 * 1 <= k <= L. */
int ml_mix_pool_multilayer(ml_expert *experts, const float *a, const float *b, int L, int k);

/* Output-space ensembles of n models with weights w (n) >= 0 and a
 * positive sum (normalised here); ML_EINVALID otherwise.
 * Logits: out (count) = sum_k w_k logits[k] / sum w (in double).
 * Probabilities: rows of V logits each -> out (rows,V) = log(sum_k w_k
 * softmax(logits[k] row) / sum w), a row of log-probabilities (computed as
 * a log-sum-exp in double, so it stays finite where one model is sure).
 * out may alias none of the inputs. n in 1..ML_MIX_MAX_EXPERTS. */
int ml_logit_ensemble(float *out, const float *const *logits, const double *w, int n, long count);
int ml_prob_ensemble(float *out, const float *const *logits, const double *w, int n, long rows, int V);

#endif
