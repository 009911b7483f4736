/*
 * kernels/gpt_mix.c: the mixture GPT (interpolated or routed expert MLPs on
 * the base's residual stream) and output-space ensembles.
 * The base's blocks are run with the same kernels, in the same order, as
 * ml_gpt_forward, so a mixture whose weights pick one expert per layer with
 * weight 1 (the others exactly 0) reproduces that model's forward bit for
 * bit. Every buffer is allocated once in ml_gpt_mix_new.
 * Backward computes activation gradients only: frozen linears go through
 * ml_gemm_nn (dx = dy W) and frozen LayerNorms get NULL dw/db, so no
 * weight-gradient product is ever run; only the router's dR = dz^T u.
 * The router math (top-k softmax, its backward, the per-row mixing of
 * expert outputs) is kernels/router.c's, shared with kernels/mlp_mix.c.
 */
#include "kernels/gpt_mix.h"
#include "kernels/gemm.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"
#include "kernels/router.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base tensors cached per layer */
enum { B_LN1W, B_LN1B, B_QKVW, B_QKVB, B_PROJW, B_PROJB, B_LN2W, B_LN2B, B_PER_LAYER };
static const char *const base_names[B_PER_LAYER] = {
    "ln1.w", "ln1.b", "attn.qkv.w", "attn.qkv.b", "attn.proj.w", "attn.proj.b", "ln2.w", "ln2.b" };
/* expert tensors */
enum { X_FCW, X_FCB, X_PW, X_PB, X_PER_EXPERT };
static const char *const expert_names[X_PER_EXPERT] = { "mlp.fc.w", "mlp.fc.b", "mlp.proj.w", "mlp.proj.b" };

static const float *base_tensor(const ml_gpt *g, const char *name) {
    int i = ml_layout_find(&g->layout, name);
    return i < 0 ? NULL : g->params + g->layout.tensors[i].offset;
}

_Static_assert(ML_MIX_MAX_EXPERTS <= ML_ROUTER_MAX_EXPERTS, "gpt mix: more experts than kernels/router.c keeps");

int ml_gpt_mix_new(ml_gpt_mix **out, const ml_gpt *base, const ml_expert *experts, int E,
                   const ml_mix_options *opt, int B, int T) {
    ml_gpt_mix *m = NULL;
    int error = 0;
    ml_mix_options dflt = { ML_MIX_ROUTER, NULL, 0, 0 };
    *out = NULL;
    if (!opt) opt = &dflt;
    ML_CHECK_ARG(base != NULL && experts != NULL, "gpt mix: base and experts are required");
    int L = base->cfg.n_layer, C = base->cfg.n_embd, NH = base->cfg.n_head, V = base->cfg.vocab_size;
    ML_CHECK_ARG(E >= 1 && E <= ML_MIX_MAX_EXPERTS, "gpt mix: %d experts per layer (expected 1..%d)", E,
                 ML_MIX_MAX_EXPERTS);
    ML_CHECK_ARG(B > 0 && T > 0 && T <= base->cfg.max_T, "gpt mix: batch %d x %d does not fit context %d", B, T,
                 base->cfg.max_T);
    ML_CHECK_ARG(opt->kind == ML_MIX_FIXED || opt->kind == ML_MIX_ROUTER, "gpt mix: unknown kind %d",
                 (int)opt->kind);
    if (opt->kind == ML_MIX_ROUTER)
        ML_CHECK_ARG(opt->top_k >= 0 && opt->top_k <= E, "gpt mix: top_k %d is not in 0..%d", opt->top_k, E);
    for (int i = 0; i < L * E; i++) {
        ML_CHECK_ARG(experts[i].params != NULL, "gpt mix: expert %d of layer %d has no parameters", i % E, i / E);
        ML_CHECK_ARG(experts[i].block >= 0 && experts[i].block < L,
                     "gpt mix: expert %d of layer %d uses block %d (model has %d)", i % E, i / E,
                     experts[i].block, L);
    }
    if ((error = ml_calloc((void **)&m, 1, sizeof(*m))) < 0) goto cleanup;
    m->base = base;
    m->L = L; m->E = E; m->C = C; m->NH = NH; m->V = V;
    m->kind = opt->kind;
    m->top_k = opt->kind == ML_MIX_ROUTER ? (opt->top_k ? opt->top_k : E) : E;
    m->shared = opt->kind == ML_MIX_ROUTER && opt->shared;
    m->B = B;
    m->T = T;
    int router = m->kind == ML_MIX_ROUTER;
    /* the router layout (FIXED: empty, a zero-length flat vector) */
    if (router)
        for (int l = 0; l < (m->shared ? 1 : L); l++)
            if ((error = ml_router_layout_add(&m->layout, m->shared, l, E, C)) < 0) goto cleanup;
    size_t N = (size_t)B * T, f = sizeof(float), LE = (size_t)L * E;
    size_t nslot = router ? LE : 1;
    struct { void **p; size_t bytes; } bufs[] = {
        { (void **)&m->experts, LE * sizeof(ml_expert) }, { (void **)&m->fixed_w, LE * f },
        { (void **)&m->bp, (size_t)L * B_PER_LAYER * sizeof(float *) },
        { (void **)&m->xp, LE * X_PER_EXPERT * sizeof(float *) },
        { (void **)&m->params, m->layout.total * f }, { (void **)&m->grads, m->layout.total * f },
        { (void **)&m->res, (L + 1) * N * C * f },
        { (void **)&m->ln1, L * N * C * f }, { (void **)&m->ln1_mean, L * N * f }, { (void **)&m->ln1_rstd, L * N * f },
        { (void **)&m->qkv, L * N * 3 * C * f }, { (void **)&m->att, (size_t)L * B * NH * T * T * f },
        { (void **)&m->atty, L * N * C * f }, { (void **)&m->mid, L * N * C * f },
        { (void **)&m->ln2, L * N * C * f }, { (void **)&m->ln2_mean, L * N * f }, { (void **)&m->ln2_rstd, L * N * f },
        { (void **)&m->fch, nslot * N * 4 * C * f }, { (void **)&m->ey, nslot * N * C * f },
        { (void **)&m->gel, N * 4 * C * f },
        { (void **)&m->zlog, L * N * E * f }, { (void **)&m->wts, L * N * E * f },
        { (void **)&m->lnf, N * C * f }, { (void **)&m->lnf_mean, N * f }, { (void **)&m->lnf_rstd, N * f },
        { (void **)&m->logits, N * V * f }, { (void **)&m->probs, N * V * f }, { (void **)&m->losses, N * f },
    };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if ((error = ml_aligned_alloc(bufs[i].p, bufs[i].bytes)) < 0) goto cleanup;
    if (router) {   /* backward scratch: FIXED mixtures have nothing to train */
        struct { float **p; size_t n; } sb[] = {
            { &m->dres, N * C }, { &m->du, N * C }, { &m->dC, N * C }, { &m->dC2, N * C }, { &m->dy, N * C },
            { &m->dh, N * 4 * C }, { &m->dfch, N * 4 * C }, { &m->dqkv, N * 3 * C },
            { &m->datt, (size_t)B * NH * T * T }, { &m->dlogits, N * V },
            { &m->dw, N * E }, { &m->dwsum, N * E }, { &m->dz, N * E },
        };
        for (size_t i = 0; i < sizeof(sb) / sizeof(sb[0]); i++)
            if ((error = ml_aligned_alloc((void **)sb[i].p, sb[i].n * f)) < 0) goto cleanup;
    }
    memcpy(m->experts, experts, LE * sizeof(ml_expert));
    for (size_t i = 0; i < LE; i++) {
        double w = opt->kind == ML_MIX_FIXED && opt->weights ? opt->weights[i] : 1.0 / E;
        m->fixed_w[i] = (float)w;
    }
    /* cache tensor pointers by name, so the mixture does not depend on layout order */
    m->wte = base_tensor(base, "wte");
    m->wpe = base_tensor(base, "wpe");
    m->lnf_w = base_tensor(base, "lnf.w");
    m->lnf_b = base_tensor(base, "lnf.b");
    if (!m->wte || !m->wpe || !m->lnf_w || !m->lnf_b) {
        error = ml_error_set(ML_EINVALID, "gpt mix: base lacks wte, wpe or lnf");
        goto cleanup;
    }
    for (int l = 0; l < L; l++) {
        char name[ML_TENSOR_NAME_MAX];
        for (int k = 0; k < B_PER_LAYER; k++) {
            snprintf(name, sizeof(name), "h.%d.%s", l, base_names[k]);
            if (!(m->bp[l * B_PER_LAYER + k] = base_tensor(base, name))) {
                error = ml_error_set(ML_EINVALID, "gpt mix: base has no tensor %s", name);
                goto cleanup;
            }
        }
        for (int e = 0; e < E; e++) {
            const ml_expert *x = &experts[l * E + e];
            for (int k = 0; k < X_PER_EXPERT; k++) {
                snprintf(name, sizeof(name), "h.%d.%s", x->block, expert_names[k]);
                int ti = ml_layout_find(&base->layout, name);
                if (ti < 0) {
                    error = ml_error_set(ML_EINVALID, "gpt mix: base has no tensor %s", name);
                    goto cleanup;
                }
                m->xp[((size_t)l * E + e) * X_PER_EXPERT + k] = x->params + base->layout.tensors[ti].offset;
            }
        }
    }
    *out = m;
    m = NULL;
cleanup:
    ml_gpt_mix_free(m);
    return error;
}

void ml_gpt_mix_free(ml_gpt_mix *m) {
    if (!m) return;
    void *bufs[] = { m->experts, m->fixed_w, (void *)m->bp, (void *)m->xp, m->params, m->grads, m->res, m->ln1,
                     m->ln1_mean, m->ln1_rstd, m->qkv, m->att, m->atty, m->mid, m->ln2, m->ln2_mean, m->ln2_rstd,
                     m->fch, m->ey, m->gel, m->zlog, m->wts, m->lnf, m->lnf_mean, m->lnf_rstd, m->logits,
                     m->probs, m->losses, m->dres, m->du, m->dC, m->dC2, m->dy, m->dh, m->dfch, m->dqkv,
                     m->datt, m->dlogits, m->dw, m->dwsum, m->dz };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
    ml_layout_free(&m->layout);
    free(m);
}

int ml_gpt_mix_set_weights(ml_gpt_mix *m, const double *w) {
    ML_CHECK_ARG(m->kind == ML_MIX_FIXED, "gpt mix: weights can only be set on a FIXED mixture");
    for (int i = 0; i < m->L * m->E; i++) m->fixed_w[i] = (float)w[i];
    return 0;
}

int ml_gpt_mix_set_alpha(ml_gpt_mix *m, double alpha) {
    ML_CHECK_ARG(m->kind == ML_MIX_FIXED && m->E == 2,
                 "gpt mix: alpha needs a FIXED mixture of 2 experts (have %s, %d experts)",
                 m->kind == ML_MIX_FIXED ? "FIXED" : "ROUTER", m->E);
    for (int l = 0; l < m->L; l++) {
        m->fixed_w[2 * l] = (float)alpha;
        m->fixed_w[2 * l + 1] = (float)(1.0 - alpha);
    }
    return 0;
}

void ml_gpt_mix_zero_grad(ml_gpt_mix *m) {
    if (m->layout.total) memset(m->grads, 0, m->layout.total * sizeof(float));
}

/* ---- row kernels (each row is an output: split over rows) --------------- */

typedef struct {
    float *y;
    const float *x;
    float a;
    int assign;   /* y = a x instead of y += a x */
} axpy_job;

static void axpy_range(void *ctx, long lo, long hi) {
    const axpy_job *j = ctx;
    if (j->assign) for (long i = lo; i < hi; i++) j->y[i] = j->a * j->x[i];
    else for (long i = lo; i < hi; i++) j->y[i] += j->a * j->x[i];
}

/* y = a x (assign) or y += a x, element-wise */
static void axpy(float *y, const float *x, float a, long n, int assign) {
    axpy_job j = { y, x, a, assign };
    ml_par_for(n, 16384, axpy_range, &j);
}

static void add_range(void *ctx, long lo, long hi) {
    const axpy_job *j = ctx;
    for (long i = lo; i < hi; i++) j->y[i] += j->x[i];
}

/* y += x, element-wise (the same sum as gpt.c's residual add) */
static void add_inplace(float *y, const float *x, long n) {
    axpy_job j = { y, x, 1.0f, 0 };
    ml_par_for(n, 16384, add_range, &j);
}

/* ---- forward ------------------------------------------------------------ */

static float mix_forward(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets, int B, int T, int eval_only) {
    int C = m->C, L = m->L, E = m->E, NH = m->NH, V = m->V, N = B * T;
    size_t cap = (size_t)m->B * m->T, attcap = (size_t)m->B * NH * m->T * m->T;
    m->last_B = B;
    m->last_T = T;
    m->had_targets = targets != NULL;
    m->eval_only = eval_only;
    ml_embedding_forward(m->res, tokens, m->wte, m->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float *const *bp = m->bp + (size_t)l * B_PER_LAYER;
        float *in = m->res + l * cap * C, *out = m->res + (l + 1) * cap * C;
        float *ln1 = m->ln1 + l * cap * C, *ln1m = m->ln1_mean + l * cap, *ln1r = m->ln1_rstd + l * cap;
        float *qkv = m->qkv + l * cap * 3 * C, *att = m->att + l * attcap, *atty = m->atty + l * cap * C;
        float *mid = m->mid + l * cap * C;
        float *u = m->ln2 + l * cap * C, *ln2m = m->ln2_mean + l * cap, *ln2r = m->ln2_rstd + l * cap;
        float *wl = m->wts + l * cap * E;
        /* attention half, as ml_gpt_forward */
        ml_layernorm_forward(ln1, ln1m, ln1r, in, bp[B_LN1W], bp[B_LN1B], N, C);
        ml_linear_forward(qkv, ln1, bp[B_QKVW], bp[B_QKVB], N, C, 3 * C);
        ml_attention_forward(atty, att, qkv, B, T, C, NH);
        ml_linear_forward(mid, atty, bp[B_PROJW], bp[B_PROJB], N, C, C);
        add_inplace(mid, in, (long)N * C);
        ml_layernorm_forward(u, ln2m, ln2r, mid, bp[B_LN2W], bp[B_LN2B], N, C);
        if (m->kind == ML_MIX_ROUTER) {
            if (!m->shared || l == 0) {
                float *z = m->zlog + l * cap * E;   /* z = u R^T, wl = topk-softmax(z) (N,E) */
                ml_router_forward(wl, z, u, ml_router_at(&m->layout, m->params, m->shared, l), N, E, C, m->top_k);
            }
            const float *w = m->shared ? m->wts : wl;
            for (int e = 0; e < E; e++) {
                const float *const *xp = m->xp + ((size_t)l * E + e) * X_PER_EXPERT;
                float *fch = m->fch + ((size_t)l * E + e) * cap * 4 * C;
                float *ye = m->ey + ((size_t)l * E + e) * cap * C;
                ml_linear_forward(fch, u, xp[X_FCW], xp[X_FCB], N, C, 4 * C);
                /* the backward needs only GELU's slope there: keep it in place of fch
                 * (the same GELU bits as ml_gelu_forward, which scoring uses); block
                 * 0's experts are never differentiated (see the backward), so no slope */
                if (eval_only || l == 0) ml_gelu_forward(m->gel, fch, (long)N * 4 * C);
                else ml_gelu_forward_slope(m->gel, fch, fch, (long)N * 4 * C);
                ml_linear_forward(ye, m->gel, xp[X_PW], xp[X_PB], N, 4 * C, C);
            }
            /* out = mid + sum_e w_e y_e (N,C) */
            ml_router_combine(out, mid, m->ey + (size_t)l * E * cap * C, cap * C, w, N, E, C);
        } else {
            const float *fw = m->fixed_w + (size_t)l * E;
            int first = 1;
            for (int i = 0; i < N; i++) memcpy(wl + (size_t)i * E, fw, (size_t)E * sizeof(float));
            for (int e = 0; e < E; e++) {
                if (fw[e] == 0.0f) continue;   /* exactly 0: not run (and no 0 * inf) */
                const float *const *xp = m->xp + ((size_t)l * E + e) * X_PER_EXPERT;
                ml_linear_forward(m->fch, u, xp[X_FCW], xp[X_FCB], N, C, 4 * C);
                ml_gelu_forward(m->gel, m->fch, (long)N * 4 * C);
                ml_linear_forward(m->ey, m->gel, xp[X_PW], xp[X_PB], N, 4 * C, C);
                axpy(out, m->ey, fw[e], (long)N * C, first);
                first = 0;
            }
            if (first) memset(out, 0, (size_t)N * C * sizeof(float));
            add_inplace(out, mid, (long)N * C);   /* out = sum + mid: the sum ml_gpt_forward forms */
        }
    }
    float *last = m->res + (size_t)L * cap * C;
    ml_layernorm_forward(m->lnf, m->lnf_mean, m->lnf_rstd, last, m->lnf_w, m->lnf_b,
                         N, C);
    ml_linear_forward(m->logits, m->lnf, m->wte, NULL, N, C, V);
    if (!targets) return 0.0f;
    return ml_softmax_ce_forward(m->probs, m->losses, m->logits, targets, N, V);
}

float ml_gpt_mix_forward(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets, int B, int T) {
    return mix_forward(m, tokens, targets, B, T, 0);
}

float ml_gpt_mix_forward_eval(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets, int B, int T) {
    return mix_forward(m, tokens, targets, B, T, 1);
}

/* ---- backward ----------------------------------------------------------- */

/* d loss / d w of the router reading u (rows g (N,E), weights p (N,E)):
 * dz, then dR += dz^T u and (unless ablated) du += dz R. */
static void router_backward(ml_gpt_mix *m, int l, const float *g, const float *p, const float *u, float *du,
                            int want_du) {
    int N = m->last_B * m->last_T;
    if (!want_du || (m->ablate & ML_MIX_ABLATE_ROUTER_INPUT)) du = NULL;
    ml_router_backward(m->dz, ml_router_at(&m->layout, m->grads, m->shared, l), du,
                       ml_router_at(&m->layout, m->params, m->shared, l), g, p, u, N, m->E, m->C);
}

int ml_gpt_mix_backward(ml_gpt_mix *m, const int32_t *tokens, const int32_t *targets) {
    (void)tokens;
    int B = m->last_B, T = m->last_T, C = m->C, L = m->L, E = m->E, NH = m->NH, V = m->V, N = B * T;
    size_t cap = (size_t)m->B * m->T, attcap = (size_t)m->B * NH * m->T * m->T;
    ML_CHECK_ARG(m->kind == ML_MIX_ROUTER, "gpt mix backward: a FIXED mixture has no parameters to train");
    ML_CHECK_ARG(targets != NULL && m->had_targets, "gpt mix backward: needs the forward's targets");
    ML_CHECK_ARG(!m->eval_only, "gpt mix backward: the last forward was ml_gpt_mix_forward_eval (no slopes kept)");
    /* head: CE -> tied projection -> final LayerNorm, activation gradients only */
    ml_par_zero(m->dlogits, (long)N * V);
    ml_softmax_ce_backward(m->dlogits, m->probs, targets, N, V);
    ml_par_zero(m->dC, (long)N * C);
    ml_gemm_nn(N, C, V, m->dlogits, m->wte, 1.0f, m->dC);   /* dlnf = dlogits wte */
    ml_par_zero(m->dres, (long)N * C);
    ml_layernorm_backward(m->dres, NULL, NULL, m->dC, m->res + (size_t)L * cap * C, m->lnf_w,
                          m->lnf_mean, m->lnf_rstd, N, C);
    if (m->shared) ml_par_zero(m->dwsum, (long)N * E);
    for (int l = L - 1; l >= 0; l--) {
        const float *const *bp = m->bp + (size_t)l * B_PER_LAYER;
        const float *in = m->res + l * cap * C;
        const float *ln1m = m->ln1_mean + l * cap, *ln1r = m->ln1_rstd + l * cap;
        const float *qkv = m->qkv + l * cap * 3 * C, *att = m->att + l * attcap;
        const float *mid = m->mid + l * cap * C;
        const float *u = m->ln2 + l * cap * C, *ln2m = m->ln2_mean + l * cap, *ln2r = m->ln2_rstd + l * cap;
        const float *w = m->wts + (m->shared ? 0 : l * cap * E);
        const float *ey = m->ey + (size_t)l * E * cap * C;
        /* block 0: nothing below needs a gradient (the embeddings are
         * frozen), so only d loss / d w and the router are computed */
        int below = l > 0;
        /* d loss / d w[i,e] = dres[i] . y_e[i] */
        ml_router_dot_rows(m->dw, m->dres, ey, cap * C, N, E, C);
        if (below) {
            /* du = sum_e J_e^T (w_e dres): through each frozen expert */
            ml_par_zero(m->du, (long)N * C);
            for (int e = 0; e < E; e++) {
                const float *const *xp = m->xp + ((size_t)l * E + e) * X_PER_EXPERT;
                const float *fch = m->fch + ((size_t)l * E + e) * cap * 4 * C;
                ml_router_scale_rows(m->dy, m->dres, w, e, N, E, C);            /* dy = w_e dres (N,C) */
                ml_gemm_nn(N, 4 * C, C, m->dy, xp[X_PW], 0.0f, m->dh);        /* dh = dy Wp (N,4C) */
                ml_mul_slope(m->dfch, m->dh, fch, (long)N * 4 * C);           /* fch holds GELU's slope */
                ml_gemm_nn(N, C, 4 * C, m->dfch, xp[X_FCW], 1.0f, m->du);     /* du += dfch Wfc (N,C) */
            }
        }
        if (!m->shared) router_backward(m, l, m->dw, w, u, m->du, below);
        else {
            axpy(m->dwsum, m->dw, 1.0f, (long)N * E, 0);
            if (l == 0) router_backward(m, 0, m->dwsum, w, u, m->du, 0);
        }
        if (!below) break;
        if (m->ablate & ML_MIX_ABLATE_BLOCK_PATHS) continue;
        /* u = ln2(mid): dres (= d/d mid by the residual) += LN2^T du */
        ml_layernorm_backward(m->dres, NULL, NULL, m->du, mid, bp[B_LN2W], ln2m, ln2r, N, C);
        /* attention half: mid = in + proj(attn(qkv(ln1(in)))) */
        ml_par_zero(m->dC, (long)N * C);
        ml_gemm_nn(N, C, C, m->dres, bp[B_PROJW], 1.0f, m->dC);               /* d atty */
        ml_par_zero(m->dqkv, (long)N * 3 * C);
        ml_attention_backward(m->dqkv, m->datt, m->dC, qkv, att, B, T, C, NH);
        ml_par_zero(m->dC2, (long)N * C);
        ml_gemm_nn(N, C, 3 * C, m->dqkv, bp[B_QKVW], 1.0f, m->dC2);           /* d ln1 */
        ml_layernorm_backward(m->dres, NULL, NULL, m->dC2, in, bp[B_LN1W], ln1m, ln1r, N, C);
    }
    return 0;
}

const float *ml_gpt_mix_logits(const ml_gpt_mix *m, int b, int t) {
    return m->logits + ((size_t)b * m->last_T + t) * m->V;
}

const float *ml_gpt_mix_weights(const ml_gpt_mix *m, int l) {
    if (m->shared) l = 0;
    return m->wts + (size_t)l * m->B * m->T * m->E;
}

/* ---- pools and ensembles ------------------------------------------------ */

int ml_mix_pool_multilayer(ml_expert *experts, const float *a, const float *b, int L, int k) {
    ML_CHECK_ARG(L >= 1 && k >= 1 && k <= L, "multi-layer pool: k = %d must be in 1..L = %d", k, L);
    for (int i = 0; i < L; i++) {
        int n = 0;
        for (int s = i; s < L && n < k; s++, n++) {
            experts[(size_t)i * 2 * k + 2 * n] = (ml_expert){ a, s };
            experts[(size_t)i * 2 * k + 2 * n + 1] = (ml_expert){ b, s };
        }
        for (int s = i - 1; n < k; s--, n++) {   /* near the top: i-1, i-2, ... (s >= 0 since k <= L) */
            experts[(size_t)i * 2 * k + 2 * n] = (ml_expert){ a, s };
            experts[(size_t)i * 2 * k + 2 * n + 1] = (ml_expert){ b, s };
        }
    }
    return 0;
}

/* checks w (n) and writes the normalised weights to wn */
static int ensemble_weights(double *wn, const double *w, int n, const char *what) {
    double sum = 0.0;
    ML_CHECK_ARG(n >= 1 && n <= ML_MIX_MAX_EXPERTS, "%s ensemble: %d models (expected 1..%d)", what, n,
                 ML_MIX_MAX_EXPERTS);
    for (int k = 0; k < n; k++) {
        ML_CHECK_ARG(w[k] >= 0.0, "%s ensemble: weight %d is negative (%g)", what, k, w[k]);
        sum += w[k];
    }
    ML_CHECK_ARG(sum > 0.0, "%s ensemble: weights sum to zero", what);
    for (int k = 0; k < n; k++) wn[k] = w[k] / sum;
    return 0;
}

typedef struct {
    float *out;
    const float *const *z;
    const double *w;
    int n, V;
} ens_job;

static void logit_ens_range(void *ctx, long lo, long hi) {
    const ens_job *j = ctx;
    for (long i = lo; i < hi; i++) {
        double acc = 0.0;
        for (int k = 0; k < j->n; k++) acc += j->w[k] * (double)j->z[k][i];
        j->out[i] = (float)acc;
    }
}

int ml_logit_ensemble(float *out, const float *const *logits, const double *w, int n, long count) {
    double wn[ML_MIX_MAX_EXPERTS];
    int error = ensemble_weights(wn, w, n, "logit");
    if (error < 0) return error;
    ens_job j = { out, logits, wn, n, 0 };
    ml_par_for(count, 16384, logit_ens_range, &j);
    return 0;
}

/* out[r,v] = log sum_k w_k exp(z_k[r,v] - lse_k[r]), as a log-sum-exp over k */
static void prob_ens_rows(void *ctx, long lo, long hi) {
    const ens_job *j = ctx;
    int V = j->V, n = j->n;
    for (long r = lo; r < hi; r++) {
        double lse[ML_MIX_MAX_EXPERTS], lw[ML_MIX_MAX_EXPERTS];
        for (int k = 0; k < n; k++) {
            const float *z = j->z[k] + (size_t)r * V;
            double mx = z[0], s = 0.0;
            for (int v = 1; v < V; v++) if (z[v] > mx) mx = z[v];
            for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
            lse[k] = mx + log(s);
            lw[k] = j->w[k] > 0.0 ? log(j->w[k]) : -INFINITY;
        }
        for (int v = 0; v < V; v++) {
            double t[ML_MIX_MAX_EXPERTS], mx = -INFINITY, s = 0.0;
            for (int k = 0; k < n; k++) {
                t[k] = j->w[k] > 0.0 ? lw[k] + (double)j->z[k][(size_t)r * V + v] - lse[k] : -INFINITY;
                if (t[k] > mx) mx = t[k];
            }
            for (int k = 0; k < n; k++) if (j->w[k] > 0.0) s += exp(t[k] - mx);
            j->out[(size_t)r * V + v] = (float)(mx + log(s));
        }
    }
}

int ml_prob_ensemble(float *out, const float *const *logits, const double *w, int n, long rows, int V) {
    double wn[ML_MIX_MAX_EXPERTS];
    int error = ensemble_weights(wn, w, n, "probability");
    if (error < 0) return error;
    ML_CHECK_ARG(V >= 1, "probability ensemble: V = %d", V);
    ens_job j = { out, logits, wn, n, V };
    ml_par_for(rows, 16, prob_ens_rows, &j);
    return 0;
}
