/*
 * tests/test_gpt.c: the transformer layers (LayerNorm, embeddings, causal
 * attention) and the GPT model built from them, plus the training helpers
 * it shares with every loop (AdamW masks, ml_lr_at, ml_clip_grad_norm).
 * Owns: the ml_tests_gpt table.
 * Not here: gemm, linear, GELU, softmax-CE and the MLP (tests/test_kernels.c),
 * checkpoints (their own file).
 * Every numeric comparison goes through ONE checker, ml_t_close_enough(), and
 * each way it is used has a negative test: a deliberately broken kernel,
 * reference or gradient goes through the same code with the same
 * tolerances and must be rejected. Backward passes are checked by central
 * differences of the float forward, the loss summed in double.
 * Inputs come from the counter RNG (seed GT_SEED, one stream per buffer),
 * so every run sees the same numbers.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/gpt.h"
#include "kernels/mlp.h"
#include "kernels/layers.h"
#include "kernels/parallel.h"
#include "kernels/params.h"
#include "kernels/rng.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GT_SEED 77031117u

/* -DGT_VERBOSE prints the measured numbers of passing checks too */
#ifdef GT_VERBOSE
#define GT_NOTE(...) (fprintf(stderr, "    note: " __VA_ARGS__), fputc('\n', stderr))
#else
#define GT_NOTE(...) ((void)0)
#endif

/* ---- shared helpers ----------------------------------------------------- */

/* The checker ml_t_close_enough(), the seeded fills (seed GT_SEED here) and
 * central differences of a ml_t_loss_fn (float forward, loss summed in
 * double) live in tests/util.c. */

static void negate(float *a, long n) {
    for (long i = 0; i < n; i++) a[i] = -a[i];
}

/* Layer-level FD checks use L = sum(y .* R) for a fixed random R (dL/dy = R).
 * Float forward noise is ~1e-6 in L, so with eps = 1e-2 the FD noise is
 * ~1e-4 at worst; curvature errors are O(eps^2). A wrong sign or a 10%
 * scale error on O(0.1..1) gradients is far outside the band. */
#define FD_EPS  1e-2
#define FD_ATOL 1e-3
#define FD_RTOL 3e-2

/* ---- LayerNorm ---------------------------------------------------------- */

#define LN_N 5
#define LN_C 16
#define LN_EPS_REF 1e-5

typedef struct {
    float x[LN_N * LN_C], w[LN_C], b[LN_C], R[LN_N * LN_C];
    float y[LN_N * LN_C], mean[LN_N], rstd[LN_N];
} ln_ctx;

static void ln_setup(ln_ctx *c) {
    ml_t_fill_uniform(c->x, LN_N * LN_C, GT_SEED, 101, -2.0f, 2.0f);
    for (int i = 0; i < LN_N * LN_C; i++) c->x[i] += (float)(i / LN_C);   /* row offsets 0..4 */
    ml_t_fill_uniform(c->w, LN_C, GT_SEED, 102, 0.5f, 1.5f);
    ml_t_fill_uniform(c->b, LN_C, GT_SEED, 103, -0.5f, 0.5f);
    ml_t_fill_uniform(c->R, LN_N * LN_C, GT_SEED, 104, -1.0f, 1.0f);
}

enum { LNREF_SOUND, LNREF_UNBIASED_VAR, LNREF_NO_BIAS };

/* LayerNorm in double from its formula: y = (x - mean)/sqrt(var + 1e-5) w + b
 * with the biased variance; the broken variants divide by C-1 or drop b. */
static void ln_formula(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                       int N, int C, int broken) {
    for (int i = 0; i < N; i++) {
        const float *xi = x + (long)i * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += xi[c];
        m /= C;
        for (int c = 0; c < C; c++) v += ((double)xi[c] - m) * ((double)xi[c] - m);
        v /= broken == LNREF_UNBIASED_VAR ? C - 1 : C;
        double r = 1.0 / sqrt(v + LN_EPS_REF);
        for (int c = 0; c < C; c++)
            y[(long)i * C + c] = (float)(((double)xi[c] - m) * r * w[c] + (broken == LNREF_NO_BIAS ? 0.0 : b[c]));
        mean[i] = (float)m;
        rstd[i] = (float)r;
    }
}

/* kernel vs formula variant `broken`: y (|y| <= ~4: 1e-5 covers float
 * rounding), mean, rstd. Returns 1 when all three agree. */
static int ln_forward_case(int broken, double md[3]) {
    static ln_ctx c;
    float ry[LN_N * LN_C], rm[LN_N], rr[LN_N];
    ln_setup(&c);
    ml_layernorm_forward(c.y, c.mean, c.rstd, c.x, c.w, c.b, LN_N, LN_C);
    ln_formula(ry, rm, rr, c.x, c.w, c.b, LN_N, LN_C, broken);
    int ok = ml_t_close_enough(c.y, ry, LN_N * LN_C, 1e-5, 1e-5, &md[0]);
    ok &= ml_t_close_enough(c.mean, rm, LN_N, 1e-6, 1e-6, &md[1]);
    ok &= ml_t_close_enough(c.rstd, rr, LN_N, 1e-6, 1e-5, &md[2]);
    return ok;
}

static void test_gpt__layernorm_forward_matches_formula(void) {
    double md[3] = { 0 };
    ML_ASSERT_MSG(ln_forward_case(LNREF_SOUND, md), "layernorm forward: max diff y %.3g mean %.3g rstd %.3g",
                  md[0], md[1], md[2]);
}

static void test_gpt__layernorm_checker_rejects_broken(void) {
    double md[3] = { 0 };
    ML_ASSERT_MSG(!ln_forward_case(LNREF_UNBIASED_VAR, md),
                  "a C-1 variance passed the layernorm checker (max diff y %.3g)", md[0]);
    ML_ASSERT_MSG(!ln_forward_case(LNREF_NO_BIAS, md), "a bias-free layernorm passed (max diff y %.3g)", md[0]);
}

static double ln_loss(void *p) {
    ln_ctx *c = p;
    double s = 0.0;
    ml_layernorm_forward(c->y, c->mean, c->rstd, c->x, c->w, c->b, LN_N, LN_C);
    for (int i = 0; i < LN_N * LN_C; i++) s += (double)c->y[i] * c->R[i];
    return s;
}

/* FD check of dx, dw, db; flip negates the analytic gradients. Returns a
 * bitmask of parts that do NOT agree (1 dx, 2 dw, 4 db). */
static int ln_fd(int flip, double md[3]) {
    static ln_ctx c;
    float dx[LN_N * LN_C] = { 0 }, dw[LN_C] = { 0 }, db[LN_C] = { 0 };
    float nx[LN_N * LN_C], nw[LN_C], nb[LN_C];
    int bad = 0;
    ln_setup(&c);
    ml_layernorm_forward(c.y, c.mean, c.rstd, c.x, c.w, c.b, LN_N, LN_C);
    ml_layernorm_backward(dx, dw, db, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
    if (flip) { negate(dx, LN_N * LN_C); negate(dw, LN_C); negate(db, LN_C); }
    ml_t_central_diff_all(nx, c.x, LN_N * LN_C, FD_EPS, ln_loss, &c);
    ml_t_central_diff_all(nw, c.w, LN_C, FD_EPS, ln_loss, &c);
    ml_t_central_diff_all(nb, c.b, LN_C, FD_EPS, ln_loss, &c);
    if (!ml_t_close_enough(dx, nx, LN_N * LN_C, FD_ATOL, FD_RTOL, &md[0])) bad |= 1;
    if (!ml_t_close_enough(dw, nw, LN_C, FD_ATOL, FD_RTOL, &md[1])) bad |= 2;
    if (!ml_t_close_enough(db, nb, LN_C, FD_ATOL, FD_RTOL, &md[2])) bad |= 4;
    return bad;
}

static void test_gpt__layernorm_backward_fd(void) {
    double md[3] = { 0 };
    int bad = ln_fd(0, md);
    GT_NOTE("layernorm FD max diff dx %.3g dw %.3g db %.3g", md[0], md[1], md[2]);
    ML_ASSERT_MSG(bad == 0, "layernorm backward vs FD: bad mask %d, max diff dx %.3g dw %.3g db %.3g",
                  bad, md[0], md[1], md[2]);
}

static void test_gpt__layernorm_fd_rejects_flipped_sign(void) {
    double md[3] = { 0 };
    int bad = ln_fd(1, md);
    GT_NOTE("flipped layernorm FD max diff dx %.3g dw %.3g db %.3g", md[0], md[1], md[2]);
    ML_ASSERT_MSG(bad == 7, "a sign-flipped layernorm backward passed FD for parts %d (max diff %.3g %.3g %.3g)",
                  7 & ~bad, md[0], md[1], md[2]);
}

/* Backward accumulates: two calls on zeroed buffers give twice one call.
 * dx is one addition per element (a + a = 2a exactly); dw and db sum over
 * rows, so the second call adds onto a partial total: 1e-6 covers that
 * rounding, a missing or overwriting call is off by 100%. */
static void test_gpt__layernorm_backward_accumulates(void) {
    static ln_ctx c;
    float dx1[LN_N * LN_C] = { 0 }, dw1[LN_C] = { 0 }, db1[LN_C] = { 0 };
    float dx2[LN_N * LN_C] = { 0 }, dw2[LN_C] = { 0 }, db2[LN_C] = { 0 };
    double md = 0.0;
    ln_setup(&c);
    ml_layernorm_forward(c.y, c.mean, c.rstd, c.x, c.w, c.b, LN_N, LN_C);
    ml_layernorm_backward(dx1, dw1, db1, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
    for (int k = 0; k < 2; k++)
        ml_layernorm_backward(dx2, dw2, db2, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
    for (int i = 0; i < LN_N * LN_C; i++) dx1[i] *= 2.0f;
    for (int i = 0; i < LN_C; i++) { dw1[i] *= 2.0f; db1[i] *= 2.0f; }
    ML_ASSERT_MSG(ml_t_close_enough(dw2, dw1, LN_C, 1e-6, 1e-6, &md), "dw after two calls != 2 dw: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(db2, db1, LN_C, 1e-6, 1e-6, &md), "db after two calls != 2 db: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(dx2, dx1, LN_N * LN_C, 0.0, 0.0, &md), "dx after two calls != 2 dx: max diff %.3g", md);
    /* the same exact check does notice a single call */
    {
        float once[LN_C] = { 0 }, scratch[LN_N * LN_C] = { 0 }, dbs[LN_C] = { 0 };
        ml_layernorm_backward(scratch, once, dbs, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
        ML_ASSERT_MSG(!ml_t_close_enough(once, dw1, LN_C, 1e-6, 1e-6, &md), "one call passed for two (max diff %.3g)", md);
    }
}

/* dw and db may be NULL (a frozen LayerNorm): dx is unchanged, bit for bit */
static void test_gpt__layernorm_backward_null_dw_db(void) {
    static ln_ctx c;
    float dx1[LN_N * LN_C] = { 0 }, dw[LN_C] = { 0 }, db[LN_C] = { 0 }, dx2[LN_N * LN_C] = { 0 };
    ln_setup(&c);
    ml_layernorm_forward(c.y, c.mean, c.rstd, c.x, c.w, c.b, LN_N, LN_C);
    ml_layernorm_backward(dx1, dw, db, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
    ml_layernorm_backward(dx2, NULL, NULL, c.R, c.x, c.w, c.mean, c.rstd, LN_N, LN_C);
    ML_ASSERT_MSG(memcmp(dx1, dx2, sizeof(dx1)) == 0, "dx differs when dw and db are NULL");
}

/* ---- embeddings --------------------------------------------------------- */

#define EB 2
#define ET 5
#define EC 6
#define EV 7
#define EMAXT 6

/* token 3 appears four times, 1 three times; 4 and 5 never appear */
static const int32_t emb_tokens[EB * ET] = { 3, 1, 3, 3, 0, 6, 3, 2, 1, 1 };

typedef struct {
    float wte[EV * EC], wpe[EMAXT * EC], R[EB * ET * EC], x[EB * ET * EC];
} emb_ctx;

static void emb_setup(emb_ctx *c) {
    ml_t_fill_uniform(c->wte, EV * EC, GT_SEED, 201, -1.0f, 1.0f);
    ml_t_fill_uniform(c->wpe, EMAXT * EC, GT_SEED, 202, -1.0f, 1.0f);
    ml_t_fill_uniform(c->R, EB * ET * EC, GT_SEED, 203, -1.0f, 1.0f);
}

static double emb_loss(void *p) {
    emb_ctx *c = p;
    double s = 0.0;
    ml_embedding_forward(c->x, emb_tokens, c->wte, c->wpe, EB, ET, EC);
    for (int i = 0; i < EB * ET * EC; i++) s += (double)c->x[i] * c->R[i];
    return s;
}

/* A broken backward for the negative test: each position overwrites the
 * gradient row instead of adding, so repeated tokens lose contributions. */
static void emb_backward_overwrites(float *dwte, float *dwpe, const float *dx, const int32_t *tokens,
                                    int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) {
                dwte[(long)tokens[b * T + t] * C + c] = dx[((long)b * T + t) * C + c];
                dwpe[(long)t * C + c] = dx[((long)b * T + t) * C + c];
            }
}

static void test_gpt__embedding_forward_values(void) {
    static emb_ctx c;
    emb_setup(&c);
    ml_embedding_forward(c.x, emb_tokens, c.wte, c.wpe, EB, ET, EC);
    for (int b = 0; b < EB; b++)
        for (int t = 0; t < ET; t++)
            for (int k = 0; k < EC; k++) {
                float want = c.wte[emb_tokens[b * ET + t] * EC + k] + c.wpe[t * EC + k];
                ML_ASSERT_MSG(c.x[(b * ET + t) * EC + k] == want, "x[%d,%d,%d] = %g, want %g",
                              b, t, k, c.x[(b * ET + t) * EC + k], want);
            }
}

/* Analytic gradients in double (dwte[v] = sum of R over the positions
 * holding v, dwpe[t] = sum over b of R[b,t]) and central differences, both
 * against the backward (broken = 1: the overwriting one). 1 when all agree. */
static int emb_backward_case(int broken, double md[4]) {
    static emb_ctx c;
    float dwte[EV * EC] = { 0 }, dwpe[EMAXT * EC] = { 0 }, hte[EV * EC], hpe[EMAXT * EC];
    float nte[EV * EC], npe[EMAXT * EC];
    double ate[EV * EC] = { 0 }, ape[EMAXT * EC] = { 0 };
    emb_setup(&c);
    if (broken) emb_backward_overwrites(dwte, dwpe, c.R, emb_tokens, EB, ET, EC);
    else ml_embedding_backward(dwte, dwpe, c.R, emb_tokens, EB, ET, EC);
    for (int b = 0; b < EB; b++)
        for (int t = 0; t < ET; t++)
            for (int k = 0; k < EC; k++) {
                ate[emb_tokens[b * ET + t] * EC + k] += c.R[(b * ET + t) * EC + k];
                ape[t * EC + k] += c.R[(b * ET + t) * EC + k];
            }
    for (int i = 0; i < EV * EC; i++) hte[i] = (float)ate[i];
    for (int i = 0; i < EMAXT * EC; i++) hpe[i] = (float)ape[i];
    ml_t_central_diff_all(nte, c.wte, EV * EC, FD_EPS, emb_loss, &c);
    ml_t_central_diff_all(npe, c.wpe, EMAXT * EC, FD_EPS, emb_loss, &c);
    int ok = ml_t_close_enough(dwte, hte, EV * EC, 1e-6, 1e-6, &md[0]);
    ok &= ml_t_close_enough(dwpe, hpe, EMAXT * EC, 1e-6, 1e-6, &md[1]);
    ok &= ml_t_close_enough(dwte, nte, EV * EC, FD_ATOL, FD_RTOL, &md[2]);
    ok &= ml_t_close_enough(dwpe, npe, EMAXT * EC, FD_ATOL, FD_RTOL, &md[3]);
    return ok;
}

static void test_gpt__embedding_backward_sums_repeated_tokens(void) {
    double md[4] = { 0 };
    int ok = emb_backward_case(0, md);
    GT_NOTE("embedding max diff vs hand dwte %.3g dwpe %.3g, vs FD dwte %.3g dwpe %.3g", md[0], md[1], md[2], md[3]);
    ML_ASSERT_MSG(ok, "embedding backward: max diff vs hand dwte %.3g dwpe %.3g, "
                  "vs FD dwte %.3g dwpe %.3g", md[0], md[1], md[2], md[3]);
    ML_ASSERT_MSG(!emb_backward_case(1, md), "an overwriting embedding backward passed (max diff dwte %.3g)", md[0]);
}

static void test_gpt__embedding_backward_accumulates(void) {
    static emb_ctx c;
    float te1[EV * EC] = { 0 }, pe1[EMAXT * EC] = { 0 }, te2[EV * EC] = { 0 }, pe2[EMAXT * EC] = { 0 };
    double md = 0.0;
    emb_setup(&c);
    ml_embedding_backward(te1, pe1, c.R, emb_tokens, EB, ET, EC);
    ml_embedding_backward(te2, pe2, c.R, emb_tokens, EB, ET, EC);
    ml_embedding_backward(te2, pe2, c.R, emb_tokens, EB, ET, EC);
    ML_ASSERT_MSG(!ml_t_close_enough(te2, te1, EV * EC, 1e-6, 1e-6, &md), "two calls gave the same dwte as one");
    for (int i = 0; i < EV * EC; i++) te1[i] *= 2.0f;
    for (int i = 0; i < EMAXT * EC; i++) pe1[i] *= 2.0f;
    ML_ASSERT_MSG(ml_t_close_enough(te2, te1, EV * EC, 1e-6, 1e-6, &md), "dwte after two calls != 2x: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(pe2, pe1, EMAXT * EC, 1e-6, 1e-6, &md), "dwpe after two calls != 2x: max diff %.3g", md);
}

/* ---- attention ---------------------------------------------------------- */

#define AMAX_B 2
#define AMAX_T 7
#define AMAX_C 12
#define AMAX_NH 3
#define A_QKV (AMAX_B * AMAX_T * 3 * AMAX_C)
#define A_Y (AMAX_B * AMAX_T * AMAX_C)
#define A_ATT (AMAX_B * AMAX_NH * AMAX_T * AMAX_T)
/* scores of q, k in [-2,2] with hs = 4: |y| <= 2; float rounding ~1e-6 */
#define ATT_ATOL 1e-5
#define ATT_RTOL 1e-4

typedef struct { int B, T, C, NH; } attn_shape;
static const attn_shape attn_main = { 2, 7, 12, 3 }, attn_t1 = { 2, 1, 12, 3 };

enum { NAIVE_SOUND, NAIVE_NOT_CAUSAL, NAIVE_NO_SCALE };

/* This file's own attention in double, for the negative tests: sound, or
 * attending to the future too, or without the 1/sqrt(hs) scale. */
static void attn_naive(float *y, float *att, const float *qkv, attn_shape s, int broken) {
    int hs = s.C / s.NH, C3 = 3 * s.C;
    double scale = broken == NAIVE_NO_SCALE ? 1.0 : 1.0 / sqrt((double)hs);
    for (int b = 0; b < s.B; b++)
        for (int h = 0; h < s.NH; h++)
            for (int i = 0; i < s.T; i++) {
                double sc[AMAX_T], mx = -INFINITY, sum = 0.0;
                int last = broken == NAIVE_NOT_CAUSAL ? s.T - 1 : i;
                for (int j = 0; j <= last; j++) {
                    double d = 0.0;
                    for (int c = 0; c < hs; c++)
                        d += (double)qkv[(b * s.T + i) * C3 + h * hs + c] * qkv[(b * s.T + j) * C3 + s.C + h * hs + c];
                    sc[j] = d * scale;
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= last; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
                float *P = att + (((long)b * s.NH + h) * s.T + i) * s.T;
                for (int j = 0; j < s.T; j++) P[j] = j <= last ? (float)(sc[j] / sum) : 0.0f;
                for (int c = 0; c < hs; c++) {
                    double acc = 0.0;
                    for (int j = 0; j <= last; j++) acc += sc[j] / sum * qkv[(b * s.T + j) * C3 + 2 * s.C + h * hs + c];
                    y[(b * s.T + i) * s.C + h * hs + c] = (float)acc;
                }
            }
}

static void attn_inputs(float *qkv, attn_shape s) { ml_t_fill_uniform(qkv, (long)s.B * s.T * 3 * s.C, GT_SEED, 301, -2.0f, 2.0f); }

static void test_gpt__attention_forward_matches_reference(void) {
    static float qkv[A_QKV], y[A_Y], att[A_ATT], ry[A_Y], ratt[A_ATT];
    const attn_shape cases[2] = { attn_main, attn_t1 };
    for (int k = 0; k < 2; k++) {
        attn_shape s = cases[k];
        long ny = (long)s.B * s.T * s.C, na = (long)s.B * s.NH * s.T * s.T;
        double md = 0.0;
        attn_inputs(qkv, s);
        ml_attention_forward(y, att, qkv, s.B, s.T, s.C, s.NH);
        ml_ref_attention_forward(ry, ratt, qkv, s.B, s.T, s.C, s.NH);
        ML_ASSERT_MSG(ml_t_close_enough(y, ry, ny, ATT_ATOL, ATT_RTOL, &md), "T=%d: y max diff %.3g", s.T, md);
        ML_ASSERT_MSG(ml_t_close_enough(att, ratt, na, ATT_ATOL, ATT_RTOL, &md), "T=%d: att max diff %.3g", s.T, md);
        /* probabilities: rows sum to 1, nothing above the diagonal */
        for (int r = 0; r < s.B * s.NH * s.T; r++) {
            int i = r % s.T;
            double sum = 0.0;
            for (int j = 0; j < s.T; j++) {
                float p = att[(long)r * s.T + j];
                if (j > i) ML_ASSERT_MSG(p == 0.0f && !signbit(p), "T=%d row %d: att[%d] = %g above the diagonal",
                                         s.T, r, j, p);
                else ML_ASSERT_MSG(p > 0.0f, "T=%d row %d: att[%d] = %g not positive", s.T, r, j, p);
                sum += p;
            }
            ML_ASSERT_NEAR(1.0, sum, 1e-6, 0.0);
        }
    }
    /* T = 1 attends to itself only: y is exactly v */
    attn_inputs(qkv, attn_t1);
    ml_attention_forward(y, att, qkv, 2, 1, 12, 3);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 12; c++)
            ML_ASSERT_NEAR(qkv[b * 36 + 24 + c], y[b * 12 + c], 1e-7, 1e-6);
}

/* kernel forward vs this file's naive attention, variant `broken` */
static int attn_vs_naive(int broken, double md[2]) {
    static float qkv[A_QKV], y[A_Y], att[A_ATT], ny[A_Y], natt[A_ATT];
    attn_shape s = attn_main;
    attn_inputs(qkv, s);
    ml_attention_forward(y, att, qkv, s.B, s.T, s.C, s.NH);
    attn_naive(ny, natt, qkv, s, broken);
    int ok = ml_t_close_enough(y, ny, A_Y, ATT_ATOL, ATT_RTOL, &md[0]);
    ok &= ml_t_close_enough(att, natt, A_ATT, ATT_ATOL, ATT_RTOL, &md[1]);
    return ok;
}

static void test_gpt__attention_checker_rejects_broken_reference(void) {
    double md[2] = { 0 };
    ML_ASSERT_MSG(attn_vs_naive(NAIVE_SOUND, md), "kernel vs this file's attention: max diff y %.3g att %.3g",
                  md[0], md[1]);
    ML_ASSERT_MSG(!attn_vs_naive(NAIVE_NOT_CAUSAL, md), "a non-causal reference passed (max diff y %.3g)", md[0]);
    ML_ASSERT_MSG(!attn_vs_naive(NAIVE_NO_SCALE, md), "a reference without 1/sqrt(hs) passed (max diff y %.3g)", md[0]);
}

/* backward (dqkv prefilled with random values, so += is checked too) vs
 * ml_ref_attention_backward; flip negates the kernel's contribution. */
static int attn_backward_case(attn_shape s, int flip, double *md) {
    static float qkv[A_QKV], y[A_Y], att[A_ATT], dy[A_Y], datt[A_ATT];
    static float d0[A_QKV], dk[A_QKV], dr[A_QKV];
    long nq = (long)s.B * s.T * 3 * s.C;
    attn_inputs(qkv, s);
    ml_t_fill_uniform(dy, (long)s.B * s.T * s.C, GT_SEED, 302, -1.0f, 1.0f);
    ml_t_fill_uniform(d0, nq, GT_SEED, 303, -1.0f, 1.0f);
    memcpy(dk, d0, (size_t)nq * sizeof(float));
    memcpy(dr, d0, (size_t)nq * sizeof(float));
    ml_attention_forward(y, att, qkv, s.B, s.T, s.C, s.NH);
    ml_attention_backward(dk, datt, dy, qkv, att, s.B, s.T, s.C, s.NH);
    ml_ref_attention_backward(dr, dy, qkv, att, s.B, s.T, s.C, s.NH);
    if (flip)
        for (long i = 0; i < nq; i++) dk[i] = d0[i] - (dk[i] - d0[i]);
    return ml_t_close_enough(dk, dr, nq, ATT_ATOL, ATT_RTOL, md);
}

static void test_gpt__attention_backward_matches_reference(void) {
    double md = 0.0;
    ML_ASSERT_MSG(attn_backward_case(attn_main, 0, &md), "T=7: dqkv max diff %.3g", md);
    ML_ASSERT_MSG(attn_backward_case(attn_t1, 0, &md), "T=1: dqkv max diff %.3g", md);
    ML_ASSERT_MSG(!attn_backward_case(attn_main, 1, &md), "a sign-flipped backward passed (max diff %.3g)", md);
}

typedef struct {
    float qkv[A_QKV], y[A_Y], att[A_ATT], R[A_Y];
    attn_shape s;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    double sum = 0.0;
    ml_attention_forward(c->y, c->att, c->qkv, c->s.B, c->s.T, c->s.C, c->s.NH);
    for (long i = 0; i < (long)c->s.B * c->s.T * c->s.C; i++) sum += (double)c->y[i] * c->R[i];
    return sum;
}

/* FD check of dqkv through ml_attention_forward; flip negates the analytic one */
static int attn_fd(int flip, double *md) {
    static attn_ctx c;
    static float dq[A_QKV], num[A_QKV], datt[A_ATT];
    c.s = attn_main;
    attn_inputs(c.qkv, c.s);
    ml_t_fill_uniform(c.R, A_Y, GT_SEED, 304, -1.0f, 1.0f);
    memset(dq, 0, sizeof(dq));
    ml_attention_forward(c.y, c.att, c.qkv, c.s.B, c.s.T, c.s.C, c.s.NH);
    ml_attention_backward(dq, datt, c.R, c.qkv, c.att, c.s.B, c.s.T, c.s.C, c.s.NH);
    if (flip) negate(dq, A_QKV);
    ml_t_central_diff_all(num, c.qkv, A_QKV, FD_EPS, attn_loss, &c);
    return ml_t_close_enough(dq, num, A_QKV, FD_ATOL, FD_RTOL, md);
}

static void test_gpt__attention_backward_fd(void) {
    double md = 0.0;
    int ok = attn_fd(0, &md);
    GT_NOTE("attention dqkv FD max diff %.3g", md);
    ML_ASSERT_MSG(ok, "attention dqkv vs FD: max diff %.3g", md);
    ML_ASSERT_MSG(!attn_fd(1, &md), "a sign-flipped attention backward passed FD (max diff %.3g)", md);
}

/* ---- the GPT model ------------------------------------------------------ */

/* the tiny model of the model-level tests */
static const ml_gpt_config tiny_cfg = { .vocab_size = 11, .max_T = 8, .n_layer = 2, .n_head = 2, .n_embd = 8 };
#define TB 2
#define TT 8
#define TN (TB * TT)
#define TV 11

static ml_gpt *gpt_make(const ml_gpt_config *cfg, int B, int T, uint64_t seed) {
    ml_gpt *m = NULL;
    if (ml_gpt_new(&m, cfg, B, T) < 0) return NULL;
    ml_gpt_init(m, seed);
    return m;
}

static void zero_grads(ml_gpt *m) { memset(m->grads, 0, m->layout.total * sizeof(float)); }

/* GPT-2 init leaves every bias 0, LayerNorms at identity and weights at
 * 0.02: gradients are tiny and biases untested. For the FD check every
 * tensor is redrawn: matrices U[-0.4,0.4], LN weights 1+U[-0.3,0.3], the
 * rest U[-0.2,0.2]. */
static void params_spread(ml_gpt *m) {
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        float *p = m->params + ti->offset;
        size_t n = strlen(ti->name);
        if (ti->ndim == 2) ml_t_fill_uniform(p, (long)ti->numel, GT_SEED, 400 + (uint64_t)k, -0.4f, 0.4f);
        else if (n >= 2 && !strcmp(ti->name + n - 2, ".w")) {
            ml_t_fill_uniform(p, (long)ti->numel, GT_SEED, 400 + (uint64_t)k, 0.7f, 1.3f);
        } else ml_t_fill_uniform(p, (long)ti->numel, GT_SEED, 400 + (uint64_t)k, -0.2f, 0.2f);
    }
}

typedef struct {
    ml_gpt *m;
    const int32_t *tokens, *targets;
    int B, T;
} gpt_ctx;

/* mean cross-entropy over the non-ignored targets, from the float logits
 * of a plain forward, in double */
static double gpt_loss(void *p) {
    gpt_ctx *c = p;
    ml_gpt_forward(c->m, c->tokens, NULL, c->B, c->T, -1, NULL);
    return ml_t_mean_ce(c->m->logits, c->targets, (long)c->B * c->T, c->m->cfg.vocab_size);
}

#define FD_SAMPLES 30
#define FD_STRIDE 37   /* prime, divides no tensor size here: 30 distinct entries */

enum { GRAD_SOUND, GRAD_NEGATED, GRAD_SCALED };

typedef struct {
    int n_bad;          /* tensors whose sampled entries disagree */
    int first_bad;      /* layout index of the first, or -1 */
    double maxdiff;     /* over all sampled entries */
    int checked;        /* entries compared */
    int setup_failed;
} gpt_fd_result;

/* Central differences of the mean loss for up to FD_SAMPLES entries of
 * every tensor of the tiny model (entry (k*FD_STRIDE + 3) mod numel),
 * against ml_gpt_backward (broken: negated or scaled by 1.1). */
static gpt_fd_result gpt_fd(int broken, int with_ignore) {
    gpt_fd_result r = { 0, -1, 0.0, 0, 0 };
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 5);
    int32_t tokens[TN], targets[TN];
    static float ana[FD_SAMPLES], num[FD_SAMPLES];
    if (!m) { r.setup_failed = 1; return r; }
    params_spread(m);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 410);
    ml_t_fill_tokens(targets, TN, TV, GT_SEED, 411);
    if (with_ignore) { targets[0] = ML_IGNORE; targets[5] = ML_IGNORE; targets[TN - 1] = ML_IGNORE; }
    zero_grads(m);
    ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
    if (ml_gpt_backward(m, tokens, targets, NULL) != 0) { r.setup_failed = 1; ml_gpt_free(m); return r; }
    gpt_ctx c = { m, tokens, targets, TB, TT };
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        int ns = ti->numel < FD_SAMPLES ? (int)ti->numel : FD_SAMPLES;
        double md = 0.0;
        for (int s = 0; s < ns; s++) {
            long idx = ns == (int)ti->numel ? s : (long)(((size_t)s * FD_STRIDE + 3) % ti->numel);
            float g = m->grads[ti->offset + idx];
            ana[s] = broken == GRAD_NEGATED ? -g : broken == GRAD_SCALED ? 1.1f * g : g;
            num[s] = ml_t_central_diff(m->params + ti->offset, idx, FD_EPS, gpt_loss, &c);
        }
        if (!ml_t_close_enough(ana, num, ns, FD_ATOL, FD_RTOL, &md)) {
            if (r.first_bad < 0) r.first_bad = k;
            r.n_bad++;
        }
        if (md > r.maxdiff || isnan(md)) r.maxdiff = md;
        r.checked += ns;
    }
    ml_gpt_free(m);
    return r;
}

static void test_gpt__model_backward_fd(void) {
    for (int ign = 0; ign < 2; ign++) {
        gpt_fd_result r = gpt_fd(GRAD_SOUND, ign);
        GT_NOTE("model FD (ignore %d): max diff %.3g over %d entries, %d tensors bad", ign, r.maxdiff, r.checked,
                r.n_bad);
        ML_ASSERT_MSG(!r.setup_failed, "setup failed: %s", ml_error_last()->message);
        ML_ASSERT_MSG(r.n_bad == 0, "ignore %d: %d tensors disagree with FD, first layout entry %d; "
                      "max diff %.3g over %d entries", ign, r.n_bad, r.first_bad, r.maxdiff, r.checked);
    }
}

static void test_gpt__model_fd_rejects_broken_grads(void) {
    gpt_fd_result r = gpt_fd(GRAD_NEGATED, 1);
    GT_NOTE("negated: %d tensors rejected, max diff %.3g", r.n_bad, r.maxdiff);
    ML_ASSERT_MSG(!r.setup_failed, "setup failed");
    ML_ASSERT_MSG(r.n_bad > 0, "negated gradients passed FD (max diff %.3g)", r.maxdiff);
    r = gpt_fd(GRAD_SCALED, 1);
    GT_NOTE("scaled 1.1: %d tensors rejected, max diff %.3g", r.n_bad, r.maxdiff);
    ML_ASSERT_MSG(r.n_bad > 0, "gradients scaled by 1.1 passed FD (max diff %.3g)", r.maxdiff);
}

/* Changing the token at t changes no logit at positions < t (bit for bit),
 * nothing in the other sequence, and does change position t. */
static void test_gpt__model_is_causal(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 7);
    int32_t tokens[TN], changed[TN];
    static float base[TN * TV];
    ML_ASSERT_MSG(m != NULL, "ml_gpt_new: %s", ml_error_last()->message);
    params_spread(m);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 420);
    ml_gpt_forward(m, tokens, NULL, TB, TT, -1, NULL);
    memcpy(base, m->logits, sizeof(base));
    int fails = 0, fail_t = -1;
    const char *what = "";
    for (int t = 0; t < TT && !fails; t++) {
        memcpy(changed, tokens, sizeof(tokens));
        changed[t] = (tokens[t] + 1) % TV;                 /* sequence 0 only */
        ml_gpt_forward(m, changed, NULL, TB, TT, -1, NULL);
        if (t > 0 && memcmp(ml_gpt_logits(m, 0, 0), base, (size_t)t * TV * sizeof(float)) != 0)
            fails = 1, fail_t = t, what = "an earlier position's logits changed";
        else if (memcmp(ml_gpt_logits(m, 0, t), base + t * TV, TV * sizeof(float)) == 0)
            fails = 1, fail_t = t, what = "the changed position's logits did not change";
        else if (memcmp(ml_gpt_logits(m, 1, 0), base + TT * TV, TT * TV * sizeof(float)) != 0)
            fails = 1, fail_t = t, what = "the other sequence's logits changed";
    }
    ml_gpt_free(m);
    ML_ASSERT_MSG(!fails, "token changed at t=%d: %s", fail_t, what);
}

/* A forward on a (B,T) smaller than the buffers' capacity reads the same
 * prefix layout: its logits match the first positions of a full forward. */
static void test_gpt__model_forward_shorter_T_matches_prefix(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 8);
    int32_t tokens[TN], shortt[TB * 5];
    static float full[TN * TV];
    double md = 0.0;
    int ok = 1, bad_b = -1;
    ML_ASSERT(m != NULL);
    params_spread(m);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 425);
    ml_gpt_forward(m, tokens, NULL, TB, TT, -1, NULL);
    memcpy(full, m->logits, sizeof(full));
    for (int b = 0; b < TB; b++) memcpy(shortt + b * 5, tokens + b * TT, 5 * sizeof(int32_t));
    ml_gpt_forward(m, shortt, NULL, TB, 5, -1, NULL);
    for (int b = 0; b < TB && ok; b++)
        if (!ml_t_close_enough(ml_gpt_logits(m, b, 0), full + b * TT * TV, 5 * TV, 1e-5, 1e-5, &md)) ok = 0, bad_b = b;
    ml_gpt_free(m);
    ML_ASSERT_MSG(ok, "T=5 forward vs the first 5 positions of T=8, sequence %d: max diff %.3g", bad_b, md);
}

/* ---- trainable mask ----------------------------------------------------- */

static int is_mlp_name(const char *n) {
    int l, off = 0;
    return sscanf(n, "h.%d.mlp.%n", &l, &off) == 1 && off > 0;
}

static void test_gpt__mark_trainable_mlp(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 9);
    unsigned char mask[64];
    char bad[96] = "";
    int marked = 0;
    ML_ASSERT(m != NULL);
    ML_ASSERT(m->layout.n <= 64);
    memset(mask, 0, sizeof(mask));
    int rc = ml_gpt_mark_trainable(mask, m, "mlp");
    for (int k = 0; k < m->layout.n && rc == 0; k++) {
        if (mask[k] != is_mlp_name(m->layout.tensors[k].name) && !bad[0])
            snprintf(bad, sizeof(bad), "%s marked %d", m->layout.tensors[k].name, mask[k]);
        marked += mask[k];
    }
    ml_gpt_free(m);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_MSG(!bad[0], "mlp mask: %s", bad);
    ML_ASSERT_EQ_INT(4 * tiny_cfg.n_layer, marked);
}

static void test_gpt__mark_trainable_unknown_group(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 9);
    unsigned char mask[64] = { 0 }, zeros[64] = { 0 };
    ML_ASSERT(m != NULL);
    int rc = ml_gpt_mark_trainable(mask, m, "mlps");
    ml_gpt_free(m);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_error_last()->code);
    ML_ASSERT_STR_HAS(ml_error_last()->message,
                      "unknown parameter group \"mlps\" (expected one of: all, mlp, attn, ln, embed)");
    ML_ASSERT_MSG(memcmp(mask, zeros, sizeof(mask)) == 0, "a rejected group marked tensors");
}

#define SENTINEL 12345.5f

/* Runs a forward and a backward masked by `group` in a child process:
 * 1 when it returns normally, 0 when it crashes (signal, or a sanitizer's
 * error exit). A crash must fail the test, not take the runner down. */
static int masked_backward_survives(const char *group, int *status) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { *status = -1; return 0; }
    if (pid == 0) {
        ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 10);
        unsigned char mask[64] = { 0 };
        int32_t tokens[TN], targets[TN];
        if (!m || ml_gpt_mark_trainable(mask, m, group) < 0) _exit(3);
        ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 430);
        ml_t_fill_tokens(targets, TN, TV, GT_SEED, 431);
        ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
        int rc = ml_gpt_backward(m, tokens, targets, mask);
        ml_gpt_free(m);
        _exit(rc == 0 ? 0 : 4);
    }
    if (waitpid(pid, status, 0) != pid) return 0;
    return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

/* Backward masked by `group` vs the full backward: frozen grads must keep
 * a sentinel, trained grads must equal the full ones bit for bit. Returns
 * 0 when they do; otherwise writes the reason to why. */
static int masked_backward_check(const char *group, char *why, size_t whylen) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 10);
    unsigned char mask[64] = { 0 };
    int32_t tokens[TN], targets[TN];
    float *full = NULL;
    int bad = 1, rc1 = -99, rc2 = -99;
    snprintf(why, whylen, "setup failed");
    if (!m || m->layout.n > 64 || !(full = malloc(m->layout.total * sizeof(float))) ||
        ml_gpt_mark_trainable(mask, m, group) < 0)
        goto out;
    params_spread(m);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 430);
    ml_t_fill_tokens(targets, TN, TV, GT_SEED, 431);
    zero_grads(m);
    ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
    rc1 = ml_gpt_backward(m, tokens, targets, NULL);
    memcpy(full, m->grads, m->layout.total * sizeof(float));
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        for (size_t i = 0; i < ti->numel; i++) m->grads[ti->offset + i] = mask[k] ? 0.0f : SENTINEL;
    }
    ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
    rc2 = ml_gpt_backward(m, tokens, targets, mask);
    if (rc1 != 0 || rc2 != 0) { snprintf(why, whylen, "backward returned %d / %d", rc1, rc2); goto out; }
    bad = 0;
    for (int k = 0; k < m->layout.n && !bad; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        const float *g = m->grads + ti->offset;
        if (mask[k]) {
            if (memcmp(g, full + ti->offset, ti->numel * sizeof(float)) != 0) {
                snprintf(why, whylen, "%s: masked grads differ from the full backward's", ti->name);
                bad = 1;
            }
        } else
            for (size_t i = 0; i < ti->numel && !bad; i++)
                if (g[i] != SENTINEL) {
                    snprintf(why, whylen, "%s is frozen but its grad[%zu] was written (%g)", ti->name, i, g[i]);
                    bad = 1;
                }
    }
out:
    free(full);
    ml_gpt_free(m);
    return bad;
}

static void test_gpt__masked_backward_leaves_frozen_grads(void) {
    char why[160];
    int status = 0;
    ML_ASSERT_MSG(masked_backward_survives("mlp", &status),
                  "ml_gpt_backward with the \"mlp\" mask crashed (wait status 0x%x)", status);
    ML_ASSERT_MSG(masked_backward_check("mlp", why, sizeof(why)) == 0, "mlp mask: %s", why);
}

/* every group, not only "mlp"; each freezes something different */
static void test_gpt__masked_backward_every_group(void) {
    static const char *const groups[] = { "all", "mlp", "attn", "ln", "embed" };
    char why[160], fails[600] = "";
    size_t used = 0;
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        int status = 0;
        if (!masked_backward_survives(groups[g], &status))
            used += (size_t)snprintf(fails + used, sizeof(fails) - used, " [%s: backward crashed, wait status 0x%x]",
                                     groups[g], status);
        else if (masked_backward_check(groups[g], why, sizeof(why)) != 0)
            used += (size_t)snprintf(fails + used, sizeof(fails) - used, " [%s: %s]", groups[g], why);
        if (used >= sizeof(fails)) used = sizeof(fails) - 1;
    }
    ML_ASSERT_MSG(!fails[0], "masked backward:%s", fails);
}

/* N AdamW steps (decay on, so a leak would move frozen matrices too) with
 * the "mlp" mask: frozen params are bit-identical, every mlp tensor moved. */
static void test_gpt__masked_adamw_freezes_non_mlp(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 11);
    ml_adamw *o = NULL;
    ml_adamw_config oc = { .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f };
    unsigned char mask[64] = { 0 };
    int32_t tokens[TN], targets[TN];
    float *start = NULL;
    const char *bad = NULL;
    int ok = 0, status = 0;
    if (!masked_backward_survives("mlp", &status)) {
        ml_gpt_free(m);
        ML_ASSERT_MSG(0, "ml_gpt_backward with the \"mlp\" mask crashed (wait status 0x%x)", status);
    }
    ML_ASSERT(m != NULL);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 440);
    ml_t_fill_tokens(targets, TN, TV, GT_SEED, 441);
    start = malloc(m->layout.total * sizeof(float));
    if (start && ml_gpt_mark_trainable(mask, m, "mlp") == 0 && ml_adamw_new(&o, &m->layout, &oc) == 0) {
        memcpy(start, m->params, m->layout.total * sizeof(float));
        ok = 1;
        for (int s = 0; s < 5 && ok; s++) {
            zero_grads(m);
            ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
            ok = ml_gpt_backward(m, tokens, targets, mask) == 0;
            ml_adamw_step(o, m->params, m->grads, oc.lr, mask);
        }
        for (int k = 0; k < m->layout.n && ok && !bad; k++) {
            const ml_tensor_info *ti = &m->layout.tensors[k];
            int same = memcmp(m->params + ti->offset, start + ti->offset, ti->numel * sizeof(float)) == 0;
            if (mask[k] == same) bad = ti->name;
        }
    }
    free(start);
    ml_adamw_free(o);
    ml_gpt_free(m);
    ML_ASSERT_MSG(ok, "setup or backward failed: %s", ml_error_last()->message);
    ML_ASSERT_MSG(!bad, "after 5 masked steps %s is wrong (frozen and moved, or trainable and still)", bad);
}

/* ---- residual capture and injection ------------------------------------ */

static void test_gpt__inject_captured_residual_reproduces_logits(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 12);
    int32_t tokens[TN], other[TN], targets[TN];
    static float base[TN * TV], res[TN * 8], res_other[TN * 8];
    int L = tiny_cfg.n_layer, fail = -1, why = 0, rc_inj = 0, rc_plain = -99;
    char msg[ML_ERROR_MSG_MAX] = "";
    ML_ASSERT(m != NULL);
    params_spread(m);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 450);
    ml_t_fill_tokens(other, TN, TV, GT_SEED, 451);
    ml_t_fill_tokens(targets, TN, TV, GT_SEED, 452);
    for (int l = 0; l <= L && fail < 0; l++) {
        ml_gpt_forward(m, other, NULL, TB, TT, -1, NULL);
        memcpy(res_other, ml_gpt_residual(m, l), sizeof(res_other));
        ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
        memcpy(base, m->logits, sizeof(base));
        memcpy(res, ml_gpt_residual(m, l), sizeof(res));
        ml_gpt_forward(m, tokens, targets, TB, TT, l, res);
        if (memcmp(m->logits, base, sizeof(base)) != 0) { fail = l; why = 1; break; }
        ml_gpt_forward(m, tokens, targets, TB, TT, l, res_other);
        if (memcmp(m->logits, base, sizeof(base)) == 0) { fail = l; why = 2; break; }
        rc_inj = ml_gpt_backward(m, tokens, targets, NULL);
        if (rc_inj != ML_EINVALID) { fail = l; why = 3; break; }
        char want[96];
        snprintf(want, sizeof(want), "gpt backward: the last forward injected a residual at layer %d", l);
        snprintf(msg, sizeof(msg), "%s", ml_error_last()->message);
        if (strcmp(msg, want) != 0) { fail = l; why = 4; break; }
    }
    /* a plain forward clears the injected state */
    zero_grads(m);
    ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
    rc_plain = ml_gpt_backward(m, tokens, targets, NULL);
    ml_gpt_free(m);
    ML_ASSERT_MSG(why != 1, "layer %d: injecting the captured residual changed the logits", fail);
    ML_ASSERT_MSG(why != 2, "layer %d: injecting another residual left the logits unchanged", fail);
    ML_ASSERT_MSG(why != 3, "layer %d: backward after an injected forward returned %d, want ML_EINVALID",
                  fail, rc_inj);
    ML_ASSERT_MSG(why != 4, "layer %d: message \"%s\"", fail, msg);
    ML_ASSERT_EQ_INT(0, rc_plain);
}

/* The injected residual replaces everything below block l (for l = 0 the
 * embedding too): two different token sets with the same injected
 * residual give bit-identical logits. */
static void test_gpt__inject_ignores_tokens_below(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 13);
    int32_t a[TN], b[TN];
    static float res[TN * 8], la[TN * TV];
    int bad = -1;
    ML_ASSERT(m != NULL);
    params_spread(m);
    ml_t_fill_tokens(a, TN, TV, GT_SEED, 460);
    ml_t_fill_tokens(b, TN, TV, GT_SEED, 461);
    for (int l = 0; l <= tiny_cfg.n_layer && bad < 0; l++) {
        ml_gpt_forward(m, a, NULL, TB, TT, -1, NULL);
        memcpy(res, ml_gpt_residual(m, l), sizeof(res));
        ml_gpt_forward(m, a, NULL, TB, TT, l, res);
        memcpy(la, m->logits, sizeof(la));
        ml_gpt_forward(m, b, NULL, TB, TT, l, res);
        if (memcmp(la, m->logits, sizeof(la)) != 0) bad = l;
    }
    ml_gpt_free(m);
    ML_ASSERT_MSG(bad < 0, "layer %d: logits of an injected forward depend on the tokens", bad);
}

/* backward needs the targets of a forward that computed the probabilities */
static void test_gpt__backward_without_targets_rejected(void) {
    ml_gpt *m = gpt_make(&tiny_cfg, TB, TT, 14);
    int32_t tokens[TN], targets[TN];
    int rc_null, rc_stale;
    ML_ASSERT(m != NULL);
    ml_t_fill_tokens(tokens, TN, TV, GT_SEED, 470);
    ml_t_fill_tokens(targets, TN, TV, GT_SEED, 471);
    zero_grads(m);
    ml_gpt_forward(m, tokens, targets, TB, TT, -1, NULL);
    rc_null = ml_gpt_backward(m, tokens, NULL, NULL);
    /* gpt.h: "ML_EINVALID after a forward ... without targets": that forward
     * computed no probabilities, a backward would read a stale m->probs */
    ml_gpt_forward(m, tokens, NULL, TB, TT, -1, NULL);
    rc_stale = ml_gpt_backward(m, tokens, targets, NULL);
    ml_gpt_free(m);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_null);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_stale);
}

/* ---- loss at init and overfitting one batch ----------------------------- */

/* V = 96, C = 32: logits are lnf(x) . wte[v] with wte ~ N(0, 0.02^2) and
 * lnf(x) of unit variance, so they spread by ~0.02*sqrt(32) = 0.11 and the
 * expected loss for random targets is ln 96 + O(0.11^2/2) = ln 96 + ~0.01.
 * 0.1 leaves room for the handful of targets that equal their input
 * token (whose tied logit is ~0.4 higher), while a wrong scale (init at
 * 1.0: logits ~6) or a broken softmax misses it by far. */
static void test_gpt__loss_at_init_is_ln_V(void) {
    const ml_gpt_config cfg = { .vocab_size = 96, .max_T = 16, .n_layer = 2, .n_head = 4, .n_embd = 32 };
    enum { B = 4, T = 16 };
    ml_gpt *m = gpt_make(&cfg, B, T, 21);
    int32_t tokens[B * T], targets[B * T];
    ML_ASSERT(m != NULL);
    ml_t_fill_tokens(tokens, B * T, 96, GT_SEED, 480);
    ml_t_fill_tokens(targets, B * T, 96, GT_SEED, 481);
    double loss = ml_gpt_forward(m, tokens, targets, B, T, -1, NULL);
    ml_gpt_free(m);
    GT_NOTE("loss at init %.4f, ln 96 = %.4f", loss, log(96.0));
    ML_ASSERT_NEAR(log(96.0), loss, 0.1, 0.0);
}

/* V=16, C=16, L=2 on one fixed batch of 4 x 8 random tokens: 32 distinct
 * (context, target) pairs to memorise. AdamW lr 3e-3, no decay, 300 steps
 * from ~ln 16 = 2.77. Measured: 0.0068 after 200 steps, 0.00044 after 300,
 * so < 0.05 holds with a 100x margin; the run is deterministic (fixed
 * seeds, fixed batch). Returns the final loss, or -1 on setup failure. */
static double overfit_one_batch(int steps, double *first) {
    const ml_gpt_config cfg = { .vocab_size = 16, .max_T = 8, .n_layer = 2, .n_head = 2, .n_embd = 16 };
    enum { B = 4, T = 8 };
    ml_gpt *m = gpt_make(&cfg, B, T, 31);
    ml_adamw *o = NULL;
    ml_adamw_config oc = { .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.0f };
    int32_t tokens[B * T], targets[B * T];
    double loss = -1.0;
    if (!m || ml_adamw_new(&o, &m->layout, &oc) < 0) goto out;
    ml_t_fill_tokens(tokens, B * T, 16, GT_SEED, 490);
    ml_t_fill_tokens(targets, B * T, 16, GT_SEED, 491);
    for (int s = 0; s < steps; s++) {
        zero_grads(m);
        loss = ml_gpt_forward(m, tokens, targets, B, T, -1, NULL);
        if (s == 0) *first = loss;
        if (ml_gpt_backward(m, tokens, targets, NULL) < 0) { loss = -1.0; goto out; }
        ml_adamw_step(o, m->params, m->grads, oc.lr, NULL);
    }
    loss = ml_gpt_forward(m, tokens, targets, B, T, -1, NULL);
out:
    ml_adamw_free(o);
    ml_gpt_free(m);
    return loss;
}

static void test_gpt__overfits_one_batch(void) {
    double first = 0.0, loss = overfit_one_batch(300, &first);
    GT_NOTE("overfit: loss %.4f -> %.5f", first, loss);
    ML_ASSERT_MSG(loss >= 0.0, "setup failed: %s", ml_error_last()->message);
    ML_ASSERT_MSG(loss < 0.05, "loss %.4f after 300 steps (from %.4f), want < 0.05", loss, first);
    /* the same criterion is not met without training */
    ML_ASSERT_MSG(!(first < 0.05), "the untrained model already had loss %.4f", first);
}

/* ---- determinism -------------------------------------------------------- */

/* 20 AdamW steps of a model large enough for OpenBLAS to use its threads
 * (gemms of 128 x 192 x 64 and up), fresh batches each step; returns a
 * malloc'd copy of the final params (NULL on failure), *n their count. */
static float *train_20(uint64_t seed, size_t *n) {
    const ml_gpt_config cfg = { .vocab_size = 128, .max_T = 32, .n_layer = 2, .n_head = 4, .n_embd = 64 };
    enum { B = 4, T = 32 };
    ml_gpt *m = gpt_make(&cfg, B, T, seed);
    ml_adamw *o = NULL;
    ml_adamw_config oc = { .lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f };
    int32_t tokens[B * T], targets[B * T];
    float *out = NULL;
    if (!m || ml_adamw_new(&o, &m->layout, &oc) < 0) goto done;
    for (int s = 0; s < 20; s++) {
        ml_t_fill_tokens(tokens, B * T, 128, GT_SEED, 500 + 2 * (uint64_t)s);
        ml_t_fill_tokens(targets, B * T, 128, GT_SEED, 501 + 2 * (uint64_t)s);
        zero_grads(m);
        ml_gpt_forward(m, tokens, targets, B, T, -1, NULL);
        if (ml_gpt_backward(m, tokens, targets, NULL) < 0) goto done;
        ml_clip_grad_norm(m->grads, m->layout.total, 1.0);
        ml_adamw_step(o, m->params, m->grads, ml_lr_at(oc.lr, s, 20, 5, 1, 0.1f), NULL);
    }
    out = malloc(m->layout.total * sizeof(float));
    if (out) { memcpy(out, m->params, m->layout.total * sizeof(float)); *n = m->layout.total; }
done:
    ml_adamw_free(o);
    ml_gpt_free(m);
    return out;
}

static void test_gpt__training_is_deterministic(void) {
    int threads0 = ml_blas_threads(), same_now = 0, same_one = 0, same_seed_differs = 1;
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0, n5 = 0;
    float *a = train_20(41, &n1), *b = train_20(41, &n2), *e = train_20(42, &n5);
    ml_blas_set_threads(1);
    float *c = train_20(41, &n3), *d = train_20(41, &n4);
    ml_blas_set_threads(threads0);
    if (a && b && c && d && e) {
        same_now = n1 == n2 && memcmp(a, b, n1 * sizeof(float)) == 0;
        same_one = n3 == n4 && memcmp(c, d, n3 * sizeof(float)) == 0;
        same_seed_differs = memcmp(a, e, n1 * sizeof(float)) == 0;
    }
    free(a); free(b); free(c); free(d); free(e);
    ML_ASSERT_MSG(n1 && n2 && n3 && n4 && n5, "training setup failed: %s", ml_error_last()->message);
    ML_ASSERT_EQ_INT(threads0, ml_blas_threads());
    ML_ASSERT_MSG(same_now, "two identical runs on %d OpenBLAS threads differ", threads0);
    ML_ASSERT_MSG(same_one, "two identical runs on 1 OpenBLAS thread differ");
    ML_ASSERT_MSG(!same_seed_differs, "a different seed gave the same params: the comparison is vacuous");
}

/* ---- learning-rate schedule and clipping -------------------------------- */

typedef float (*lr_fn)(float lr, long step, long total, long warmup, int cosine, float min_ratio);

/* A broken schedule for the negative test: the cosine ignores min_ratio
 * (decays to 0) and warmup starts at 0 instead of lr/warmup. */
static float lr_broken(float lr, long step, long total, long warmup, int cosine, float min_ratio) {
    if (step < warmup) return lr * (float)step / (float)warmup;
    if (!cosine) return lr;
    double p = (double)(step - warmup) / (double)(total - warmup - 1);
    return (float)(lr * 0.5 * (1.0 + cos(M_PI * p)));
}

/* The schedule lr = 0.01, total 110, warmup 10, min_ratio 0.1 against its
 * definition: (s+1)/10 * lr during warmup, lr at step 10, (lr+min)/2 at the
 * middle of the cosine (step 10 + 99/2 is not an integer: use the formula),
 * min at step 109 and after, constant lr with cosine 0. Returns the number
 * of mismatches (relative tolerance 1e-6); *worst the first bad step. */
static int schedule_check(lr_fn f, long *worst) {
    const float lr = 0.01f, minr = 0.1f;
    const long total = 110, warm = 10;
    int bad = 0;
    *worst = -1;
    for (long s = 0; s < total + 5; s++) {
        double want, got = f(lr, s, total, warm, 1, minr), want_const = s < warm ? lr * (s + 1.0) / warm : lr;
        if (s < warm) want = lr * (s + 1.0) / warm;
        else {
            double p = fmin(1.0, (double)(s - warm) / (double)(total - warm - 1));
            want = lr * minr + (lr - lr * minr) * 0.5 * (1.0 + cos(M_PI * p));
        }
        float gf = (float)got, wf = (float)want, gc = f(lr, s, total, warm, 0, minr), wc = (float)want_const;
        if (!ml_t_close_enough(&gf, &wf, 1, 0.0, 1e-6, NULL) || !ml_t_close_enough(&gc, &wc, 1, 0.0, 1e-6, NULL)) {
            if (*worst < 0) *worst = s;
            bad++;
        }
    }
    /* the endpoints by value, not only through the same formula */
    float first = f(lr, warm, total, warm, 1, minr), last = f(lr, total - 1, total, warm, 1, minr);
    float want_first = lr, want_last = lr * minr, ramp0 = f(lr, 0, total, warm, 1, minr), want0 = lr / warm;
    if (!ml_t_close_enough(&first, &want_first, 1, 0.0, 1e-6, NULL)) bad++;
    if (!ml_t_close_enough(&last, &want_last, 1, 0.0, 1e-6, NULL)) bad++;
    if (!ml_t_close_enough(&ramp0, &want0, 1, 0.0, 1e-6, NULL)) bad++;
    return bad;
}

static void test_gpt__lr_schedule(void) {
    long at = -1;
    int bad = schedule_check(ml_lr_at, &at);
    ML_ASSERT_MSG(bad == 0, "ml_lr_at: %d mismatches, first at step %ld", bad, at);
    /* no warmup: step 0 is already the peak */
    ML_ASSERT_NEAR(0.5, ml_lr_at(0.5f, 0, 10, 0, 1, 0.0f), 0.0, 1e-6);
    ML_ASSERT_NEAR(0.0, ml_lr_at(0.5f, 9, 10, 0, 1, 0.0f), 1e-7, 0.0);
    ML_ASSERT_NEAR(0.5, ml_lr_at(0.5f, 1000, 10, 0, 0, 0.0f), 0.0, 0.0);
}

static void test_gpt__lr_checker_rejects_broken(void) {
    long at = -1;
    int bad = schedule_check(lr_broken, &at);
    ML_ASSERT_MSG(bad > 0, "a schedule without min_ratio and an off-by-one warmup passed");
}

static void test_gpt__clip_grad_norm(void) {
    enum { N = 1000 };
    static float g[N], g0[N];
    double s = 0.0;
    ml_t_fill_uniform(g0, N, GT_SEED, 510, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) s += (double)g0[i] * g0[i];
    double norm0 = sqrt(s);    /* ~18 */
    /* above max_norm: returns the old norm, the new one is max_norm */
    memcpy(g, g0, sizeof(g));
    double r = ml_clip_grad_norm(g, N, 2.0);
    ML_ASSERT_NEAR(norm0, r, 0.0, 1e-12);
    s = 0.0;
    for (int i = 0; i < N; i++) s += (double)g[i] * g[i];
    ML_ASSERT_NEAR(2.0, sqrt(s), 0.0, 1e-6);
    /* the direction is kept */
    for (int i = 0; i < N; i++) ML_ASSERT_NEAR(g0[i] * (2.0 / norm0), g[i], 1e-9, 1e-6);
    /* below max_norm: a no-op, bit for bit */
    memcpy(g, g0, sizeof(g));
    r = ml_clip_grad_norm(g, N, norm0 * 1.5);
    ML_ASSERT_NEAR(norm0, r, 0.0, 1e-12);
    ML_ASSERT_MSG(memcmp(g, g0, sizeof(g)) == 0, "clipping below max_norm changed the gradients");
}

/* ---- FLOPs and config checks ------------------------------------------- */

/* Hand count for V=11, L=2, NH=2, C=8 (hs 4) at B=2, T=8 (N = 16 tokens),
 * in multiply-adds (MACs), 2 FLOPs each:
 *   per token per layer: qkv 3C*C = 192, attn proj C*C = 64,
 *     fc 4C*C = 256, fc proj C*4C = 256            -> 768
 *   per token: 2 layers * 768 + head V*C = 88      -> 1624
 *   tokens: 16 * 1624 = 25984 MACs                 -> 51968 FLOPs
 *   attention per layer per sequence per head: q k^T T*T*hs = 256,
 *     P v T*T*hs = 256; 2 heads * 2 layers * 2 seqs * 512 = 4096 MACs -> 8192 FLOPs
 *   forward = 51968 + 8192 = 60160
 *   backward: every product has two (dx and dW; dP, dv, dq, dk for the
 *     two of attention)                            -> 2 * 60160 = 120320
 *   step = 60160 + 120320 = 180480 */
static void test_gpt__step_flops_hand_count(void) {
    ML_ASSERT_NEAR(180480.0, ml_gpt_step_flops(&tiny_cfg, 2, 8), 0.0, 0.0);
    /* and it is not a constant: doubling B doubles it */
    ML_ASSERT_NEAR(2 * 180480.0, ml_gpt_step_flops(&tiny_cfg, 4, 8), 0.0, 0.0);
}

static void test_gpt__new_rejects_bad_config(void) {
    ml_gpt_config cfg = tiny_cfg;
    static char dummy;
    ml_gpt *m = (ml_gpt *)(void *)&dummy;   /* non-NULL: must be reset */
    cfg.n_embd = 10;
    cfg.n_head = 4;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_gpt_new(&m, &cfg, 2, 8));
    ML_ASSERT(m == NULL);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_error_last()->code);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "gpt: n_embd 10 is not divisible by n_head 4");
    cfg = tiny_cfg;
    m = (ml_gpt *)(void *)&dummy;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_gpt_new(&m, &cfg, 2, 9));
    ML_ASSERT(m == NULL);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "gpt: batch 2 x 9 does not fit context 8");
    /* the limit itself is accepted */
    ML_ASSERT_EQ_INT(0, ml_gpt_new(&m, &cfg, 2, 8));
    ML_ASSERT(m != NULL);
    ml_gpt_free(m);
    ml_gpt_free(NULL);
}

/* The memory estimate of a suite rests on ml_gpt_bytes and ml_mlp_bytes:
 * each equals what the constructor allocates, over shapes that differ in
 * every dimension (a buffer added to one but not the other fails this). */
static void test_gpt__bytes_match_allocation(void) {
    static const int shapes[][6] = { { 64, 16, 2, 2, 16, 4 }, { 97, 24, 3, 4, 32, 5 }, { 128, 32, 1, 8, 64, 2 } };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        ml_gpt_config cfg = { .vocab_size = shapes[i][0], .max_T = shapes[i][1], .n_layer = shapes[i][2],
                              .n_head = shapes[i][3], .n_embd = shapes[i][4] };
        int B = shapes[i][5], T = shapes[i][1] - 1;
        ml_gpt *m = NULL;
        ML_ASSERT_EQ_INT(0, ml_gpt_new(&m, &cfg, B, T));
        size_t want = m->bytes;
        ml_gpt_free(m);
        ML_ASSERT_MSG(ml_gpt_bytes(&cfg, B, T) == want, "gpt shape %zu: estimate %zu, allocated %zu", i,
                      ml_gpt_bytes(&cfg, B, T), want);
    }
    ml_mlp_config mc = { .in_dim = 50, .n_hidden = 2, .hidden = { 30, 70 }, .out_dim = 10, .act = ML_ACT_RELU };
    ml_mlp *mm = NULL;
    ML_ASSERT_EQ_INT(0, ml_mlp_new(&mm, &mc, 33));
    size_t mwant = mm->bytes;
    ml_mlp_free(mm);
    ML_ASSERT_MSG(ml_mlp_bytes(&mc, 33) == mwant, "mlp: estimate %zu, allocated %zu", ml_mlp_bytes(&mc, 33), mwant);
    /* and the check can fail: a different batch is a different size */
    ML_ASSERT(ml_mlp_bytes(&mc, 34) != mwant);
}

/* LayerNorm does rows four at a time (kernels/layernorm.c); each row must
 * come out with the bits it has when done alone (the tail path), forward
 * and backward, or results would depend on where a row falls in a group.
 * 11 rows: two groups of four and a tail of three, on one thread. */
static void test_gpt__layernorm_rows_grouped_exact(void) {
    enum { N = 11, C = 37 };
    float x[N * C], w[C], b[C], dy[N * C], y1[N * C], yN[N * C], m1[N], mN[N], r1[N], rN[N];
    float dx1[N * C], dxN[N * C];
    ml_t_fill_uniform(x, N * C, 7, 1, 1000.0f, 1001.0f);   /* a large offset: a mean one bit off shows */
    ml_t_fill_uniform(w, C, 7, 2, 0.5f, 1.5f);
    ml_t_fill_uniform(b, C, 7, 3, -0.5f, 0.5f);
    ml_t_fill_uniform(dy, N * C, 7, 4, -1.0f, 1.0f);
    int before = ml_par_threads();
    ml_par_set_threads(1);
    ml_layernorm_forward(yN, mN, rN, x, w, b, N, C);
    for (int i = 0; i < N; i++) ml_layernorm_forward(y1 + i * C, m1 + i, r1 + i, x + i * C, w, b, 1, C);
    memset(dx1, 0, sizeof(dx1));
    memset(dxN, 0, sizeof(dxN));
    ml_layernorm_backward(dxN, NULL, NULL, dy, x, w, mN, rN, N, C);
    for (int i = 0; i < N; i++)
        ml_layernorm_backward(dx1 + i * C, NULL, NULL, dy + i * C, x + i * C, w, m1 + i, r1 + i, 1, C);
    ml_par_set_threads(before);
    ML_ASSERT(memcmp(y1, yN, sizeof(y1)) == 0);
    ML_ASSERT(memcmp(m1, mN, sizeof(m1)) == 0 && memcmp(r1, rN, sizeof(r1)) == 0);
    ML_ASSERT(memcmp(dx1, dxN, sizeof(dx1)) == 0);
}

const ml_test ml_tests_gpt[] = {
    { "gpt__bytes_match_allocation", test_gpt__bytes_match_allocation, "unit" },
    { "gpt__layernorm_forward_matches_formula", test_gpt__layernorm_forward_matches_formula, "unit" },
    { "gpt__layernorm_checker_rejects_broken", test_gpt__layernorm_checker_rejects_broken, "unit" },
    { "gpt__layernorm_backward_fd", test_gpt__layernorm_backward_fd, "unit" },
    { "gpt__layernorm_fd_rejects_flipped_sign", test_gpt__layernorm_fd_rejects_flipped_sign, "unit" },
    { "gpt__layernorm_backward_accumulates", test_gpt__layernorm_backward_accumulates, "unit" },
    { "gpt__layernorm_backward_null_dw_db", test_gpt__layernorm_backward_null_dw_db, "unit" },
    { "gpt__layernorm_rows_grouped_exact", test_gpt__layernorm_rows_grouped_exact, "unit" },
    { "gpt__embedding_forward_values", test_gpt__embedding_forward_values, "unit" },
    { "gpt__embedding_backward_sums_repeated_tokens", test_gpt__embedding_backward_sums_repeated_tokens, "unit" },
    { "gpt__embedding_backward_accumulates", test_gpt__embedding_backward_accumulates, "unit" },
    { "gpt__attention_forward_matches_reference", test_gpt__attention_forward_matches_reference, "unit" },
    { "gpt__attention_checker_rejects_broken_reference", test_gpt__attention_checker_rejects_broken_reference, "unit" },
    { "gpt__attention_backward_matches_reference", test_gpt__attention_backward_matches_reference, "unit" },
    { "gpt__attention_backward_fd", test_gpt__attention_backward_fd, "unit" },
    { "gpt__model_is_causal", test_gpt__model_is_causal, "unit" },
    { "gpt__model_forward_shorter_T_matches_prefix", test_gpt__model_forward_shorter_T_matches_prefix, "unit" },
    { "gpt__model_backward_fd", test_gpt__model_backward_fd, "unit" },
    { "gpt__model_fd_rejects_broken_grads", test_gpt__model_fd_rejects_broken_grads, "unit" },
    { "gpt__mark_trainable_mlp", test_gpt__mark_trainable_mlp, "unit" },
    { "gpt__mark_trainable_unknown_group", test_gpt__mark_trainable_unknown_group, "unit" },
    { "gpt__masked_backward_leaves_frozen_grads", test_gpt__masked_backward_leaves_frozen_grads, "unit" },
    { "gpt__masked_backward_every_group", test_gpt__masked_backward_every_group, "unit" },
    { "gpt__masked_adamw_freezes_non_mlp", test_gpt__masked_adamw_freezes_non_mlp, "unit" },
    { "gpt__inject_captured_residual_reproduces_logits", test_gpt__inject_captured_residual_reproduces_logits, "unit" },
    { "gpt__inject_ignores_tokens_below", test_gpt__inject_ignores_tokens_below, "unit" },
    { "gpt__backward_without_targets_rejected", test_gpt__backward_without_targets_rejected, "unit" },
    { "gpt__loss_at_init_is_ln_V", test_gpt__loss_at_init_is_ln_V, "unit" },
    { "gpt__overfits_one_batch", test_gpt__overfits_one_batch, "unit" },
    { "gpt__training_is_deterministic", test_gpt__training_is_deterministic, "unit" },
    { "gpt__lr_schedule", test_gpt__lr_schedule, "unit" },
    { "gpt__lr_checker_rejects_broken", test_gpt__lr_checker_rejects_broken, "unit" },
    { "gpt__clip_grad_norm", test_gpt__clip_grad_norm, "unit" },
    { "gpt__step_flops_hand_count", test_gpt__step_flops_hand_count, "unit" },
    { "gpt__new_rejects_bad_config", test_gpt__new_rejects_bad_config, "unit" },
    { 0 },
};
