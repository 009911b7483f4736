/*
 * kernels/gpt.h: a GPT-2-style decoder-only transformer on the flat layout.
 * Pre-LN blocks (x + attn(ln1(x)), then x + mlp(ln2(x))), GELU MLP at 4C,
 * learned positions, biases on, final LayerNorm, LM head tied to the
 * token embedding. Letters: B batch, T time, C channels, NH heads, L layers,
 * V vocabulary. Tensors in the layout, in order:
 *   wte (V,C), wpe (maxT,C),
 *   h.<l>.ln1.w (C), h.<l>.ln1.b (C), h.<l>.attn.qkv.w (3C,C), h.<l>.attn.qkv.b (3C),
 *   h.<l>.attn.proj.w (C,C), h.<l>.attn.proj.b (C), h.<l>.ln2.w (C), h.<l>.ln2.b (C),
 *   h.<l>.mlp.fc.w (4C,C), h.<l>.mlp.fc.b (4C), h.<l>.mlp.proj.w (C,4C), h.<l>.mlp.proj.b (C),
 *   lnf.w (C), lnf.b (C)
 * Owns: buffers, forward (with residual capture and injection), backward.
 * Not here: optimiser (adamw.c), data (data/text.c), checkpoints (checkpoint.c).
 */
#ifndef ML_KERNELS_GPT_H
#define ML_KERNELS_GPT_H

#include "kernels/params.h"

#include <stdint.h>

typedef struct {
    int vocab_size;   /* V */
    int max_T;        /* context length: wpe rows */
    int n_layer;      /* L */
    int n_head;       /* NH, divides C */
    int n_embd;       /* C */
} ml_gpt_config;

/* Activation offsets for one layer inside the per-layer buffers. */
typedef struct {
    ml_gpt_config cfg;
    ml_layout layout;
    float *params;           /* (layout.total) */
    float *grads;            /* (layout.total) */
    int    B, T;             /* capacity of the activation buffers */
    /* activations of the last forward; per-layer arrays are (L, B, T, ...) */
    float *res;              /* (L+1, B,T,C) residual stream: res[0] embedding, res[l+1] after block l */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,B,T,C) (L,B,T) (L,B,T) */
    float *qkv;              /* (L,B,T,3C) */
    float *att;              /* (L,B,NH,T,T) */
    float *atty;             /* (L,B,T,C) attention output before its projection */
    float *mid;              /* (L,B,T,C) residual after the attention half */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (L,B,T,C) (L,B,T) (L,B,T) */
    float *fch, *fch_gelu;   /* (L,B,T,4C) */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C) (B,T) (B,T) */
    float *logits;           /* (B,T,V) */
    float *probs;            /* (B,T,V) */
    float *losses;           /* (B,T) per-position loss of the last forward with targets */
    /* backward scratch */
    float *dres, *dC, *dC2, *d4C, *d4C2, *dqkv, *datt, *dlogits;
    int    last_B, last_T;   /* shape of the last forward */
    int    injected_at;      /* layer whose residual was injected, -1 when none */
    int    had_targets;      /* the last forward computed the loss (backward needs its probs) */
    size_t bytes;                      /* what ml_gpt_new allocated for the buffers above */
} ml_gpt;

/* Checks the config (C % NH == 0, sizes > 0), builds the layout and
 * allocates parameters, gradients and activations for up to (B,T). */
int  ml_gpt_new(ml_gpt **out, const ml_gpt_config *cfg, int B, int T);
void ml_gpt_free(ml_gpt *m);
/* The bytes ml_gpt_new(cfg, B, T) allocates for parameters, gradients and
 * activations, without allocating (a suite's memory estimate). */
size_t ml_gpt_bytes(const ml_gpt_config *cfg, int B, int T);
/* GPT-2 init: weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
 * biases 0, LayerNorm weights 1; counter RNG stream INIT + tensor index. */
void ml_gpt_init(ml_gpt *m, uint64_t seed);

/* tokens (B,T), targets (B,T) or NULL (ids, or ML_IGNORE) -> mean loss over
 * the targets that are not ignored (0 when targets is NULL).
 * inject_layer in [0, L] with inject (B,T,C) replaces the residual stream
 * entering block inject_layer (L: entering the final LayerNorm) by inject;
 * -1 (and inject NULL) for a plain forward. */
float ml_gpt_forward(ml_gpt *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                     int inject_layer, const float *inject);
/* Accumulates d(mean loss)/d params into m->grads for the last forward.
 * trainable (layout.n) or NULL: weight gradients of tensors marked 0 are not
 * computed (their grads are left as they are). ML_EINVALID after a forward
 * with an injected residual (the gradient below it would be meaningless) or
 * without targets. */
int ml_gpt_backward(ml_gpt *m, const int32_t *tokens, const int32_t *targets, const unsigned char *trainable);

/* The residual stream entering block l (l = L: after the last block), from
 * the last forward: (B,T,C) rows for its B and T. */
const float *ml_gpt_residual(const ml_gpt *m, int l);
/* Logits of the last forward at (b, t): (V). */
const float *ml_gpt_logits(const ml_gpt *m, int b, int t);

/* Exact match by teacher forcing. x (B,T) holds B documents from position
 * 0; document b's answer is tokens [prompt[b], len[b]) with 1 <= prompt[b]
 * <= len[b] <= T. match (B) = 1 when greedy decoding from the prompt would
 * reproduce the answer exactly: by induction over positions, that holds iff
 * the argmax at every position prompt-1 .. len-2 is the next reference
 * token (ties go to the lowest id, as in ml_gpt_greedy). One forward. */
void ml_gpt_answer_matches(ml_gpt *m, const int32_t *x, const int *prompt, const int *len, int B, int T,
                           int *match);
/* The check itself, for any model whose last forward ran on x (B,T):
 * logits(ctx, b, t) returns the (V) logits at (b, t). */
void ml_answer_matches(const float *(*logits)(void *ctx, int b, int t), void *ctx, int V, const int32_t *x,
                       const int *prompt, const int *len, int B, int T, int *match);
/* Greedy decoding, the slow reference: seq (capacity n + n_new <= T) holds
 * n tokens; appends n_new argmax tokens, one forward each. */
void ml_gpt_greedy(ml_gpt *m, int32_t *seq, int n, int n_new);

/* Marks trainable tensors by a group name: "all", "mlp" (h.*.mlp.*),
 * "attn" (h.*.attn.*), "ln" (all LayerNorms), "embed" (wte, wpe).
 * mask (layout.n) is OR-ed. ML_EINVALID for an unknown group. */
int ml_gpt_mark_trainable(unsigned char *mask, const ml_gpt *m, const char *group);

/* FLOPs of one training step (forward + backward) at (B,T), counting every
 * matrix product the kernels run (attention's full T x T included). */
double ml_gpt_step_flops(const ml_gpt_config *cfg, int B, int T);

#endif
