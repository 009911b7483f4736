/*
 * kernels/mlp_mix.c: the routed mixture MLP (expert layers mixed per
 * example on a shared stream) and its backward to the routers.
 * Expert layers run with the same kernels as ml_mlp_forward (linear, then
 * ReLU/GELU on hidden layers). Every buffer is allocated once in
 * ml_mlp_mix_new. Backward computes activation gradients only: frozen
 * linears get NULL dW/db, so no weight-gradient product is ever run; only
 * the router's dR = dz^T h.
 * The router math (top-k softmax, its backward, the per-row mixing of
 * expert outputs) is kernels/router.c's, shared with kernels/gpt_mix.c;
 * accuracy counting is ml_mlp_count_correct (kernels/mlp.c).
 */
#include "kernels/mlp_mix.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"
#include "kernels/router.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static int layer_in(const ml_mlp_config *c, int l) { return l == 0 ? c->in_dim : c->hidden[l - 1]; }
static int layer_out(const ml_mlp_config *c, int l) { return l == c->n_hidden ? c->out_dim : c->hidden[l]; }

/* offset of fc<j+1>.weight in the MLP layout of c (tensors are contiguous,
 * weight then bias per layer, as ml_mlp_new adds them) */
static size_t weight_offset(const ml_mlp_config *c, int j) {
    size_t off = 0;
    for (int i = 0; i < j; i++) off += (size_t)layer_out(c, i) * layer_in(c, i) + (size_t)layer_out(c, i);
    return off;
}

_Static_assert(ML_MLP_MIX_MAX_EXPERTS <= ML_ROUTER_MAX_EXPERTS, "mlp mix: more experts than kernels/router.c keeps");

int ml_mlp_mix_new(ml_mlp_mix **out, const ml_mlp_config *cfg, const ml_mlp_expert *experts, int E, int top_k,
                   int shared, int max_batch) {
    ml_mlp_mix *m = NULL;
    int error = 0;
    *out = NULL;
    ML_CHECK_ARG(cfg != NULL && experts != NULL, "mlp mix: config and experts are required");
    ML_CHECK_ARG(cfg->in_dim > 0, "mlp mix: in_dim must be > 0, got %d", cfg->in_dim);
    ML_CHECK_ARG(cfg->n_hidden >= 1 && cfg->n_hidden <= ML_MLP_MAX_HIDDEN,
                 "mlp mix: hidden layers must be 1..%d, got %d", ML_MLP_MAX_HIDDEN, cfg->n_hidden);
    ML_CHECK_ARG(cfg->out_dim >= 2 && cfg->out_dim <= 256, "mlp mix: out_dim must be 2..256, got %d",
                 cfg->out_dim);
    for (int l = 0; l < cfg->n_hidden; l++)
        ML_CHECK_ARG(cfg->hidden[l] > 0, "mlp mix: hidden[%d] must be > 0, got %d", l, cfg->hidden[l]);
    ML_CHECK_ARG(cfg->act == ML_ACT_RELU || cfg->act == ML_ACT_GELU, "mlp mix: unknown activation %d",
                 (int)cfg->act);
    ML_CHECK_ARG(E >= 1 && E <= ML_MLP_MIX_MAX_EXPERTS, "mlp mix: %d experts per layer (expected 1..%d)", E,
                 ML_MLP_MIX_MAX_EXPERTS);
    ML_CHECK_ARG(top_k >= 0 && top_k <= E, "mlp mix: top_k %d is not in 0..%d", top_k, E);
    ML_CHECK_ARG(max_batch > 0, "mlp mix: max_batch must be > 0, got %d", max_batch);
    int nl = cfg->n_hidden + 1;
    for (int i = 0; i < nl * E; i++) {
        int l = i / E, e = i % E, j = experts[i].layer;
        ML_CHECK_ARG(experts[i].params != NULL, "mlp mix: expert %d of layer %d has no parameters", e, l);
        ML_CHECK_ARG(j >= 0 && j < nl, "mlp mix: expert %d of layer %d uses layer %d (model has %d)", e, l, j, nl);
        ML_CHECK_ARG(layer_out(cfg, j) == layer_out(cfg, l) && layer_in(cfg, j) == layer_in(cfg, l),
                     "mlp mix: expert %d of layer %d: source layer %d is (%d,%d), layer %d is (%d,%d)", e, l, j,
                     layer_out(cfg, j), layer_in(cfg, j), l, layer_out(cfg, l), layer_in(cfg, l));
    }
    if ((error = ml_calloc((void **)&m, 1, sizeof(*m))) < 0) goto cleanup;
    m->cfg = *cfg;
    m->nl = nl;
    m->E = E;
    m->top_k = top_k ? top_k : E;
    m->shared = shared != 0;
    m->max_batch = max_batch;
    int maxw = cfg->in_dim;
    for (int l = 0; l < nl; l++) {
        m->in_w[l] = layer_in(cfg, l);
        m->out_w[l] = layer_out(cfg, l);
        if (m->out_w[l] > maxw) maxw = m->out_w[l];
    }
    for (int l = 0; l < (m->shared ? 1 : nl); l++)
        if ((error = ml_router_layout_add(&m->layout, m->shared, l, E, m->in_w[l])) < 0) goto cleanup;
    size_t N = (size_t)max_batch, f = sizeof(float), LE = (size_t)nl * E;
    struct { void **p; size_t bytes; } bufs[] = {
        { (void **)&m->experts, LE * sizeof(ml_mlp_expert) }, { (void **)&m->xp, LE * 2 * sizeof(float *) },
        { (void **)&m->params, m->layout.total * f }, { (void **)&m->grads, m->layout.total * f },
        { (void **)&m->zlog, LE * N * f }, { (void **)&m->wts, LE * N * f },
        { (void **)&m->probs, N * cfg->out_dim * f }, { (void **)&m->losses, N * f },
        { (void **)&m->dA, N * maxw * f }, { (void **)&m->dB, N * maxw * f },
        { (void **)&m->dy, N * maxw * f }, { (void **)&m->dpre, N * maxw * f },
        { (void **)&m->dw, N * E * f }, { (void **)&m->dwsum, N * E * f }, { (void **)&m->dz, N * E * f },
    };
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        if ((error = ml_aligned_alloc(bufs[i].p, bufs[i].bytes)) < 0) goto cleanup;
    for (int l = 0; l < nl; l++) {
        size_t sz = N * m->out_w[l] * f;
        if ((error = ml_aligned_alloc((void **)&m->ey[l], E * sz)) < 0 ||
            (error = ml_aligned_alloc((void **)&m->hs[l], sz)) < 0)
            goto cleanup;
        if (l < nl - 1 && (error = ml_aligned_alloc((void **)&m->pre[l], E * sz)) < 0) goto cleanup;
    }
    m->logits = m->hs[nl - 1];
    memcpy(m->experts, experts, LE * sizeof(ml_mlp_expert));
    for (size_t i = 0; i < LE; i++) {
        size_t off = weight_offset(cfg, experts[i].layer);
        int j = experts[i].layer;
        m->xp[2 * i] = experts[i].params + off;
        m->xp[2 * i + 1] = experts[i].params + off + (size_t)layer_out(cfg, j) * layer_in(cfg, j);
    }
    memset(m->params, 0, m->layout.total * f);
    memset(m->grads, 0, m->layout.total * f);
    *out = m;
    m = NULL;
cleanup:
    ml_mlp_mix_free(m);
    return error;
}

void ml_mlp_mix_free(ml_mlp_mix *m) {
    if (!m) return;
    ml_layout_free(&m->layout);
    free(m->experts);
    free(m->xp);
    free(m->params);
    free(m->grads);
    for (int l = 0; l < ML_MLP_MIX_MAX_LAYERS; l++) {
        free(m->pre[l]);
        free(m->ey[l]);
        free(m->hs[l]);
    }
    free(m->zlog);
    free(m->wts);
    free(m->probs);
    free(m->losses);
    free(m->dA);
    free(m->dB);
    free(m->dy);
    free(m->dpre);
    free(m->dw);
    free(m->dwsum);
    free(m->dz);
    free(m);
}

void ml_mlp_mix_zero_grad(ml_mlp_mix *m) { memset(m->grads, 0, m->layout.total * sizeof(float)); }

/* ---- forward ------------------------------------------------------------ */

float ml_mlp_mix_forward(ml_mlp_mix *m, const float *x, const int32_t *targets, int N) {
    int E = m->E, nl = m->nl;
    size_t cap = (size_t)m->max_batch;
    const float *in = x;
    m->last_n = N;
    m->had_targets = targets != NULL;
    for (int l = 0; l < nl; l++) {
        int I = m->in_w[l], O = m->out_w[l];
        float *wl = m->wts + (size_t)l * cap * E;
        if (!m->shared || l == 0) {
            float *z = m->zlog + (size_t)l * cap * E;   /* z = h R^T, wl = topk-softmax(z) (N,E) */
            ml_router_forward(wl, z, in, ml_router_at(&m->layout, m->params, m->shared, l), N, E, I, m->top_k);
        }
        const float *w = m->shared ? m->wts : wl;
        for (int e = 0; e < E; e++) {
            const float *const *xp = m->xp + ((size_t)l * E + e) * 2;
            float *ye = m->ey[l] + (size_t)e * cap * O;
            if (l < nl - 1) {
                float *pe = m->pre[l] + (size_t)e * cap * O;
                ml_linear_forward(pe, in, xp[0], xp[1], N, I, O);
                if (m->cfg.act == ML_ACT_GELU) ml_gelu_forward(ye, pe, (long)N * O);
                else ml_relu_forward(ye, pe, (long)N * O);
            } else {
                ml_linear_forward(ye, in, xp[0], xp[1], N, I, O);
            }
        }
        ml_router_combine(m->hs[l], NULL, m->ey[l], cap * O, w, N, E, O);   /* h_{l+1} = sum_e w_e y_e */
        in = m->hs[l];
    }
    if (!targets) return 0.0f;
    return ml_softmax_ce_forward(m->probs, m->losses, m->logits, targets, N, m->cfg.out_dim);
}

/* ---- backward ----------------------------------------------------------- */

/* d loss / d w of the router of layer l reading h (N,I) (rows g (N,E),
 * weights p (N,E)): dz, then dR += dz^T h and (when wanted, unless ablated)
 * dh += dz R. */
static void router_backward(ml_mlp_mix *m, int l, const float *g, const float *p, const float *h, float *dh,
                            int want_dh) {
    int I = m->in_w[m->shared ? 0 : l];
    if (!want_dh || (m->ablate & ML_MLP_MIX_ABLATE_ROUTER_INPUT)) dh = NULL;
    ml_router_backward(m->dz, ml_router_at(&m->layout, m->grads, m->shared, l), dh,
                       ml_router_at(&m->layout, m->params, m->shared, l), g, p, h, m->last_n, m->E, I);
}

int ml_mlp_mix_backward(ml_mlp_mix *m, const float *x, const int32_t *targets) {
    int N = m->last_n, E = m->E, nl = m->nl, V = m->cfg.out_dim;
    size_t cap = (size_t)m->max_batch;
    ML_CHECK_ARG(targets != NULL && m->had_targets, "mlp mix backward: needs the forward's targets");
    ML_CHECK_ARG(x != NULL, "mlp mix backward: needs the forward's x");
    float *dout = m->dA, *din = m->dB;   /* d loss / d h_{l+1}, d loss / d h_l */
    ml_par_zero(dout, (long)N * V);
    ml_softmax_ce_backward(dout, m->probs, targets, N, V);
    if (m->shared) ml_par_zero(m->dwsum, (long)N * E);
    for (int l = nl - 1; l >= 0; l--) {
        int I = m->in_w[l], O = m->out_w[l];
        const float *in = l == 0 ? x : m->hs[l - 1];
        const float *w = m->wts + (m->shared ? 0 : (size_t)l * cap * E);
        int below = l > 0;   /* layer 0's input x needs no gradient */
        /* d loss / d w[i,e] = dout[i] . y_e[i] */
        ml_router_dot_rows(m->dw, dout, m->ey[l], cap * O, N, E, O);
        if (below) {
            /* din = sum_e J_e^T (w_e dout): through each frozen expert */
            ml_par_zero(din, (long)N * I);
            if (!(m->ablate & ML_MLP_MIX_ABLATE_EXPERT_PATHS)) {
                for (int e = 0; e < E; e++) {
                    const float *const *xp = m->xp + ((size_t)l * E + e) * 2;
                    ml_router_scale_rows(m->dy, dout, w, e, N, E, O);   /* dy = w_e dout (N,O) */
                    const float *dp = m->dy;
                    if (l < nl - 1) {
                        const float *pe = m->pre[l] + (size_t)e * cap * O;
                        ml_par_zero(m->dpre, (long)N * O);
                        if (m->cfg.act == ML_ACT_GELU) ml_gelu_backward(m->dpre, m->dy, pe, (long)N * O);
                        else ml_relu_backward(m->dpre, m->dy, pe, (long)N * O);
                        dp = m->dpre;
                    }
                    ml_linear_backward(din, NULL, NULL, dp, in, xp[0], N, I, O);   /* din += dp W */
                }
            }
        }
        if (!m->shared) router_backward(m, l, m->dw, w, in, din, below);
        else {
            for (long i = 0; i < (long)N * E; i++) m->dwsum[i] += m->dw[i];
            if (l == 0) router_backward(m, 0, m->dwsum, w, in, NULL, 0);
        }
        if (!below) break;
        float *t = dout;
        dout = din;
        din = t;
    }
    return 0;
}

/* ---- evaluation, weights, pools ----------------------------------------- */

void ml_mlp_mix_evaluate(ml_mlp_mix *m, const float *x, const int32_t *y, int n, double *acc, double *loss) {
    long correct = 0;
    double total = 0.0;
    for (int s = 0; s < n; s += m->max_batch) {
        int B = n - s < m->max_batch ? n - s : m->max_batch;
        total += (double)ml_mlp_mix_forward(m, x + (long)s * m->cfg.in_dim, y + s, B) * B;
        correct += ml_mlp_count_correct(m->probs, y + s, B, m->cfg.out_dim);
    }
    *acc = n ? (double)correct / n : 0.0;
    *loss = n ? total / n : 0.0;
}

const float *ml_mlp_mix_weights(const ml_mlp_mix *m, int l) {
    if (m->shared) l = 0;
    return m->wts + (size_t)l * m->max_batch * m->E;
}

int ml_mlp_mix_pool_single_layer(ml_mlp_expert *experts, int nl, const float *const *specialists, int K,
                                 const float *base) {
    int E = K + (base != NULL);
    ML_CHECK_ARG(nl >= 1 && nl <= ML_MLP_MIX_MAX_LAYERS, "mlp mix pool: %d layers (expected 1..%d)", nl,
                 ML_MLP_MIX_MAX_LAYERS);
    ML_CHECK_ARG(K >= 0 && E >= 1 && E <= ML_MLP_MIX_MAX_EXPERTS, "mlp mix pool: %d experts (expected 1..%d)", E,
                 ML_MLP_MIX_MAX_EXPERTS);
    for (int k = 0; k < K; k++)
        ML_CHECK_ARG(specialists[k] != NULL, "mlp mix pool: specialist %d has no parameters", k);
    for (int l = 0; l < nl; l++) {
        for (int k = 0; k < K; k++) experts[(size_t)l * E + k] = (ml_mlp_expert){ specialists[k], l };
        if (base) experts[(size_t)l * E + K] = (ml_mlp_expert){ base, l };
    }
    return E;
}
