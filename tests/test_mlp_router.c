/*
 * tests/test_mlp_router.c: the routed mixture MLP (kernels/mlp_mix.c):
 * zero-init uniformity, identical experts = the plain model, top-k
 * selection, the router backward against central differences (with
 * negative twins the same checker must reject), AdamW on the router with
 * frozen experts, chunked evaluation, the pool helper and argument errors.
 * Owns: the ml_tests_mlp_router table.
 * Not here: the plain MLP and fixed interpolation (tests/test_mlp_mix.c).
 * Ground truth: ml_mlp_forward of the plain model, a double recomputation
 * of the router logits, and central differences of the float forward
 * (loss summed in double). Every gradient comparison goes through
 * ml_t_close_enough() (|got - want| <= atol + rtol*|want|).
 * Models: tiny MLPs (D 5, hidden 6 6, V 4; D 6 for the multi-layer pool)
 * from ml_mlp_init; specialists are other inits or the base perturbed.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/layers.h"
#include "kernels/mlp.h"
#include "kernels/mlp_mix.h"
#include "kernels/rng.h"

#include <stdint.h>
#include <stdlib.h>

#define MR_SEED 77031u
#define RN 8     /* rows */
#define RV 4     /* classes */
#define RD 6     /* max input width */

#ifdef MR_VERBOSE
#define MR_NOTE(...) (fprintf(stderr, "    note: " __VA_ARGS__), fputc('\n', stderr))
#else
#define MR_NOTE(...) ((void)0)
#endif

/* ---- helpers ------------------------------------------------------------ */

/* The checker ml_t_close_enough(), ml_t_max_abs(), the seeded fill (seed
 * MR_SEED here) and ml_t_central_diff() live in tests/util.c. */

static const ml_mlp_config cfg_relu = { 5, 2, { 6, 6 }, RV, ML_ACT_RELU };
static const ml_mlp_config cfg_gelu = { 5, 2, { 6, 6 }, RV, ML_ACT_GELU };
static const ml_mlp_config cfg_wide = { 6, 2, { 6, 6 }, RV, ML_ACT_GELU };   /* layers 0 and 1 both (6,6) */

/* base, specialists a (base perturbed) and b (another init), data */
typedef struct {
    ml_mlp *base, *a, *b;
    float x[RN * RD];
    int32_t y[RN];
} trio;

static int trio_new(trio *t, const ml_mlp_config *cfg) {
    memset(t, 0, sizeof(*t));
    if (ml_mlp_new(&t->base, cfg, RN) < 0 || ml_mlp_new(&t->a, cfg, RN) < 0 || ml_mlp_new(&t->b, cfg, RN) < 0)
        return -1;
    ml_mlp_init(t->base, 11);
    ml_mlp_init(t->b, 12);
    memcpy(t->a->params, t->base->params, t->base->layout.total * sizeof(float));
    for (size_t i = 0; i < t->a->layout.total; i++)
        t->a->params[i] += 1.0f * (2.0f * ml_rng_uniform(MR_SEED, 30, i) - 1.0f);
    for (int i = 0; i < RN * cfg->in_dim; i++) t->x[i] = ml_rng_normal(MR_SEED, 40, (uint64_t)i);
    for (int i = 0; i < RN; i++) t->y[i] = (int32_t)ml_rng_below(MR_SEED, 41, (uint64_t)i, RV);
    t->y[2] = ML_IGNORE;
    return 0;
}

static void trio_free(trio *t) {
    ml_mlp_free(t->base);
    ml_mlp_free(t->a);
    ml_mlp_free(t->b);
}

/* mean CE over non-ignored rows from the float logits, in double */
static double mix_loss(ml_mlp_mix *m, const trio *t) {
    ml_mlp_mix_forward(m, t->x, NULL, RN);
    return ml_t_mean_ce(m->logits, t->y, RN, RV);
}

/* smallest gap between the k-th and (k+1)-th router logit over the rows
 * and layers of the last forward (inf when k = E) */
static double topk_margin(const ml_mlp_mix *m) {
    double gap = INFINITY;
    int E = m->E;
    if (m->top_k >= E) return gap;
    for (int l = 0; l < (m->shared ? 1 : m->nl); l++)
        for (int i = 0; i < m->last_n; i++) {
            float s[ML_MLP_MIX_MAX_EXPERTS];
            memcpy(s, m->zlog + ((size_t)l * m->max_batch + i) * E, (size_t)E * sizeof(float));
            for (int a = 0; a < E; a++)
                for (int b = a + 1; b < E; b++) if (s[b] > s[a]) { float q = s[a]; s[a] = s[b]; s[b] = q; }
            gap = fmin(gap, (double)s[m->top_k - 1] - s[m->top_k]);
        }
    return gap;
}

/* ---- zero init, identical experts -------------------------------------- */

/* A zero router weighs every expert exactly 1/E (dense, per-layer and
 * shared); three copies of the base are the plain base within rounding. */
static void test_mlp_router__zero_init_uniform_identical_experts_plain(void) {
    trio t;
    ml_mlp_expert x[3 * 3];
    static float plain[RN * RV];
    int ok = trio_new(&t, &cfg_relu) == 0, uniform = 1, same = 1;
    double md[2] = { 0, 0 }, loss_d[2] = { 0, 0 };
    const float *ps[3] = { ok ? t.base->params : NULL, ok ? t.base->params : NULL, ok ? t.base->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    float lp = ml_mlp_forward(t.base, t.x, t.y, RN);
    memcpy(plain, t.base->pre[2], sizeof(plain));
    ml_mlp_mix_pool_single_layer(x, 3, ps, 3, NULL);
    for (int sh = 0; sh < 2; sh++) {
        ml_mlp_mix *m = NULL;
        if (ml_mlp_mix_new(&m, &cfg_relu, x, 3, 0, sh, RN) < 0) { ok = 0; break; }
        float lm = ml_mlp_mix_forward(m, t.x, t.y, RN);
        for (int l = 0; l < 3; l++) {
            const float *w = ml_mlp_mix_weights(m, l);
            for (int i = 0; i < RN * 3; i++) uniform &= w[i] == (float)(1.0 / 3.0);
        }
        same &= ml_t_close_enough(m->logits, plain, RN * RV, 1e-5, 1e-5, &md[sh]);
        loss_d[sh] = fabs((double)lm - lp);
        ml_mlp_mix_free(m);
    }
    MR_NOTE("identical experts vs plain: logits max diff %.3g / %.3g (shared), loss %.3g / %.3g", md[0], md[1],
            loss_d[0], loss_d[1]);
    trio_free(&t);
    ML_ASSERT_MSG(ok, "setup: %s", ml_error_last()->message);
    ML_ASSERT_MSG(uniform, "zero router does not weigh every expert exactly 1/3");
    ML_ASSERT_MSG(same, "identical experts differ from the plain model (max diff %.3g, %.3g)", md[0], md[1]);
    ML_ASSERT_MSG(loss_d[0] < 1e-5 && loss_d[1] < 1e-5, "loss differs: %.3g %.3g", loss_d[0], loss_d[1]);
}

/* ---- top-k -------------------------------------------------------------- */

/* top_k = 1 is one-hot on argmax(R h) (logits recomputed in double) and the
 * layer output IS that expert's output; a zero router (all tied) picks
 * expert 0, and top-2 of tied logits gives (0.5, 0.5, 0). */
static void test_mlp_router__topk1_picks_argmax_ties_go_low(void) {
    trio t;
    ml_mlp_expert x[3 * 3];
    int ok = trio_new(&t, &cfg_relu) == 0, onehot = 1, output = 1, zmatch = 1, tie1 = 1, tie2 = 1;
    const float *ps[2] = { ok ? t.a->params : NULL, ok ? t.b->params : NULL };
    if (!ok) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    ml_mlp_mix_pool_single_layer(x, 3, ps, 2, t.base->params);
    for (int sh = 0; sh < 2 && ok; sh++) {
        ml_mlp_mix *m = NULL;
        if (ml_mlp_mix_new(&m, &cfg_relu, x, 3, 1, sh, RN) < 0) { ok = 0; break; }
        ml_t_fill_uniform(m->params, (long)m->layout.total, MR_SEED, 50 + (uint64_t)sh, -1.0f, 1.0f);
        ml_mlp_mix_forward(m, t.x, NULL, RN);
        for (int l = 0; l < 3; l++) {
            int lr = sh ? 0 : l, I = m->in_w[lr], O = m->out_w[l];
            const float *h = lr == 0 ? t.x : m->hs[lr - 1];
            const float *R = m->params + m->layout.tensors[lr].offset;
            const float *w = ml_mlp_mix_weights(m, l);
            for (int i = 0; i < RN; i++) {
                double z[3];
                int best = 0;
                for (int e = 0; e < 3; e++) {
                    z[e] = 0.0;
                    for (int c = 0; c < I; c++) z[e] += (double)h[i * I + c] * R[e * I + c];
                    zmatch &= fabs(z[e] - m->zlog[((size_t)lr * RN + i) * 3 + e]) < 1e-5;
                    if (z[e] > z[best]) best = e;
                }
                for (int e = 0; e < 3; e++) onehot &= w[i * 3 + e] == (e == best ? 1.0f : 0.0f);
                for (int c = 0; c < O; c++)
                    output &= m->hs[l][i * O + c] == m->ey[l][(size_t)best * RN * O + (size_t)i * O + c];
            }
        }
        for (int k = 1; k <= 2; k++) {   /* ties */
            ml_mlp_mix *q = NULL;
            if (ml_mlp_mix_new(&q, &cfg_relu, x, 3, k, sh, RN) < 0) { ok = 0; break; }
            ml_mlp_mix_forward(q, t.x, NULL, RN);
            for (int l = 0; l < 3; l++) {
                const float *w = ml_mlp_mix_weights(q, l);
                for (int i = 0; i < RN; i++) {
                    if (k == 1) tie1 &= w[i * 3] == 1.0f && w[i * 3 + 1] == 0.0f && w[i * 3 + 2] == 0.0f;
                    else tie2 &= w[i * 3] == 0.5f && w[i * 3 + 1] == 0.5f && w[i * 3 + 2] == 0.0f;
                }
            }
            ml_mlp_mix_free(q);
        }
        ml_mlp_mix_free(m);
    }
    trio_free(&t);
    ML_ASSERT_MSG(ok, "setup: %s", ml_error_last()->message);
    ML_ASSERT_MSG(zmatch, "router logits differ from h R^T in double");
    ML_ASSERT_MSG(onehot, "top-1 weights are not one-hot on argmax(R h)");
    ML_ASSERT_MSG(output, "top-1 layer output is not the chosen expert's output");
    ML_ASSERT_MSG(tie1, "top-1 with tied logits does not pick expert 0");
    ML_ASSERT_MSG(tie2, "top-2 with tied logits does not give (0.5, 0.5, 0)");
}

/* ---- router backward by central differences ----------------------------- */

#define FD_EPS  1e-2
#define FD_ATOL 2e-4
#define FD_RTOL 2e-2
#define FD_MAXP 256

enum { FD_SOUND, FD_NEGATED, FD_CUT_EXPERTS, FD_CUT_ROUTER_INPUT };

typedef struct {
    int ok, setup_failed;
    double maxdiff, maxgrad, mingap;
    long n;
} fd_result;

typedef struct {
    const char *name;
    int top_k, shared, pool;   /* pool: multi-layer pool on cfg_wide (E 4); else (a, b, base) per layer */
} fd_case;

static const fd_case fd_cases[] = {
    { "per-layer dense", 0, 0, 0 },
    { "shared dense", 0, 1, 0 },
    { "per-layer top-2 of 3", 2, 0, 0 },
    { "shared top-2 of 3", 2, 1, 0 },
    { "multi-layer pool", 0, 0, 1 },
};

typedef struct {
    ml_mlp_mix *m;
    const trio *t;
} fd_ctx;

static double fd_loss(void *p) {
    fd_ctx *c = p;
    return mix_loss(c->m, c->t);
}

/* d mix_loss / d m->params[i] by central differences */
static float central_diff(ml_mlp_mix *m, const trio *t, long i) {
    fd_ctx c = { m, t };
    return ml_t_central_diff(m->params, i, FD_EPS, fd_loss, &c);
}

/* The case's mixture with random routers; for top-k redrawn until every
 * row's k-th and (k+1)-th logits are > 0.1 apart, so FD steps (|dz| about
 * eps |h|) never cross a selection boundary. */
static ml_mlp_mix *fd_case_make(const fd_case *fc, trio *t, double *gap) {
    ml_mlp_expert x[3 * 4];
    ml_mlp_mix *m = NULL;
    const ml_mlp_config *cfg = fc->pool ? &cfg_wide : &cfg_gelu;
    int E;
    *gap = INFINITY;
    if (trio_new(t, cfg) < 0) return NULL;
    if (fc->pool) {   /* layers 0, 1: (a,l) (b,l) (a,1-l) (b,1-l); logits: (a,2) (b,2) (base,2) (base,2) */
        E = 4;
        for (int l = 0; l < 2; l++) {
            x[l * 4 + 0] = (ml_mlp_expert){ t->a->params, l };
            x[l * 4 + 1] = (ml_mlp_expert){ t->b->params, l };
            x[l * 4 + 2] = (ml_mlp_expert){ t->a->params, 1 - l };
            x[l * 4 + 3] = (ml_mlp_expert){ t->b->params, 1 - l };
        }
        x[8] = (ml_mlp_expert){ t->a->params, 2 };
        x[9] = (ml_mlp_expert){ t->b->params, 2 };
        x[10] = x[11] = (ml_mlp_expert){ t->base->params, 2 };
    } else {
        const float *ps[2] = { t->a->params, t->b->params };
        E = ml_mlp_mix_pool_single_layer(x, 3, ps, 2, t->base->params);
    }
    if (ml_mlp_mix_new(&m, cfg, x, E, fc->top_k, fc->shared, RN) < 0) return NULL;
    for (int s = 0; s < 200; s++) {
        ml_t_fill_uniform(m->params, (long)m->layout.total, MR_SEED, 600 + (uint64_t)s, -1.5f, 1.5f);
        ml_mlp_mix_forward(m, t->x, NULL, RN);
        *gap = topk_margin(m);
        if (*gap > 0.1) break;
    }
    return m;
}

/* every router entry: ml_mlp_mix_backward (or a broken variant) against
 * central differences */
static fd_result router_fd(ml_mlp_mix *m, const trio *t, int variant) {
    fd_result r = { 0, 0, 0.0, 0.0, INFINITY, 0 };
    static float ana[FD_MAXP], num[FD_MAXP];
    long n = (long)m->layout.total;
    if (n > FD_MAXP) { r.setup_failed = 1; return r; }
    ml_mlp_mix_zero_grad(m);
    ml_mlp_mix_forward(m, t->x, t->y, RN);
    r.mingap = topk_margin(m);
    m->ablate = variant == FD_CUT_EXPERTS ? ML_MLP_MIX_ABLATE_EXPERT_PATHS
              : variant == FD_CUT_ROUTER_INPUT ? ML_MLP_MIX_ABLATE_ROUTER_INPUT : 0;
    int rc = ml_mlp_mix_backward(m, t->x, t->y);
    m->ablate = 0;
    if (rc != 0) { r.setup_failed = 1; return r; }
    for (long i = 0; i < n; i++) ana[i] = variant == FD_NEGATED ? -m->grads[i] : m->grads[i];
    for (long i = 0; i < n; i++) num[i] = central_diff(m, t, i);
    r.ok = ml_t_close_enough(ana, num, n, FD_ATOL, FD_RTOL, &r.maxdiff);
    r.maxgrad = ml_t_max_abs(num, n);
    r.n = n;
    return r;
}

static void test_mlp_router__router_backward_fd(void) {
    for (size_t k = 0; k < sizeof(fd_cases) / sizeof(fd_cases[0]); k++) {
        trio t;
        double gap = INFINITY;
        ml_mlp_mix *m = fd_case_make(&fd_cases[k], &t, &gap);
        if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "%s: setup: %s", fd_cases[k].name, ml_error_last()->message); }
        fd_result r = router_fd(m, &t, FD_SOUND);
        /* the layer-0 router alone: its gradient crossed every layer above */
        double md0 = 0.0, mg0 = 0.0;
        {
            static float ana0[FD_MAXP], num0[FD_MAXP];
            const ml_tensor_info *ti = &m->layout.tensors[0];
            long n0 = (long)ti->numel;
            ml_mlp_mix_zero_grad(m);
            ml_mlp_mix_forward(m, t.x, t.y, RN);
            ml_mlp_mix_backward(m, t.x, t.y);
            memcpy(ana0, m->grads + ti->offset, (size_t)n0 * sizeof(float));
            for (long i = 0; i < n0; i++) num0[i] = central_diff(m, &t, (long)ti->offset + i);
            ml_t_close_enough(ana0, num0, n0, FD_ATOL, FD_RTOL, &md0);
            mg0 = ml_t_max_abs(num0, n0);
        }
        MR_NOTE("FD %s: max diff %.3g, max |grad| %.3g over %ld entries, top-k margin %.3g; router 0 alone: "
                "max diff %.3g, max |grad| %.3g", fd_cases[k].name, r.maxdiff, r.maxgrad, r.n, r.mingap, md0, mg0);
        ml_mlp_mix_free(m);
        trio_free(&t);
        ML_ASSERT_MSG(!r.setup_failed, "%s: backward failed: %s", fd_cases[k].name, ml_error_last()->message);
        ML_ASSERT_MSG(gap > 0.1 && r.mingap > 0.1, "%s: top-k margin %.3g too small for FD", fd_cases[k].name,
                      r.mingap);
        ML_ASSERT_MSG(r.maxgrad > 2e-2, "%s: gradients too small to test (max %.3g)", fd_cases[k].name, r.maxgrad);
        ML_ASSERT_MSG(mg0 > 1e-2, "%s: layer-0 router gradient ~0 (max %.3g)", fd_cases[k].name, mg0);
        ML_ASSERT_MSG(r.ok, "%s: router gradient vs FD: max diff %.3g (max |grad| %.3g, %ld entries)",
                      fd_cases[k].name, r.maxdiff, r.maxgrad, r.n);
    }
}

/* The same checker rejects a flipped sign, a backward that does not carry
 * the stream gradient through the frozen experts to the layers below, and
 * one that drops the router logits' gradient into the h they read (not
 * for shared routers: theirs reads x, which needs no gradient). */
static void test_mlp_router__router_fd_rejects_broken_grads(void) {
    for (size_t k = 0; k < sizeof(fd_cases) / sizeof(fd_cases[0]); k++) {
        for (int v = FD_NEGATED; v <= FD_CUT_ROUTER_INPUT; v++) {
            if (v == FD_CUT_ROUTER_INPUT && fd_cases[k].shared) continue;
            trio t;
            double gap;
            ml_mlp_mix *m = fd_case_make(&fd_cases[k], &t, &gap);
            if (!m) { trio_free(&t); ML_ASSERT_MSG(0, "setup: %s", ml_error_last()->message); }
            fd_result r = router_fd(m, &t, v);
            MR_NOTE("broken %d on %s: max diff %.3g", v, fd_cases[k].name, r.maxdiff);
            ml_mlp_mix_free(m);
            trio_free(&t);
            ML_ASSERT_MSG(!r.setup_failed, "setup failed");
            ML_ASSERT_MSG(!r.ok, "%s: broken gradient %d passed FD (max diff %.3g)", fd_cases[k].name, v,
                          r.maxdiff);
        }
    }
}

/* ---- training ----------------------------------------------------------- */

/* 20 AdamW steps on the router layout lower the loss on a fixed batch; the
 * expert parameter vectors stay bit-identical. Per-layer and shared. */
static void test_mlp_router__adamw_lowers_loss_experts_frozen(void) {
    for (int sh = 0; sh < 2; sh++) {
        trio t;
        ml_mlp_expert x[3 * 3];
        ml_adamw *o = NULL;
        ml_adamw_config oc = { .lr = 5e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = 0.1f };
        float *copy[3] = { NULL, NULL, NULL };
        ml_mlp_mix *m = NULL;
        int ok = trio_new(&t, &cfg_relu) == 0, same = 1;
        float first = 0, last = 0;
        size_t bytes = ok ? t.base->layout.total * sizeof(float) : 0;
        if (ok) {
            const float *ps[2] = { t.a->params, t.b->params };
            ml_mlp_mix_pool_single_layer(x, 3, ps, 2, t.base->params);
            ok = ml_mlp_mix_new(&m, &cfg_relu, x, 3, 0, sh, RN) == 0 && ml_adamw_new(&o, &m->layout, &oc) == 0;
        }
        for (int i = 0; i < 3 && ok; i++) ok = (copy[i] = malloc(bytes)) != NULL;
        if (ok) {
            memcpy(copy[0], t.base->params, bytes);
            memcpy(copy[1], t.a->params, bytes);
            memcpy(copy[2], t.b->params, bytes);
            for (int s = 0; s < 20 && ok; s++) {
                ml_mlp_mix_zero_grad(m);
                float loss = ml_mlp_mix_forward(m, t.x, t.y, RN);
                if (s == 0) first = loss;
                ok = ml_mlp_mix_backward(m, t.x, t.y) == 0;
                ml_adamw_step(o, m->params, m->grads, oc.lr, NULL);
            }
            last = ml_mlp_mix_forward(m, t.x, t.y, RN);
            same = !memcmp(copy[0], t.base->params, bytes) && !memcmp(copy[1], t.a->params, bytes) &&
                   !memcmp(copy[2], t.b->params, bytes);
        }
        MR_NOTE("router AdamW (%s): loss %.4f -> %.4f", sh ? "shared" : "per-layer", first, last);
        for (int i = 0; i < 3; i++) free(copy[i]);
        ml_adamw_free(o);
        ml_mlp_mix_free(m);
        trio_free(&t);
        ML_ASSERT_MSG(ok, "setup or backward failed: %s", ml_error_last()->message);
        ML_ASSERT_MSG(last < first - 0.02f, "20 router steps did not lower the loss: %.4f -> %.4f", first, last);
        ML_ASSERT_MSG(same, "an expert parameter vector changed");
    }
}

/* ---- evaluation, pool, errors ------------------------------------------- */

/* evaluate in chunks of 8 = one forward of all 20 rows (same router) */
static void test_mlp_router__evaluate_chunks_match_one_batch(void) {
    trio t;
    ml_mlp_expert x[3 * 3];
    ml_mlp_mix *m = NULL, *big = NULL;
    float xs[20 * 5];
    int32_t ys[20];
    double acc = -1, loss = -1;
    long correct = 0;
    float lb = 0;
    int ok = trio_new(&t, &cfg_relu) == 0;
    if (ok) {
        const float *ps[2] = { t.a->params, t.b->params };
        ml_mlp_mix_pool_single_layer(x, 3, ps, 2, t.base->params);
        ok = ml_mlp_mix_new(&m, &cfg_relu, x, 3, 2, 0, RN) == 0 && ml_mlp_mix_new(&big, &cfg_relu, x, 3, 2, 0, 20) == 0;
    }
    if (ok) {
        ml_t_fill_uniform(m->params, (long)m->layout.total, MR_SEED, 70, -1.0f, 1.0f);
        memcpy(big->params, m->params, m->layout.total * sizeof(float));
        for (int i = 0; i < 20 * 5; i++) xs[i] = ml_rng_normal(MR_SEED, 71, (uint64_t)i);
        for (int i = 0; i < 20; i++) ys[i] = (int32_t)ml_rng_below(MR_SEED, 72, (uint64_t)i, RV);
        ml_mlp_mix_evaluate(m, xs, ys, 20, &acc, &loss);
        lb = ml_mlp_mix_forward(big, xs, ys, 20);
        for (int i = 0; i < 20; i++) {
            int best = 0;
            for (int v = 1; v < RV; v++) if (big->probs[i * RV + v] > big->probs[i * RV + best]) best = v;
            correct += best == ys[i];
        }
    }
    ml_mlp_mix_free(m);
    ml_mlp_mix_free(big);
    trio_free(&t);
    ML_ASSERT_MSG(ok, "setup: %s", ml_error_last()->message);
    ML_ASSERT_NEAR((double)correct / 20.0, acc, 0.0, 0.0);
    ML_ASSERT_NEAR((double)lb, loss, 1e-6, 1e-6);
}

static void test_mlp_router__pool_single_layer_table(void) {
    static const float A = 0, B = 0, C = 0;
    const float *ps[2] = { &A, &B };
    ml_mlp_expert x[3 * 3];
    int ok = 1;
    int E = ml_mlp_mix_pool_single_layer(x, 3, ps, 2, &C);
    for (int l = 0; l < 3 && E == 3; l++)
        ok &= x[l * 3].params == &A && x[l * 3 + 1].params == &B && x[l * 3 + 2].params == &C &&
              x[l * 3].layer == l && x[l * 3 + 1].layer == l && x[l * 3 + 2].layer == l;
    int E2 = ml_mlp_mix_pool_single_layer(x, 3, ps, 2, NULL);
    ok &= E2 == 2 && x[2].params == &A && x[2].layer == 1 && x[5].params == &B && x[5].layer == 2;
    int rc = ml_mlp_mix_pool_single_layer(x, 3, ps, 0, NULL);
    ML_ASSERT_EQ_INT(3, E);
    ML_ASSERT_MSG(ok, "pool table is wrong");
    ML_ASSERT_EQ_INT(ML_EINVALID, rc);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "mlp mix pool: 0 experts (expected 1..64)");
}

static void test_mlp_router__new_rejects_bad_arguments(void) {
    trio t;
    ml_mlp_expert x[3 * 2];
    ml_mlp_mix *m = NULL;
    char msg[4][ML_ERROR_MSG_MAX];
    int rc[4];
    if (trio_new(&t, &cfg_relu) < 0) { trio_free(&t); ML_ASSERT_MSG(0, "setup failed"); }
    const float *ps[2] = { t.a->params, t.b->params };
    ml_mlp_mix_pool_single_layer(x, 3, ps, 2, NULL);
    x[3].layer = 0;   /* expert 1 of layer 1 from layer 0: (6,5) into a (6,6) layer */
    rc[0] = ml_mlp_mix_new(&m, &cfg_relu, x, 2, 0, 0, RN);
    snprintf(msg[0], sizeof(msg[0]), "%s", ml_error_last()->message);
    x[3].layer = 1;
    x[5].layer = 3;
    rc[1] = ml_mlp_mix_new(&m, &cfg_relu, x, 2, 0, 0, RN);
    snprintf(msg[1], sizeof(msg[1]), "%s", ml_error_last()->message);
    x[5].layer = 2;
    rc[2] = ml_mlp_mix_new(&m, &cfg_relu, x, 2, 3, 0, RN);
    snprintf(msg[2], sizeof(msg[2]), "%s", ml_error_last()->message);
    ML_ASSERT(m == NULL);
    /* backward needs the forward's targets */
    int rc_new = ml_mlp_mix_new(&m, &cfg_relu, x, 2, 0, 0, RN);
    rc[3] = -99;
    if (rc_new == 0) {
        ml_mlp_mix_forward(m, t.x, NULL, RN);
        rc[3] = ml_mlp_mix_backward(m, t.x, t.y);
    }
    snprintf(msg[3], sizeof(msg[3]), "%s", ml_error_last()->message);
    ml_mlp_mix_free(m);
    ml_mlp_mix_free(NULL);
    trio_free(&t);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc[0]);
    ML_ASSERT_STR_HAS(msg[0], "mlp mix: expert 1 of layer 1: source layer 0 is (6,5), layer 1 is (6,6)");
    ML_ASSERT_EQ_INT(ML_EINVALID, rc[1]);
    ML_ASSERT_STR_HAS(msg[1], "mlp mix: expert 1 of layer 2 uses layer 3 (model has 3)");
    ML_ASSERT_EQ_INT(ML_EINVALID, rc[2]);
    ML_ASSERT_STR_HAS(msg[2], "mlp mix: top_k 3 is not in 0..2");
    ML_ASSERT_EQ_INT(0, rc_new);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc[3]);
    ML_ASSERT_STR_HAS(msg[3], "mlp mix backward: needs the forward's targets");
}

const ml_test ml_tests_mlp_router[] = {
    { "mlp_router__zero_init_uniform_identical_experts_plain", test_mlp_router__zero_init_uniform_identical_experts_plain, "unit" },
    { "mlp_router__topk1_picks_argmax_ties_go_low", test_mlp_router__topk1_picks_argmax_ties_go_low, "unit" },
    { "mlp_router__router_backward_fd", test_mlp_router__router_backward_fd, "unit" },
    { "mlp_router__router_fd_rejects_broken_grads", test_mlp_router__router_fd_rejects_broken_grads, "unit" },
    { "mlp_router__adamw_lowers_loss_experts_frozen", test_mlp_router__adamw_lowers_loss_experts_frozen, "unit" },
    { "mlp_router__evaluate_chunks_match_one_batch", test_mlp_router__evaluate_chunks_match_one_batch, "unit" },
    { "mlp_router__pool_single_layer_table", test_mlp_router__pool_single_layer_table, "unit" },
    { "mlp_router__new_rejects_bad_arguments", test_mlp_router__new_rejects_bad_arguments, "unit" },
    { 0 },
};
