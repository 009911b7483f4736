/*
 * tests/test_gpt_mix.c: the mixture GPT (activation interpolation, single-
 * and multi-layer routers, the shared router), the multi-layer pool table
 * and the output-space ensembles.
 * Owns: the ml_tests_gpt_mix table.
 * Not here: the GPT itself (tests/test_gpt.c), weight-space merges.
 * Ground truth comes from three places: the specialists' own ml_gpt_forward
 * (bit for bit where the mixture must BE that model), a layer-by-layer
 * reference that recovers each expert's MLP output from a specialist
 * forward with the mixture's residual injected at that layer, and central
 * differences of the float forward (loss summed in double) for the router
 * gradients. Every numeric comparison goes through ml_t_close_enough(), and each
 * gradient check has negative twins (flipped sign, missing paths) that must
 * be rejected by the same checker at the same tolerances.
 * Models: tiny GPTs (V 11, C 8, 2 heads, T 8) with every tensor redrawn to
 * O(0.1..1) values, specialists = the base with only h.*.mlp.* perturbed.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/gpt.h"
#include "kernels/gpt_mix.h"
#include "kernels/layers.h"
#include "kernels/params.h"
#include "kernels/rng.h"
#include "kernels/router.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GM_SEED 90210517u

#ifdef GM_VERBOSE
#define GM_NOTE(...) (fprintf(stderr, "    note: " __VA_ARGS__), fputc('\n', stderr))
#else
#define GM_NOTE(...) ((void)0)
#endif

/* ---- shared helpers ----------------------------------------------------- */

/* The checker ml_t_close_enough(), ml_t_max_abs(), the seeded fills (seed
 * GM_SEED here) and ml_t_central_diff() live in tests/util.c. */

static const ml_gpt_config cfg2 = { .vocab_size = 11, .max_T = 8, .n_layer = 2, .n_head = 2, .n_embd = 8 };
static const ml_gpt_config cfg3 = { .vocab_size = 11, .max_T = 8, .n_layer = 3, .n_head = 2, .n_embd = 8 };
#define MB 2
#define MT 8
#define MN (MB * MT)
#define MV 11
#define MC 8

/* GPT-2 init leaves tiny weights; every tensor is redrawn instead:
 * matrices U[-0.4,0.4], LN weights U[0.7,1.3], the rest U[-0.2,0.2]. */
static void params_spread(ml_gpt *m, uint64_t stream) {
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        float *p = m->params + ti->offset;
        size_t n = strlen(ti->name);
        uint64_t s = stream + (uint64_t)k;
        if (ti->ndim == 2) ml_t_fill_uniform(p, (long)ti->numel, GM_SEED, s, -0.4f, 0.4f);
        else if (n >= 2 && !strcmp(ti->name + n - 2, ".w")) ml_t_fill_uniform(p, (long)ti->numel, GM_SEED, s, 0.7f, 1.3f);
        else ml_t_fill_uniform(p, (long)ti->numel, GM_SEED, s, -0.2f, 0.2f);
    }
}

static ml_gpt *base_make(const ml_gpt_config *cfg, uint64_t stream) {
    ml_gpt *m = NULL;
    if (ml_gpt_new(&m, cfg, MB, MT) < 0) return NULL;
    params_spread(m, stream);
    return m;
}

/* the base with ONLY h.*.mlp.* moved by U[-amp, amp] */
static ml_gpt *specialist_make(const ml_gpt *base, uint64_t stream, float amp) {
    ml_gpt *m = NULL;
    if (ml_gpt_new(&m, &base->cfg, MB, MT) < 0) return NULL;
    memcpy(m->params, base->params, base->layout.total * sizeof(float));
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        if (!strstr(ti->name, ".mlp.")) continue;
        for (size_t i = 0; i < ti->numel; i++)
            m->params[ti->offset + i] += amp * (2.0f * ml_rng_uniform(GM_SEED, stream + (uint64_t)k, i) - 1.0f);
    }
    return m;
}

/* base, specialists a and b */
typedef struct {
    ml_gpt *base, *a, *b;
    int32_t tokens[MN], targets[MN];
} trio;

static int trio_new(trio *t, const ml_gpt_config *cfg) {
    t->base = base_make(cfg, 500);
    t->a = t->base ? specialist_make(t->base, 600, 0.3f) : NULL;
    t->b = t->base ? specialist_make(t->base, 700, 0.3f) : NULL;
    ml_t_fill_tokens(t->tokens, MN, MV, GM_SEED, 510);
    ml_t_fill_tokens(t->targets, MN, MV, GM_SEED, 511);
    t->targets[3] = ML_IGNORE;
    return t->base && t->a && t->b ? 0 : -1;
}

static void trio_free(trio *t) {
    ml_gpt_free(t->base);
    ml_gpt_free(t->a);
    ml_gpt_free(t->b);
}

/* experts (L, E) = for every layer l: (params[e], block l) */
static void per_layer_experts(ml_expert *x, int L, int E, const float *const *params) {
    for (int l = 0; l < L; l++)
        for (int e = 0; e < E; e++) x[l * E + e] = (ml_expert){ params[e], l };
}

/* ---- interpolation ------------------------------------------------------ */

/* alpha = 1 is specialist A and alpha = 0 specialist B, bit for bit
 * (logits and loss), at full size and at a shorter (B,T); 0.5 is neither. */
static void test_gpt_mix__interp_endpoints_are_specialists_bitwise(void) {
    trio t;
    ml_gpt_mix *m = NULL;
    ml_expert x[2 * 2];
    static float la[MN * MV], lb[MN * MV];
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[2] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL };
    ml_mix_options opt = { ML_MIX_FIXED, NULL, 0, 0 };
    if (ok) {
        per_layer_experts(x, 2, 2, ps);
        ok = ml_gpt_mix_new(&m, t.base, x, 2, &opt, MB, MT) == 0;
    }
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
    int same_a = 0, same_b = 0, loss_a = 0, loss_b = 0, short_ok = 1;
    double d_a = 0, d_b = 0;
    float fa = ml_gpt_forward(t.a, t.tokens, t.targets, MB, MT, -1, NULL);
    memcpy(la, t.a->logits, sizeof(la));
    float fb = ml_gpt_forward(t.b, t.tokens, t.targets, MB, MT, -1, NULL);
    memcpy(lb, t.b->logits, sizeof(lb));
    ml_gpt_mix_set_alpha(m, 1.0);
    float f1 = ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
    same_a = memcmp(m->logits, la, sizeof(la)) == 0;
    loss_a = memcmp(&f1, &fa, sizeof(float)) == 0;
    ml_gpt_mix_set_alpha(m, 0.0);
    float f0 = ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
    same_b = memcmp(m->logits, lb, sizeof(lb)) == 0;
    loss_b = memcmp(&f0, &fb, sizeof(float)) == 0;
    ml_gpt_mix_set_alpha(m, 0.5);
    ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
    ml_t_close_enough(m->logits, la, MN * MV, 0, 0, &d_a);
    ml_t_close_enough(m->logits, lb, MN * MV, 0, 0, &d_b);
    /* a shorter batch uses a prefix of the buffers, like ml_gpt_forward */
    ml_gpt_mix_set_alpha(m, 1.0);
    ml_gpt_forward(t.a, t.tokens, NULL, 1, 5, -1, NULL);
    ml_gpt_mix_forward(m, t.tokens, NULL, 1, 5);
    for (int p = 0; p < 5; p++)
        short_ok &= memcmp(ml_gpt_mix_logits(m, 0, p), ml_gpt_logits(t.a, 0, p), MV * sizeof(float)) == 0;
    GM_NOTE("alpha 0.5 vs A %.3g, vs B %.3g", d_a, d_b);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(same_a && loss_a, "alpha = 1 is not specialist A bit for bit (logits %d, loss %d)", same_a, loss_a);
    ML_ASSERT_MSG(same_b && loss_b, "alpha = 0 is not specialist B bit for bit (logits %d, loss %d)", same_b, loss_b);
    ML_ASSERT_MSG(d_a > 1e-3 && d_b > 1e-3, "alpha = 0.5 is too close to an endpoint (A %.3g, B %.3g)", d_a, d_b);
    ML_ASSERT_MSG(short_ok, "a (1,5) forward at alpha = 1 differs from specialist A's");
}

/* Two identical experts (the base's own MLPs) with w = (0.3, 0.7) are the
 * plain base up to float rounding of 0.3 y + 0.7 y. */
static void test_gpt_mix__identical_experts_on_simplex_are_plain_model(void) {
    trio t;
    ml_gpt_mix *m = NULL;
    ml_expert x[2 * 2];
    static float lp[MN * MV];
    double w[4] = { 0.3, 0.7, 0.3, 0.7 }, md = 0;
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[2] = { ok ? t.base->params : NULL, ok ? t.base->params : NULL };
    ml_mix_options opt = { ML_MIX_FIXED, w, 0, 0 };
    if (ok) {
        per_layer_experts(x, 2, 2, ps);
        ok = ml_gpt_mix_new(&m, t.base, x, 2, &opt, MB, MT) == 0;
    }
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
    ml_gpt_forward(t.base, t.tokens, NULL, MB, MT, -1, NULL);
    memcpy(lp, t.base->logits, sizeof(lp));
    ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
    ok = ml_t_close_enough(m->logits, lp, MN * MV, 1e-5, 1e-5, &md);
    GM_NOTE("identical experts vs plain: max diff %.3g", md);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(ok, "identical experts at (0.3, 0.7) vs the plain model: max diff %.3g", md);
}

/* ---- layer-by-layer reference ------------------------------------------- */

/* The model whose block-l MLP is expert (params, l): one of the trio. */
static ml_gpt *model_of(const trio *t, const float *params) {
    if (params == t->base->params) return t->base;
    if (params == t->a->params) return t->a;
    if (params == t->b->params) return t->b;
    return NULL;
}

/* Checks the last forward of m (every expert at layer l from block l of a
 * trio model) layer by layer. With the mixture's residual entering block l
 * injected into that model, its mid_l and u_l must equal the mixture's bit
 * for bit (same attention, same LayerNorm); y_e = res_{l+1} - mid_l is the
 * expert's output (to float rounding). Then:
 *   weights: ROUTER -> topk-softmax(u R^T) in double (shared: layer 0's),
 *            FIXED -> the given row;
 *   out = mid + sum_e w_e y_e.
 * Finally the mixture's last residual injected into the base gives its
 * logits bit for bit. Returns 1 when all hold; *why says what failed. */
static int layerwise_reference_check(ml_gpt_mix *m, const trio *t, const double *fixed_w, double *md_w,
                                     double *md_out, const char **why) {
    static float y[ML_MIX_MAX_EXPERTS][MN * MC], want[MN * MC], wref[MN * ML_MIX_MAX_EXPERTS];
    int L = m->L, E = m->E, C = m->C, N = m->last_B * m->last_T;
    size_t cap = (size_t)m->B * m->T;
    *md_w = *md_out = 0.0;
    for (int l = 0; l < L; l++) {
        const float *in = m->res + l * cap * C, *mid = m->mid + l * cap * C, *u = m->ln2 + l * cap * C;
        for (int e = 0; e < E; e++) {
            const ml_expert *x = &m->experts[l * E + e];
            ml_gpt *g = model_of(t, x->params);
            if (!g || x->block != l) { *why = "reference needs expert (trio model, block l)"; return 0; }
            ml_gpt_forward(g, t->tokens, NULL, m->last_B, m->last_T, l, in);
            const float *gm = g->mid + l * cap * C, *gu = g->ln2 + l * cap * C;
            const float *gout = g->res + (l + 1) * cap * C;
            if (memcmp(gm, mid, (size_t)N * C * sizeof(float)) || memcmp(gu, u, (size_t)N * C * sizeof(float))) {
                *why = "mid or u differ from the injected specialist's";
                return 0;
            }
            for (int i = 0; i < N * C; i++) y[e][i] = gout[i] - gm[i];
        }
        /* reference weights */
        for (int i = 0; i < N; i++) {
            double row[ML_MIX_MAX_EXPERTS];
            if (m->kind == ML_MIX_FIXED) {
                for (int e = 0; e < E; e++) row[e] = fixed_w[l * E + e];
            } else {
                int rl = m->shared ? 0 : l;
                const float *R = m->params + m->layout.tensors[rl].offset;
                const float *ur = m->ln2 + rl * cap * C + (size_t)i * C;
                double z[ML_MIX_MAX_EXPERTS], mx = -INFINITY, s = 0;
                int keep[ML_MIX_MAX_EXPERTS] = { 0 };
                for (int e = 0; e < E; e++) {
                    z[e] = 0;
                    for (int c = 0; c < C; c++) z[e] += (double)ur[c] * R[e * C + c];
                }
                for (int r = 0; r < m->top_k; r++) {   /* k largest, lowest index on ties */
                    int best = -1;
                    for (int e = 0; e < E; e++) if (!keep[e] && (best < 0 || z[e] > z[best])) best = e;
                    keep[best] = 1;
                }
                for (int e = 0; e < E; e++) if (keep[e]) mx = fmax(mx, z[e]);
                for (int e = 0; e < E; e++) if (keep[e]) s += exp(z[e] - mx);
                for (int e = 0; e < E; e++) row[e] = keep[e] ? exp(z[e] - mx) / s : 0.0;
            }
            for (int e = 0; e < E; e++) wref[i * E + e] = (float)row[e];
        }
        double d = 0;
        if (!ml_t_close_enough(ml_gpt_mix_weights(m, l), wref, (long)N * E, 1e-6, 1e-5, &d)) {
            *md_w = d;
            *why = "mixing weights differ from topk-softmax(u R^T)";
            return 0;
        }
        *md_w = fmax(*md_w, d);
        const float *w = ml_gpt_mix_weights(m, l);
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                double s = mid[(size_t)i * C + c];
                for (int e = 0; e < E; e++) s += (double)w[i * E + e] * y[e][i * C + c];
                want[i * C + c] = (float)s;
            }
        if (!ml_t_close_enough(m->res + (l + 1) * cap * C, want, (long)N * C, 1e-5, 1e-5, &d)) {
            *md_out = d;
            *why = "block output differs from mid + sum_e w_e y_e";
            return 0;
        }
        *md_out = fmax(*md_out, d);
    }
    ml_gpt_forward(t->base, t->tokens, NULL, m->last_B, m->last_T, L, m->res + (size_t)L * cap * C);
    if (memcmp(t->base->logits, m->logits, (size_t)N * m->V * sizeof(float))) {
        *why = "head on the last residual differs from the base's";
        return 0;
    }
    return 1;
}

/* FIXED weights off the endpoints, three experts on the simplex (A, B, base)
 * with per-layer weights, against the layer-by-layer reference. */
static void test_gpt_mix__fixed_simplex_matches_layerwise_reference(void) {
    trio t;
    ml_gpt_mix *m = NULL;
    ml_expert x[2 * 3];
    double w[6] = { 0.2, 0.5, 0.3, 0.6, 0.1, 0.3 }, mdw = 0, mdo = 0;
    const char *why = "";
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    ml_mix_options opt = { ML_MIX_FIXED, w, 0, 0 };
    if (ok) {
        per_layer_experts(x, 2, 3, ps);
        ok = ml_gpt_mix_new(&m, t.base, x, 3, &opt, MB, MT) == 0;
    }
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
    ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
    ok = layerwise_reference_check(m, &t, w, &mdw, &mdo, &why);
    GM_NOTE("fixed simplex: weights %.3g, block outputs %.3g", mdw, mdo);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(ok, "%s (max diff weights %.3g, outputs %.3g)", why, mdw, mdo);
}

/* The reference check rejects a mixture whose weights are not the ones it
 * is told (the same checker, a wrong expectation). */
static void test_gpt_mix__layerwise_reference_rejects_wrong_weights(void) {
    trio t;
    ml_gpt_mix *m = NULL;
    ml_expert x[2 * 3];
    double w[6] = { 0.2, 0.5, 0.3, 0.6, 0.1, 0.3 }, told[6] = { 0.2, 0.5, 0.3, 0.6, 0.3, 0.1 }, mdw = 0, mdo = 0;
    const char *why = "";
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    ml_mix_options opt = { ML_MIX_FIXED, w, 0, 0 };
    if (ok) {
        per_layer_experts(x, 2, 3, ps);
        ok = ml_gpt_mix_new(&m, t.base, x, 3, &opt, MB, MT) == 0;
    }
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
    ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
    ok = layerwise_reference_check(m, &t, told, &mdw, &mdo, &why);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(!ok, "swapped weights at layer 1 passed the layer-by-layer reference");
}

/* ---- routers: forward --------------------------------------------------- */

static ml_gpt_mix *router_make(const trio *t, const ml_expert *x, int E, int top_k, int shared) {
    ml_gpt_mix *m = NULL;
    ml_mix_options opt = { ML_MIX_ROUTER, NULL, top_k, shared };
    return ml_gpt_mix_new(&m, t->base, x, E, &opt, MB, MT) == 0 ? m : NULL;
}

/* A fresh router is zero, so every weight is exactly 1/E; the layout is
 * "router.<l>" (E,C) per layer, or one "router" when shared. */
static void test_gpt_mix__router_zero_init_is_uniform(void) {
    trio t;
    ml_expert x[2 * 3];
    int ok = trio_new(&t, &cfg2) == 0, uniform = 1, names = 1, zero = 1;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    for (int shared = 0; shared < 2; shared++) {
        ml_gpt_mix *m = router_make(&t, x, 3, 0, shared);
        if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "ml_gpt_mix_new: %s", ml_error_last()->message); }
        for (size_t i = 0; i < m->layout.total; i++) zero &= m->params[i] == 0.0f;
        if (shared) names &= m->layout.n == 1 && !strcmp(m->layout.tensors[0].name, "router");
        else names &= m->layout.n == 2 && !strcmp(m->layout.tensors[0].name, "router.0") &&
                      !strcmp(m->layout.tensors[1].name, "router.1");
        names &= m->layout.tensors[0].shape[0] == 3 && m->layout.tensors[0].shape[1] == MC &&
                 m->layout.total == (size_t)(shared ? 1 : 2) * 3 * MC;
        ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
        for (int l = 0; l < 2; l++) {
            const float *w = ml_gpt_mix_weights(m, l);
            for (int i = 0; i < MN * 3; i++) uniform &= w[i] == (float)(1.0 / 3.0);
        }
        ml_gpt_mix_free(m);
    }
    trio_free(&t);
    ML_ASSERT_MSG(zero, "router parameters do not start at zero");
    ML_ASSERT_MSG(names, "router layout names or shapes are wrong");
    ML_ASSERT_MSG(uniform, "a zero router does not weight every expert exactly 1/E");
}

/* "init": "kaiming": every router tensor (E, I) uniform in [-1/sqrt(I), 1/sqrt(I)] as a
 * bias-free nn.Linear starts, the same numbers on every call, different per tensor and per
 * stream, and spread over the range (a zeroed or constant fill fails each check). */
static void test_gpt_mix__router_kaiming_init(void) {
    ml_layout lay = { 0 };
    enum { E = 6, I = 48 };
    float *a = NULL, *b = NULL, *c = NULL;
    int ok = ml_router_layout_add(&lay, 0, 0, E, I) == 0 && ml_router_layout_add(&lay, 0, 1, E, I) == 0;
    if (ok) ok = (a = malloc(lay.total * sizeof(float))) && (b = malloc(lay.total * sizeof(float))) &&
                 (c = malloc(lay.total * sizeof(float)));
    if (!ok) { ml_layout_free(&lay); free(a); free(b); free(c); ML_ASSERT_MSG(0, "setup failed"); }
    ml_router_init_kaiming(a, &lay, 7, ML_STREAM_ROUTER);
    ml_router_init_kaiming(b, &lay, 7, ML_STREAM_ROUTER);
    ml_router_init_kaiming(c, &lay, 7, ML_STREAM_ROUTER + 64);
    double bound = 1.0 / sqrt((double)I), lo = 1, hi = -1, sum = 0;
    int inside = 1;
    for (size_t i = 0; i < lay.total; i++) {
        inside &= fabs(a[i]) <= bound;
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
        sum += a[i];
    }
    int same = !memcmp(a, b, lay.total * sizeof(float)), other_stream = memcmp(a, c, lay.total * sizeof(float)) != 0;
    int per_tensor = memcmp(a, a + E * I, E * I * sizeof(float)) != 0;
    size_t n = lay.total;
    ml_layout_free(&lay);
    free(a); free(b); free(c);
    ML_ASSERT_MSG(inside, "a value lies outside +-1/sqrt(%d)", I);
    ML_ASSERT_MSG(lo < -0.8 * bound && hi > 0.8 * bound, "values span [%g, %g] of +-%g", lo, hi, bound);
    ML_ASSERT_MSG(fabs(sum / n) < 0.1 * bound, "mean %g is far from 0", sum / n);
    ML_ASSERT_MSG(same && other_stream && per_tensor, "not a pure function of (seed, stream, tensor, index)");
}

/* Dense routers (per-layer and shared) with random parameters over three
 * copies of the base's MLP give the plain model (weights sum to 1). */
static void test_gpt_mix__dense_router_identical_experts_is_plain_model(void) {
    trio t;
    ml_expert x[2 * 3];
    static float lp[MN * MV];
    double md[2] = { 0, 0 };
    int ok = trio_new(&t, &cfg2) == 0, good[2] = { 0, 0 };
    const float *ps[3] = { ok ? t.base->params : NULL, ok ? t.base->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    ml_gpt_forward(t.base, t.tokens, NULL, MB, MT, -1, NULL);
    memcpy(lp, t.base->logits, sizeof(lp));
    for (int shared = 0; shared < 2; shared++) {
        ml_gpt_mix *m = router_make(&t, x, 3, 0, shared);
        if (!m) continue;
        ml_t_fill_uniform(m->params, (long)m->layout.total, GM_SEED, 520, -1.0f, 1.0f);
        ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
        good[shared] = ml_t_close_enough(m->logits, lp, MN * MV, 1e-5, 1e-5, &md[shared]);
        ml_gpt_mix_free(m);
    }
    GM_NOTE("identical experts, dense router vs plain: %.3g (shared %.3g)", md[0], md[1]);
    trio_free(&t);
    ML_ASSERT_MSG(good[0], "per-layer router over identical experts vs plain: max diff %.3g", md[0]);
    ML_ASSERT_MSG(good[1], "shared router over identical experts vs plain: max diff %.3g", md[1]);
}

/* Routed forwards (dense, top-2 of 3, top-1, shared) against the
 * layer-by-layer reference, which recomputes the weights from u and R. */
static void test_gpt_mix__router_matches_layerwise_reference(void) {
    static const struct { int k, shared; } cases[] = { { 0, 0 }, { 2, 0 }, { 1, 0 }, { 0, 1 }, { 2, 1 } };
    trio t;
    ml_expert x[2 * 3];
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        ml_gpt_mix *m = router_make(&t, x, 3, cases[c].k, cases[c].shared);
        double mdw = 0, mdo = 0;
        const char *why = "";
        if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "ml_gpt_mix_new: %s", ml_error_last()->message); }
        ml_t_fill_uniform(m->params, (long)m->layout.total, GM_SEED, 530 + c, -1.0f, 1.0f);
        ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
        ok = layerwise_reference_check(m, &t, NULL, &mdw, &mdo, &why);
        int same_ptr = !cases[c].shared || ml_gpt_mix_weights(m, 1) == ml_gpt_mix_weights(m, 0);
        GM_NOTE("router k=%d shared=%d: weights %.3g, outputs %.3g", cases[c].k, cases[c].shared, mdw, mdo);
        ml_gpt_mix_free(m);
        if (!ok || !same_ptr) trio_free(&t);
        ML_ASSERT_MSG(ok, "top_k %d shared %d: %s (max diff weights %.3g, outputs %.3g)", cases[c].k,
                      cases[c].shared, why, mdw, mdo);
        ML_ASSERT_MSG(same_ptr, "shared router: layer 1 does not report layer 0's weights");
    }
    trio_free(&t);
}

/* Scoring's forward (no GELU slopes kept) gives the training forward's
 * loss and logits bit for bit, and a backward after it is refused. */
static void test_gpt_mix__eval_forward_same_bits_no_backward(void) {
    trio t;
    ml_expert x[2 * 3];
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    ml_gpt_mix *m = router_make(&t, x, 3, 2, 0);
    if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "ml_gpt_mix_new: %s", ml_error_last()->message); }
    ml_t_fill_uniform(m->params, (long)m->layout.total, GM_SEED, 577, -1.0f, 1.0f);
    size_t n = (size_t)MB * MT * m->V;
    float *lg = malloc(n * sizeof(float));
    float l1 = ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
    if (lg) memcpy(lg, m->logits, n * sizeof(float));
    float l2 = ml_gpt_mix_forward_eval(m, t.tokens, t.targets, MB, MT);
    int same = lg && memcmp(&l1, &l2, sizeof(float)) == 0 && memcmp(lg, m->logits, n * sizeof(float)) == 0;
    ml_gpt_mix_zero_grad(m);
    int refused = ml_gpt_mix_backward(m, t.tokens, t.targets) < 0;
    ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
    int allowed = ml_gpt_mix_backward(m, t.tokens, t.targets) == 0;
    free(lg);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(same, "eval forward: loss %.9g vs %.9g, or logits differ", l2, l1);
    ML_ASSERT_MSG(refused, "a backward after the eval forward was accepted");
    ML_ASSERT_MSG(allowed, "a backward after the training forward was refused");
}

/* top-1 puts weight exactly 1 on the argmax expert of R u, 0 elsewhere;
 * with a zero router (every logit exactly tied) top-1 picks expert 0 and
 * top-2 gives (0.5, 0.5, 0): ties go to the lower index. */
static void test_gpt_mix__topk1_selects_argmax_and_ties_go_low(void) {
    trio t;
    ml_expert x[2 * 3];
    int ok = trio_new(&t, &cfg2) == 0, argmax_ok = 1, tie1 = 1, tie2 = 1;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    ml_gpt_mix *m = router_make(&t, x, 3, 1, 0);
    ml_gpt_mix *m2 = router_make(&t, x, 3, 2, 0);
    if (!m || !m2) {
        ml_gpt_mix_free(m); ml_gpt_mix_free(m2); trio_free(&t);
        ML_ASSERT_MSG(0, "ml_gpt_mix_new: %s", ml_error_last()->message);
    }
    ml_t_fill_uniform(m->params, (long)m->layout.total, GM_SEED, 540, -1.0f, 1.0f);
    ml_gpt_mix_forward(m, t.tokens, NULL, MB, MT);
    size_t cap = (size_t)MB * MT;
    for (int l = 0; l < 2; l++) {
        const float *w = ml_gpt_mix_weights(m, l), *R = m->params + m->layout.tensors[l].offset;
        for (int i = 0; i < MN; i++) {
            const float *u = m->ln2 + l * cap * MC + (size_t)i * MC;
            int best = 0;
            double zb = -INFINITY;
            for (int e = 0; e < 3; e++) {
                double z = 0;
                for (int c = 0; c < MC; c++) z += (double)u[c] * R[e * MC + c];
                if (z > zb) { zb = z; best = e; }
            }
            for (int e = 0; e < 3; e++) argmax_ok &= w[i * 3 + e] == (e == best ? 1.0f : 0.0f);
        }
    }
    /* ties: a zero router */
    for (int mm = 0; mm < 2; mm++) {
        ml_gpt_mix *q = mm ? m2 : m;
        memset(q->params, 0, q->layout.total * sizeof(float));
        ml_gpt_mix_forward(q, t.tokens, NULL, MB, MT);
        for (int l = 0; l < 2; l++) {
            const float *w = ml_gpt_mix_weights(q, l);
            for (int i = 0; i < MN; i++) {
                if (mm == 0) tie1 &= w[i * 3] == 1.0f && w[i * 3 + 1] == 0.0f && w[i * 3 + 2] == 0.0f;
                else tie2 &= w[i * 3] == 0.5f && w[i * 3 + 1] == 0.5f && w[i * 3 + 2] == 0.0f;
            }
        }
    }
    ml_gpt_mix_free(m);
    ml_gpt_mix_free(m2);
    trio_free(&t);
    ML_ASSERT_MSG(argmax_ok, "top-1 weights are not one-hot on argmax(R u)");
    ML_ASSERT_MSG(tie1, "top-1 with tied logits does not pick expert 0");
    ML_ASSERT_MSG(tie2, "top-2 with tied logits does not give (0.5, 0.5, 0)");
}

/* ---- routers: backward by central differences ---------------------------- */

#define FD_EPS  1e-2
#define FD_ATOL 2e-4
#define FD_RTOL 2e-2

typedef struct {
    ml_gpt_mix *m;
    const int32_t *tokens, *targets;
} mix_ctx;

/* mean CE over the non-ignored targets from the float logits, in double */
static double mix_loss(void *p) {
    mix_ctx *c = p;
    ml_gpt_mix_forward(c->m, c->tokens, NULL, MB, MT);
    return ml_t_mean_ce(c->m->logits, c->targets, MN, c->m->V);
}

enum { FD_SOUND, FD_NEGATED, FD_CUT_BLOCKS, FD_CUT_ROUTER_INPUT };
#define FD_MAXP 512

typedef struct {
    int ok;             /* the checker accepted */
    double maxdiff;     /* largest |analytic - numeric| */
    double maxgrad;     /* largest |numeric| */
    double mingap;      /* top-k: smallest gap between the k-th and (k+1)-th logit (else inf) */
    long n;             /* entries checked */
    int setup_failed;
} fd_result;

/* smallest gap between the k-th and (k+1)-th largest router logit over
 * every token and layer of the last forward (inf when k = E) */
static double topk_margin(const ml_gpt_mix *m) {
    double gap = INFINITY;
    int E = m->E, N = m->last_B * m->last_T;
    if (m->top_k >= E) return gap;
    for (int l = 0; l < (m->shared ? 1 : m->L); l++)
        for (int i = 0; i < N; i++) {
            const float *z = m->zlog + (size_t)l * m->B * m->T * E + (size_t)i * E;
            float s[ML_MIX_MAX_EXPERTS];
            memcpy(s, z, (size_t)E * sizeof(float));
            for (int a = 0; a < E; a++)      /* sort descending */
                for (int b = a + 1; b < E; b++) if (s[b] > s[a]) { float q = s[a]; s[a] = s[b]; s[b] = q; }
            gap = fmin(gap, (double)s[m->top_k - 1] - s[m->top_k]);
        }
    return gap;
}

/* Every router entry: ml_gpt_mix_backward (or a broken variant) against
 * central differences of the loss. */
static fd_result router_fd(ml_gpt_mix *m, const trio *t, int variant) {
    fd_result r = { 0, 0.0, 0.0, INFINITY, 0, 0 };
    static float ana[FD_MAXP], num[FD_MAXP];
    long n = (long)m->layout.total;
    mix_ctx c = { m, t->tokens, t->targets };
    if (n > FD_MAXP) { r.setup_failed = 1; return r; }
    ml_gpt_mix_zero_grad(m);
    ml_gpt_mix_forward(m, t->tokens, t->targets, MB, MT);
    r.mingap = topk_margin(m);
    m->ablate = variant == FD_CUT_BLOCKS ? ML_MIX_ABLATE_BLOCK_PATHS
              : variant == FD_CUT_ROUTER_INPUT ? ML_MIX_ABLATE_ROUTER_INPUT : 0;
    int rc = ml_gpt_mix_backward(m, t->tokens, t->targets);
    m->ablate = 0;
    if (rc != 0) { r.setup_failed = 1; return r; }
    for (long i = 0; i < n; i++) ana[i] = variant == FD_NEGATED ? -m->grads[i] : m->grads[i];
    for (long i = 0; i < n; i++) num[i] = ml_t_central_diff(m->params, i, FD_EPS, mix_loss, &c);
    r.ok = ml_t_close_enough(ana, num, n, FD_ATOL, FD_RTOL, &r.maxdiff);
    r.maxgrad = ml_t_max_abs(num, n);
    r.n = n;
    return r;
}

typedef struct {
    const char *name;
    int L, top_k, shared, pool_k;   /* pool_k > 0: multi-layer pool of a and b; else (a, b, base) per layer */
} fd_case;

static const fd_case fd_cases[] = {
    { "per-layer dense", 2, 0, 0, 0 },
    { "shared dense", 2, 0, 1, 0 },
    { "per-layer top-2 of 3", 2, 2, 0, 0 },
    { "shared top-2 of 3", 2, 2, 1, 0 },
    { "multi-layer pool k=2, L=3", 3, 0, 0, 2 },
};

/* Builds the case's mixture with random router parameters; for top-k the
 * parameters are redrawn (deterministically, next stream) until every
 * token's k-th and (k+1)-th logits are > 0.1 apart, so the FD steps
 * (|dz| <= eps |u| ~ 0.03) never cross a selection boundary. */
static ml_gpt_mix *fd_case_make(const fd_case *fc, trio *t, double *gap) {
    ml_expert x[3 * 4];
    int E;
    ml_gpt_mix *m = NULL;
    if (trio_new(t, fc->L == 3 ? &cfg3 : &cfg2) < 0) return NULL;
    if (fc->pool_k) {
        E = 2 * fc->pool_k;
        ml_mix_pool_multilayer(x, t->a->params, t->b->params, fc->L, fc->pool_k);
    } else {
        const float *ps[3] = { t->a->params, t->b->params, t->base->params };
        E = 3;
        per_layer_experts(x, fc->L, 3, ps);
    }
    if (!(m = router_make(t, x, E, fc->top_k, fc->shared))) return NULL;
    for (int s = 0; s < 50; s++) {
        ml_t_fill_uniform(m->params, (long)m->layout.total, GM_SEED, 600 + (uint64_t)s, -1.0f, 1.0f);
        ml_gpt_mix_forward(m, t->tokens, NULL, MB, MT);
        *gap = topk_margin(m);
        if (*gap > 0.1) break;
    }
    return m;
}

static void test_gpt_mix__router_backward_fd(void) {
    for (size_t k = 0; k < sizeof(fd_cases) / sizeof(fd_cases[0]); k++) {
        trio t = { 0 };
        double gap = INFINITY;
        ml_gpt_mix *m = fd_case_make(&fd_cases[k], &t, &gap);
        if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "%s: setup: %s", fd_cases[k].name, ml_error_last()->message); }
        fd_result r = router_fd(m, &t, FD_SOUND);
        GM_NOTE("FD %s: max diff %.3g, max |grad| %.3g over %ld entries, top-k margin %.3g", fd_cases[k].name,
                r.maxdiff, r.maxgrad, r.n, r.mingap);
        ml_gpt_mix_free(m);
        trio_free(&t);
        ML_ASSERT_MSG(!r.setup_failed, "%s: backward failed: %s", fd_cases[k].name, ml_error_last()->message);
        ML_ASSERT_MSG(gap > 0.1 && r.mingap > 0.1, "%s: top-k margin %.3g too small for FD", fd_cases[k].name,
                      r.mingap);
        ML_ASSERT_MSG(r.maxgrad > 2e-2, "%s: gradients too small to test (max %.3g)", fd_cases[k].name, r.maxgrad);
        ML_ASSERT_MSG(r.ok, "%s: router gradient vs FD: max diff %.3g (max |grad| %.3g, %ld entries)",
                      fd_cases[k].name, r.maxdiff, r.maxgrad, r.n);
    }
}

/* The same checker rejects a flipped sign (every case), a backward that
 * crosses blocks by the residual identity only, and one that drops the
 * router logits' gradient into u (every case with a router above block 0,
 * i.e. all but the shared ones for the latter). */
static void test_gpt_mix__router_fd_rejects_broken_grads(void) {
    for (size_t k = 0; k < sizeof(fd_cases) / sizeof(fd_cases[0]); k++) {
        for (int v = FD_NEGATED; v <= FD_CUT_ROUTER_INPUT; v++) {
            if (v == FD_CUT_ROUTER_INPUT && fd_cases[k].shared) continue;   /* no router reads u above 0 */
            trio t = { 0 };
            double gap = INFINITY;
            ml_gpt_mix *m = fd_case_make(&fd_cases[k], &t, &gap);
            if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
            fd_result r = router_fd(m, &t, v);
            GM_NOTE("broken %d on %s: max diff %.3g", v, fd_cases[k].name, r.maxdiff);
            ml_gpt_mix_free(m);
            trio_free(&t);
            ML_ASSERT_MSG(!r.setup_failed, "setup failed");
            ML_ASSERT_MSG(!r.ok, "%s: broken gradient %d passed FD (max diff %.3g)", fd_cases[k].name, v,
                          r.maxdiff);
        }
    }
}

/* The layer-0 router of a two-layer mixture: changing it changes the loss,
 * its FD gradient is far from zero and matches ml_gpt_mix_backward, which
 * got there through layer 1's frozen experts, LayerNorm and attention: the
 * same gradient without those paths (identity only) is rejected. */
static void test_gpt_mix__gradient_flows_through_frozen_experts(void) {
    trio t = { 0 };
    double gap;
    ml_gpt_mix *m = fd_case_make(&fd_cases[0], &t, &gap);
    static float ana[3 * MC], cut[3 * MC], num[3 * MC];
    if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
    mix_ctx c = { m, t.tokens, t.targets };
    float *R0 = m->params + m->layout.tensors[0].offset;
    long n = 3 * MC;
    double l0 = mix_loss(&c);
    R0[5] += 0.25f;
    double l1 = mix_loss(&c);
    R0[5] -= 0.25f;
    for (int v = 0; v < 2; v++) {
        ml_gpt_mix_zero_grad(m);
        ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
        m->ablate = v ? ML_MIX_ABLATE_BLOCK_PATHS : 0;
        ml_gpt_mix_backward(m, t.tokens, t.targets);
        m->ablate = 0;
        memcpy(v ? cut : ana, m->grads + m->layout.tensors[0].offset, (size_t)n * sizeof(float));
    }
    for (long i = 0; i < n; i++) num[i] = ml_t_central_diff(R0, i, FD_EPS, mix_loss, &c);
    double md = 0, mdc = 0, mg = ml_t_max_abs(num, n);
    int ok = ml_t_close_enough(ana, num, n, FD_ATOL, FD_RTOL, &md);
    int cut_ok = ml_t_close_enough(cut, num, n, FD_ATOL, FD_RTOL, &mdc);
    GM_NOTE("layer-0 router: loss change %.3g, max |FD| %.3g, diff %.3g, identity-only diff %.3g", l1 - l0, mg, md,
            mdc);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(fabs(l1 - l0) > 1e-4, "moving router.0 does not change the loss (%.3g)", l1 - l0);
    ML_ASSERT_MSG(mg > 2e-2, "FD gradient of router.0 is ~0 (max %.3g)", mg);
    ML_ASSERT_MSG(ok, "router.0 gradient vs FD: max diff %.3g", md);
    ML_ASSERT_MSG(!cut_ok, "router.0 gradient without the paths through block 1 passed (max diff %.3g)", mdc);
}

/* ---- training ----------------------------------------------------------- */

/* AdamW on the router layout lowers the loss on a fixed batch; the base and
 * both specialists (params and the base's grads) stay bit-identical. */
static void test_gpt_mix__adamw_on_router_lowers_loss_experts_frozen(void) {
    trio t;
    ml_expert x[2 * 3];
    ml_adamw *o = NULL;
    ml_adamw_config oc = { .lr = 5e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f };
    float *copy[4] = { NULL, NULL, NULL, NULL };
    int ok = trio_new(&t, &cfg2) == 0, same = 1;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    ml_gpt_mix *m = NULL;
    float first = 0, last = 0;
    size_t bytes = ok ? t.base->layout.total * sizeof(float) : 0;
    if (ok) {
        per_layer_experts(x, 2, 3, ps);
        m = router_make(&t, x, 3, 0, 0);
        ok = m && ml_adamw_new(&o, &m->layout, &oc) == 0;
    }
    for (int i = 0; i < 4 && ok; i++) ok = (copy[i] = malloc(bytes)) != NULL;
    if (ok) {
        memcpy(copy[0], t.base->params, bytes);
        memcpy(copy[1], t.a->params, bytes);
        memcpy(copy[2], t.b->params, bytes);
        memcpy(copy[3], t.base->grads, bytes);
        for (int s = 0; s < 20 && ok; s++) {
            ml_gpt_mix_zero_grad(m);
            float loss = ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
            if (s == 0) first = loss;
            last = loss;
            ok = ml_gpt_mix_backward(m, t.tokens, t.targets) == 0;
            ml_adamw_step(o, m->params, m->grads, oc.lr, NULL);
        }
        last = ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
        same = !memcmp(copy[0], t.base->params, bytes) && !memcmp(copy[1], t.a->params, bytes) &&
               !memcmp(copy[2], t.b->params, bytes) && !memcmp(copy[3], t.base->grads, bytes);
    }
    GM_NOTE("router AdamW: loss %.4f -> %.4f", first, last);
    for (int i = 0; i < 4; i++) free(copy[i]);
    ml_adamw_free(o);
    ml_gpt_mix_free(m);
    trio_free(&t);
    ML_ASSERT_MSG(ok, "setup or backward failed: %s", ml_error_last()->message);
    ML_ASSERT_MSG(last < first - 0.02f, "20 router steps did not lower the loss: %.4f -> %.4f", first, last);
    ML_ASSERT_MSG(same, "base or specialist parameters (or the base's grads) changed");
}

/* ---- pools -------------------------------------------------------------- */

static void test_gpt_mix__multilayer_pool_table(void) {
    static const float A = 0, Bv = 0;
    const float *a = &A, *b = &Bv;
    /* L = 4, k = 2: blocks i, i+1; at the top (i = 3) 3 then 2 */
    static const int want_k2[4][2] = { { 0, 1 }, { 1, 2 }, { 2, 3 }, { 3, 2 } };
    /* L = 4, k = 3: 0 1 2 / 1 2 3 / 2 3 1 / 3 2 1 */
    static const int want_k3[4][3] = { { 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 1 }, { 3, 2, 1 } };
    ml_expert x[4 * 8];
    int ok = 1;
    ML_ASSERT_EQ_INT(0, ml_mix_pool_multilayer(x, a, b, 4, 2));
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 2; s++) {
            ok &= x[i * 4 + 2 * s].params == a && x[i * 4 + 2 * s].block == want_k2[i][s];
            ok &= x[i * 4 + 2 * s + 1].params == b && x[i * 4 + 2 * s + 1].block == want_k2[i][s];
        }
    ML_ASSERT_MSG(ok, "L=4 k=2 pool differs from the hand-written table");
    ML_ASSERT_EQ_INT(0, ml_mix_pool_multilayer(x, a, b, 4, 3));
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 3; s++) {
            ok &= x[i * 6 + 2 * s].params == a && x[i * 6 + 2 * s].block == want_k3[i][s];
            ok &= x[i * 6 + 2 * s + 1].params == b && x[i * 6 + 2 * s + 1].block == want_k3[i][s];
        }
    ML_ASSERT_MSG(ok, "L=4 k=3 pool differs from the hand-written table");
    ML_ASSERT_EQ_INT(0, ml_mix_pool_multilayer(x, a, b, 4, 1));   /* the single-layer pool */
    for (int i = 0; i < 4; i++) ok &= x[2 * i].params == a && x[2 * i + 1].params == b &&
                                      x[2 * i].block == i && x[2 * i + 1].block == i;
    ML_ASSERT_MSG(ok, "k=1 is not the single-layer pool ((a,i), (b,i))");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_mix_pool_multilayer(x, a, b, 4, 5));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "multi-layer pool: k = 5 must be in 1..L = 4");
}

/* ---- ensembles ---------------------------------------------------------- */

static void test_gpt_mix__logit_ensemble_hand_values(void) {
    static const float z1[6] = { 1, 2, 3, -4, 0, 8 }, z2[6] = { 5, -2, 3, 0, 4, 0 };
    const float *zs[2] = { z1, z2 };
    double w[2] = { 1, 3 }, md = 0;
    /* 0.25 z1 + 0.75 z2 */
    static const float want[6] = { 4.0f, -1.0f, 3.0f, -1.0f, 3.0f, 2.0f };
    float out[6];
    ML_ASSERT_EQ_INT(0, ml_logit_ensemble(out, zs, w, 2, 6));
    ML_ASSERT_MSG(ml_t_close_enough(out, want, 6, 1e-6, 1e-6, &md), "logit ensemble: max diff %.3g", md);
    double bad[2] = { 1, -1 };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_logit_ensemble(out, zs, bad, 2, 6));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "logit ensemble: weight 1 is negative (-1)");
    double zero[2] = { 0, 0 };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_logit_ensemble(out, zs, zero, 2, 6));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "logit ensemble: weights sum to zero");
}

/* softmax(0,0,0) = (1/3,1/3,1/3), softmax(log 1, log 2, log 5) = (1,2,5)/8;
 * equal weights: (11/48, 7/24, 23/48), returned as logs. Shifting a
 * model's logits changes nothing; a model sure of one class (-1000 on the
 * others) stays finite; a zero weight drops the model. */
static void test_gpt_mix__prob_ensemble_hand_values(void) {
    float z1[6] = { 0, 0, 0, 0, -1000, -1000 }, z2[6], out[6], want[6];
    const float *zs[2] = { z1, z2 };
    double w[2] = { 1, 1 }, md = 0;
    z2[0] = 0.0f; z2[1] = (float)log(2.0); z2[2] = (float)log(5.0);
    z2[3] = 100.0f; z2[4] = 100.0f + (float)log(2.0); z2[5] = 100.0f + (float)log(5.0);   /* shifted */
    want[0] = (float)log(11.0 / 48); want[1] = (float)log(7.0 / 24); want[2] = (float)log(23.0 / 48);
    /* row 2: (1,0,0) and (1,2,5)/8 -> (9/16, 1/8, 5/16) */
    want[3] = (float)log(9.0 / 16); want[4] = (float)log(1.0 / 8); want[5] = (float)log(5.0 / 16);
    ML_ASSERT_EQ_INT(0, ml_prob_ensemble(out, zs, w, 2, 2, 3));
    ML_ASSERT_MSG(ml_t_close_enough(out, want, 6, 1e-6, 1e-6, &md), "probability ensemble: max diff %.3g", md);
    double only1[2] = { 2, 0 };
    ML_ASSERT_EQ_INT(0, ml_prob_ensemble(out, zs, only1, 2, 1, 3));
    float l3 = (float)log(1.0 / 3);
    float want1[3] = { l3, l3, l3 };
    ML_ASSERT_MSG(ml_t_close_enough(out, want1, 3, 1e-6, 1e-6, &md), "a zero-weight model was not dropped: %.3g", md);
    double bad[2] = { -1, 1 };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_prob_ensemble(out, zs, bad, 2, 2, 3));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "probability ensemble: weight 0 is negative (-1)");
}

/* ---- arguments ---------------------------------------------------------- */

static void test_gpt_mix__new_and_calls_reject_bad_arguments(void) {
    trio t;
    ml_expert x[2 * 3];
    ml_gpt_mix *m = NULL;
    int ok = trio_new(&t, &cfg2) == 0;
    const float *ps[3] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    per_layer_experts(x, 2, 3, ps);
    ml_mix_options opt = { ML_MIX_ROUTER, NULL, 4, 0 };
    int rc_k = ml_gpt_mix_new(&m, t.base, x, 3, &opt, MB, MT);
    char msg_k[ML_ERROR_MSG_MAX];
    snprintf(msg_k, sizeof(msg_k), "%s", ml_error_last()->message);
    x[4].block = 2;
    opt.top_k = 0;
    int rc_b = ml_gpt_mix_new(&m, t.base, x, 3, &opt, MB, MT);
    char msg_b[ML_ERROR_MSG_MAX];
    snprintf(msg_b, sizeof(msg_b), "%s", ml_error_last()->message);
    x[4].block = 1;
    int rc_t = ml_gpt_mix_new(&m, t.base, x, 3, &opt, MB, MT + 1);
    ML_ASSERT(m == NULL);
    /* FIXED: no backward; alpha needs E = 2 */
    ml_mix_options fo = { ML_MIX_FIXED, NULL, 0, 0 };
    int rc_new = ml_gpt_mix_new(&m, t.base, x, 3, &fo, MB, MT);
    int rc_bw = -99, rc_alpha = -99;
    if (rc_new == 0) {
        ml_gpt_mix_forward(m, t.tokens, t.targets, MB, MT);
        rc_bw = ml_gpt_mix_backward(m, t.tokens, t.targets);
        rc_alpha = ml_gpt_mix_set_alpha(m, 0.5);
    }
    char msg_a[ML_ERROR_MSG_MAX];
    snprintf(msg_a, sizeof(msg_a), "%s", ml_error_last()->message);
    ml_gpt_mix_free(m);
    ml_gpt_mix_free(NULL);
    trio_free(&t);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_k);
    ML_ASSERT_STR_HAS(msg_k, "gpt mix: top_k 4 is not in 0..3");
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_b);
    ML_ASSERT_STR_HAS(msg_b, "gpt mix: expert 1 of layer 1 uses block 2 (model has 2)");
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_t);
    ML_ASSERT_EQ_INT(0, rc_new);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_bw);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_alpha);
    ML_ASSERT_STR_HAS(msg_a, "gpt mix: alpha needs a FIXED mixture of 2 experts (have FIXED, 3 experts)");
}

const ml_test ml_tests_gpt_mix[] = {
    { "gpt_mix__interp_endpoints_are_specialists_bitwise", test_gpt_mix__interp_endpoints_are_specialists_bitwise, "unit" },
    { "gpt_mix__identical_experts_on_simplex_are_plain_model", test_gpt_mix__identical_experts_on_simplex_are_plain_model, "unit" },
    { "gpt_mix__fixed_simplex_matches_layerwise_reference", test_gpt_mix__fixed_simplex_matches_layerwise_reference, "unit" },
    { "gpt_mix__layerwise_reference_rejects_wrong_weights", test_gpt_mix__layerwise_reference_rejects_wrong_weights, "unit" },
    { "gpt_mix__router_zero_init_is_uniform", test_gpt_mix__router_zero_init_is_uniform, "unit" },
    { "gpt_mix__router_kaiming_init", test_gpt_mix__router_kaiming_init, "unit" },
    { "gpt_mix__dense_router_identical_experts_is_plain_model", test_gpt_mix__dense_router_identical_experts_is_plain_model, "unit" },
    { "gpt_mix__router_matches_layerwise_reference", test_gpt_mix__router_matches_layerwise_reference, "unit" },
    { "gpt_mix__eval_forward_same_bits_no_backward", test_gpt_mix__eval_forward_same_bits_no_backward, "unit" },
    { "gpt_mix__topk1_selects_argmax_and_ties_go_low", test_gpt_mix__topk1_selects_argmax_and_ties_go_low, "unit" },
    { "gpt_mix__router_backward_fd", test_gpt_mix__router_backward_fd, "unit" },
    { "gpt_mix__router_fd_rejects_broken_grads", test_gpt_mix__router_fd_rejects_broken_grads, "unit" },
    { "gpt_mix__gradient_flows_through_frozen_experts", test_gpt_mix__gradient_flows_through_frozen_experts, "unit" },
    { "gpt_mix__adamw_on_router_lowers_loss_experts_frozen", test_gpt_mix__adamw_on_router_lowers_loss_experts_frozen, "unit" },
    { "gpt_mix__multilayer_pool_table", test_gpt_mix__multilayer_pool_table, "unit" },
    { "gpt_mix__logit_ensemble_hand_values", test_gpt_mix__logit_ensemble_hand_values, "unit" },
    { "gpt_mix__prob_ensemble_hand_values", test_gpt_mix__prob_ensemble_hand_values, "unit" },
    { "gpt_mix__new_and_calls_reject_bad_arguments", test_gpt_mix__new_and_calls_reject_bad_arguments, "unit" },
    { 0 },
};
