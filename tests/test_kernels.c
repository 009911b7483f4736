/*
 * tests/test_kernels.c: the MLP kernels against naive references, central
 * finite differences and hand computations.
 * Owns: the ml_tests_kernels table (gemm, layers, mlp, adamw, rng, merge).
 * Not here: CKA (tests/test_cka.c), core helpers (tests/test_core.c).
 * Every kernel-vs-reference comparison goes through ONE checker,
 * ml_t_close_enough(), and each way of using it has a negative test: a
 * deliberately broken kernel is run through the same code path with the
 * same tolerances and must be rejected, so no check here can pass vacuously.
 * Test data comes from the counter RNG with the fixed seed TEST_SEED and a
 * stream per buffer, so every run sees the same numbers.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/gemm.h"
#include "kernels/layers.h"
#include "kernels/merge.h"
#include "kernels/mlp.h"
#include "kernels/params.h"
#include "kernels/rng.h"

#include <stdint.h>
#include <stdlib.h>

#define TEST_SEED 20240611u

/* ---- shared helpers ---------------------------------------------------- */

/* The checker ml_t_close_enough() and the seeded fill (seed TEST_SEED here)
 * live in tests/util.c. */

/* ---- gemm: BLAS vs the naive double-accumulating reference ------------- */

/* Sums of <= 64 products of numbers in [-1,1]: float rounding stays near
 * 1e-6; a wrong result is off by O(1). */
#define GEMM_ATOL 2e-5
#define GEMM_RTOL 1e-5
#define GEMM_MAX  (64 * 64)

enum { GEMM_NT, GEMM_NN, GEMM_TN };
enum { KERNEL_SOUND, BROKEN_ZEROS, BROKEN_SIGN, BROKEN_TRANSPOSED };

static const char *const gemm_names[] = { "nt", "nn", "tn" };

static void gemm_run(int kind, int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    if (kind == GEMM_NT) ml_gemm_nt(M, N, K, A, B, beta, C);
    else if (kind == GEMM_NN) ml_gemm_nn(M, N, K, A, B, beta, C);
    else ml_gemm_tn(M, N, K, A, B, beta, C);
}

static void gemm_ref(int kind, int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    if (kind == GEMM_NT) ml_ref_gemm_nt(M, N, K, A, B, beta, C);
    else if (kind == GEMM_NN) ml_ref_gemm_nn(M, N, K, A, B, beta, C);
    else ml_ref_gemm_tn(M, N, K, A, B, beta, C);
}

/* Runs gemm `kind` (or a broken stand-in for it) and its reference on the
 * same random inputs; returns what ml_t_close_enough() says. For beta == 0 the
 * output starts as NaN: BLAS must not read C then. BROKEN_TRANSPOSED uses
 * the wrong operand layout and needs M == N == K. */
static int gemm_case(int kind, int M, int N, int K, float beta, int broken, double *maxdiff) {
    static float A[GEMM_MAX], B[GEMM_MAX], C[GEMM_MAX], R[GEMM_MAX];
    long nc = (long)M * N;
    if ((long)M * K > GEMM_MAX || (long)N * K > GEMM_MAX || nc > GEMM_MAX) return 0;
    ml_t_fill_uniform(A, (long)M * K, TEST_SEED, 11, -1.0f, 1.0f);
    ml_t_fill_uniform(B, (long)N * K, TEST_SEED, 12, -1.0f, 1.0f);
    if (beta == 0.0f)
        for (long i = 0; i < nc; i++) C[i] = R[i] = NAN;
    else {
        ml_t_fill_uniform(C, nc, TEST_SEED, 13, -1.0f, 1.0f);
        memcpy(R, C, (size_t)nc * sizeof(float));
    }
    gemm_ref(kind, M, N, K, A, B, beta, R);
    if (broken == BROKEN_TRANSPOSED)      /* A B for A B^T, A B^T for A B, A B for A^T B */
        gemm_run(kind == GEMM_NT ? GEMM_NN : kind == GEMM_NN ? GEMM_NT : GEMM_NN, M, N, K, A, B, beta, C);
    else
        gemm_run(kind, M, N, K, A, B, beta, C);
    if (broken == BROKEN_ZEROS) memset(C, 0, (size_t)nc * sizeof(float));
    if (broken == BROKEN_SIGN)
        for (long i = 0; i < nc; i++) C[i] = -C[i];
    return ml_t_close_enough(C, R, nc, GEMM_ATOL, GEMM_RTOL, maxdiff);
}

static void test_kernels__gemm_matches_reference(void) {
    static const int sizes[][3] = { { 37, 29, 53 }, { 1, 1, 1 }, { 5, 64, 3 }, { 64, 7, 61 } };
    for (int kind = GEMM_NT; kind <= GEMM_TN; kind++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            for (int b = 0; b < 2; b++) {
                double md = 0.0;
                int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
                ML_ASSERT_MSG(gemm_case(kind, M, N, K, (float)b, KERNEL_SOUND, &md),
                              "gemm_%s %dx%dx%d beta %d: max diff %.3g > atol %g + rtol %g",
                              gemm_names[kind], M, N, K, b, md, GEMM_ATOL, GEMM_RTOL);
            }
}

static void test_kernels__gemm_checker_rejects_broken(void) {
    static const char *const what[] = { "", "all-zero", "sign-flipped", "transposed" };
    for (int kind = GEMM_NT; kind <= GEMM_TN; kind++)
        for (int br = BROKEN_ZEROS; br <= BROKEN_TRANSPOSED; br++) {
            double md = 0.0;
            ML_ASSERT_MSG(!gemm_case(kind, 31, 31, 31, 0.0f, br, &md),
                          "a %s gemm_%s passed the checker (max diff %.3g)", what[br], gemm_names[kind], md);
        }
    /* the sound kernel passes on the very square case the broken ones fail */
    for (int kind = GEMM_NT; kind <= GEMM_TN; kind++) {
        double md = 0.0;
        ML_ASSERT_MSG(gemm_case(kind, 31, 31, 31, 0.0f, KERNEL_SOUND, &md), "gemm_%s 31^3: max diff %.3g",
                      gemm_names[kind], md);
    }
}

/* ---- linear layer vs its reference -------------------------------------- */

#define LN 37
#define LC 29
#define LOC 53

static void test_kernels__linear_forward_matches_reference(void) {
    static float x[LN * LC], W[LOC * LC], b[LOC], y[LN * LOC], r[LN * LOC];
    double md = 0.0;
    ml_t_fill_uniform(x, LN * LC, TEST_SEED, 21, -1.0f, 1.0f);
    ml_t_fill_uniform(W, LOC * LC, TEST_SEED, 22, -1.0f, 1.0f);
    ml_t_fill_uniform(b, LOC, TEST_SEED, 23, -1.0f, 1.0f);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        ml_linear_forward(y, x, W, with_bias ? b : NULL, LN, LC, LOC);
        ml_ref_linear_forward(r, x, W, with_bias ? b : NULL, LN, LC, LOC);
        ML_ASSERT_MSG(ml_t_close_enough(y, r, LN * LOC, GEMM_ATOL, GEMM_RTOL, &md),
                      "linear forward (bias %d): max diff %.3g", with_bias, md);
    }
}

static void test_kernels__linear_backward_matches_reference(void) {
    static float x[LN * LC], W[LOC * LC], dy[LN * LOC];
    static float dx[LN * LC], dW[LOC * LC], db[LOC], rdx[LN * LC], rdW[LOC * LC], rdb[LOC];
    double md = 0.0;
    ml_t_fill_uniform(x, LN * LC, TEST_SEED, 31, -1.0f, 1.0f);
    ml_t_fill_uniform(W, LOC * LC, TEST_SEED, 32, -1.0f, 1.0f);
    ml_t_fill_uniform(dy, LN * LOC, TEST_SEED, 33, -1.0f, 1.0f);
    for (int nulls = 0; nulls < 2; nulls++) {   /* 1: dx and db NULL (first layer, no bias) */
        /* both start from the same non-zero gradients: backward accumulates */
        ml_t_fill_uniform(dx, LN * LC, TEST_SEED, 34, -1.0f, 1.0f);
        ml_t_fill_uniform(dW, LOC * LC, TEST_SEED, 35, -1.0f, 1.0f);
        ml_t_fill_uniform(db, LOC, TEST_SEED, 36, -1.0f, 1.0f);
        memcpy(rdx, dx, sizeof(dx));
        memcpy(rdW, dW, sizeof(dW));
        memcpy(rdb, db, sizeof(db));
        ml_linear_backward(nulls ? NULL : dx, dW, nulls ? NULL : db, dy, x, W, LN, LC, LOC);
        ml_ref_linear_backward(nulls ? NULL : rdx, rdW, nulls ? NULL : rdb, dy, x, W, LN, LC, LOC);
        ML_ASSERT_MSG(ml_t_close_enough(dx, rdx, LN * LC, GEMM_ATOL, GEMM_RTOL, &md), "dx (nulls %d): max diff %.3g", nulls, md);
        ML_ASSERT_MSG(ml_t_close_enough(dW, rdW, LOC * LC, GEMM_ATOL, GEMM_RTOL, &md), "dW (nulls %d): max diff %.3g", nulls, md);
        ML_ASSERT_MSG(ml_t_close_enough(db, rdb, LOC, GEMM_ATOL, GEMM_RTOL, &md), "db (nulls %d): max diff %.3g", nulls, md);
    }
}

static void test_kernels__linear_backward_accumulates(void) {
    static float x[LN * LC], W[LOC * LC], dy[LN * LOC];
    static float dx1[LN * LC], dW1[LOC * LC], db1[LOC], dx2[LN * LC], dW2[LOC * LC], db2[LOC];
    double md = 0.0;
    ml_t_fill_uniform(x, LN * LC, TEST_SEED, 41, -1.0f, 1.0f);
    ml_t_fill_uniform(W, LOC * LC, TEST_SEED, 42, -1.0f, 1.0f);
    ml_t_fill_uniform(dy, LN * LOC, TEST_SEED, 43, -1.0f, 1.0f);
    memset(dx1, 0, sizeof(dx1)); memset(dW1, 0, sizeof(dW1)); memset(db1, 0, sizeof(db1));
    memset(dx2, 0, sizeof(dx2)); memset(dW2, 0, sizeof(dW2)); memset(db2, 0, sizeof(db2));
    ml_linear_backward(dx1, dW1, db1, dy, x, W, LN, LC, LOC);
    ml_linear_backward(dx2, dW2, db2, dy, x, W, LN, LC, LOC);
    ml_linear_backward(dx2, dW2, db2, dy, x, W, LN, LC, LOC);
    for (long i = 0; i < LN * LC; i++) dx1[i] *= 2.0f;    /* exact in float */
    for (long i = 0; i < LOC * LC; i++) dW1[i] *= 2.0f;
    for (long i = 0; i < LOC; i++) db1[i] *= 2.0f;
    ML_ASSERT_MSG(ml_t_close_enough(dW2, dW1, LOC * LC, 1e-6, 1e-6, &md), "dW after two calls != 2 dW: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(dx2, dx1, LN * LC, 1e-6, 1e-6, &md), "dx after two calls != 2 dx: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(db2, db1, LOC, 1e-6, 1e-6, &md), "db after two calls != 2 db: max diff %.3g", md);
}

/* ---- element-wise layers vs formulas ------------------------------------ */

static void test_kernels__relu_gelu_forward_values(void) {
    static float x[201], y[201], r[201];
    double md = 0.0;
    for (int i = 0; i <= 200; i++) x[i] = -5.0f + 0.05f * (float)i;
    ml_relu_forward(y, x, 201);
    for (int i = 0; i <= 200; i++) r[i] = x[i] > 0.0f ? x[i] : 0.0f;
    ML_ASSERT_MSG(ml_t_close_enough(y, r, 201, 0.0, 0.0, &md), "relu: max diff %.3g", md);
    ml_gelu_forward(y, x, 201);
    for (int i = 0; i <= 200; i++) {
        double v = x[i];
        r[i] = (float)(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
    }
    ML_ASSERT_MSG(ml_t_close_enough(y, r, 201, 1e-6, 1e-5, &md), "gelu: max diff %.3g", md);
    /* two anchors by hand: GELU(0) = 0, GELU(x) -> x for large x */
    ML_ASSERT_NEAR(0.0, y[100], 1e-7, 0.0);
    ML_ASSERT_NEAR(5.0, y[200], 1e-5, 0.0);
}


/* The fused forward that keeps GELU's slope gives the same bits as ml_gelu_forward, and
 * dy * slope the same values as ml_gelu_backward into zeros, so a router trained with it
 * is unchanged; with d aliasing x as the router uses it too. A flipped slope must fail. */
static void test_kernels__gelu_slope_matches(void) {
    enum { N = 4099 };
    static float x[N], xs[N], y[N], y2[N], d[N], dy[N], dx[N], dx2[N];
    double md = 0.0;
    ml_t_fill_uniform(x, N, TEST_SEED, 47, -6.0f, 6.0f);
    ml_t_fill_uniform(dy, N, TEST_SEED, 48, -1.0f, 1.0f);
    ml_gelu_forward(y, x, N);
    ml_gelu_forward_slope(y2, d, x, N);
    ML_ASSERT_MSG(!memcmp(y, y2, sizeof(y)), "gelu with slope: values differ from ml_gelu_forward");
    memset(dx, 0, sizeof(dx));
    ml_gelu_backward(dx, dy, x, N);
    ml_mul_slope(dx2, dy, d, N);
    int same = 1;   /* == rather than the bits: 0 + -0 is +0 in the accumulating backward */
    for (int i = 0; i < N; i++) same &= dx[i] == dx2[i];
    ML_ASSERT_MSG(same, "dy * slope differs from ml_gelu_backward");
    memcpy(xs, x, sizeof(x));
    ml_gelu_forward_slope(y2, xs, xs, N);   /* in place, as the router's fch */
    ML_ASSERT_MSG(!memcmp(xs, d, sizeof(d)) && !memcmp(y, y2, sizeof(y)), "in place: slope or value differs");
    for (int i = 0; i < N; i++) d[i] = -d[i];   /* a broken slope */
    ml_mul_slope(dx2, dy, d, N);
    ML_ASSERT(!ml_t_close_enough(dx2, dx, N, 1e-6, 1e-5, &md));
}

static void test_kernels__softmax_ce_forward_values(void) {
    enum { N = 6, V = 5 };
    float logits[N * V], probs[N * V], losses[N], rp[N * V], rl[N];
    int32_t t[N] = { 0, 1, 2, 3, 4, 2 };
    double md, mean_ref = 0.0;
    ml_t_fill_uniform(logits, N * V, TEST_SEED, 51, -4.0f, 4.0f);
    float mean = ml_softmax_ce_forward(probs, losses, logits, t, N, V);
    for (int i = 0; i < N; i++) {                   /* reference in double */
        double mx = logits[i * V], s = 0.0;
        for (int v = 1; v < V; v++) if (logits[i * V + v] > mx) mx = logits[i * V + v];
        for (int v = 0; v < V; v++) s += exp(logits[i * V + v] - mx);
        for (int v = 0; v < V; v++) rp[i * V + v] = (float)(exp(logits[i * V + v] - mx) / s);
        rl[i] = (float)(log(s) + mx - logits[i * V + t[i]]);
        mean_ref += rl[i] / N;
    }
    ML_ASSERT_MSG(ml_t_close_enough(probs, rp, N * V, 1e-7, 1e-5, &md), "probs: max diff %.3g", md);
    ML_ASSERT_MSG(ml_t_close_enough(losses, rl, N, 1e-6, 1e-5, &md), "losses: max diff %.3g", md);
    ML_ASSERT_NEAR(mean_ref, mean, 1e-6, 1e-5);
    /* huge logits: max subtraction keeps everything finite */
    float big[2 * 3] = { 1000.0f, -1000.0f, 0.0f, -1000.0f, -1000.0f, 1000.0f };
    int32_t tb[2] = { 1, 2 };
    float pb[6], lb[2];
    float mb = ml_softmax_ce_forward(pb, lb, big, tb, 2, 3);
    ML_ASSERT_MSG(isfinite(mb) && isfinite(lb[0]) && isfinite(lb[1]), "loss not finite: %g %g %g", mb, lb[0], lb[1]);
    ML_ASSERT_NEAR(2000.0, lb[0], 1e-3, 1e-6);   /* log-sum-exp 1000 minus -1000 */
    ML_ASSERT_NEAR(0.0, lb[1], 1e-6, 0.0);
    ML_ASSERT_NEAR(1.0, pb[0], 0.0, 1e-6);
    ML_ASSERT_NEAR(1.0, pb[5], 0.0, 1e-6);
}

/* The element-wise backwards accumulate too: two calls give twice one. */
#define EW_N 4
#define EW_V 5
#define EW_E (EW_N * EW_V)

/* one backward call of relu (0), gelu (1) or softmax-CE (2) into out */
static void ew_backward(int which, float *out, const float *dy, const float *x, const float *probs,
                        const int32_t *t) {
    if (which == 0) ml_relu_backward(out, dy, x, EW_E);
    else if (which == 1) ml_gelu_backward(out, dy, x, EW_E);
    else ml_softmax_ce_backward(out, probs, t, EW_N, EW_V);
}

static void test_kernels__elementwise_backward_accumulates(void) {
    static const char *const names[3] = { "relu", "gelu", "softmax-CE" };
    float x[EW_E], dy[EW_E], once[EW_E], twice[EW_E], probs[EW_E], losses[EW_N];
    int32_t t[EW_N] = { 0, 4, 2, 1 };
    double md = 0.0;
    ml_t_fill_uniform(x, EW_E, TEST_SEED, 45, -2.0f, 2.0f);
    ml_t_fill_uniform(dy, EW_E, TEST_SEED, 46, -1.0f, 1.0f);
    ml_softmax_ce_forward(probs, losses, x, t, EW_N, EW_V);
    for (int which = 0; which < 3; which++) {
        memset(once, 0, sizeof(once));
        memset(twice, 0, sizeof(twice));
        ew_backward(which, once, dy, x, probs, t);
        ew_backward(which, twice, dy, x, probs, t);
        ew_backward(which, twice, dy, x, probs, t);
        for (int i = 0; i < EW_E; i++) once[i] *= 2.0f;
        ML_ASSERT_MSG(ml_t_close_enough(twice, once, EW_E, 1e-7, 1e-6, &md),
                      "%s backward: two calls != 2 x one (max diff %.3g)", names[which], md);
    }
}

/* ---- finite differences ------------------------------------------------- */

/* Gradients are checked against ml_t_central_diff_all() of a ml_t_loss_fn
 * (forward in float, loss summed in double; ctx carries the inputs). */

#define FD_ATOL 1e-3
#define FD_RTOL 2e-2

/* Layer-level loss L = sum(y .* R) for a fixed random R, so dL/dy = R. */
#define FN 6
#define FC 5
#define FOC 4
#define FE 40          /* elements of the element-wise checks */

typedef struct {
    float x[FN * FC], W[FOC * FC], b[FOC], R[FN * FOC], y[FN * FOC];
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    double s = 0.0;
    ml_linear_forward(c->y, c->x, c->W, c->b, FN, FC, FOC);
    for (int i = 0; i < FN * FOC; i++) s += (double)c->y[i] * c->R[i];
    return s;
}

/* Checks dx, dW, db of ml_linear_backward against finite differences;
 * flip != 0 negates the analytic gradients (a broken backward). Returns a
 * bitmask of the parts that did NOT agree (1 dx, 2 dW, 4 db), md[] max diffs. */
static int linear_fd(int flip, double md[3]) {
    static lin_ctx c;
    float dx[FN * FC] = { 0 }, dW[FOC * FC] = { 0 }, db[FOC] = { 0 };
    float nx[FN * FC], nW[FOC * FC], nb[FOC];
    int bad = 0;
    ml_t_fill_uniform(c.x, FN * FC, TEST_SEED, 61, -1.0f, 1.0f);
    ml_t_fill_uniform(c.W, FOC * FC, TEST_SEED, 62, -1.0f, 1.0f);
    ml_t_fill_uniform(c.b, FOC, TEST_SEED, 63, -1.0f, 1.0f);
    ml_t_fill_uniform(c.R, FN * FOC, TEST_SEED, 64, -1.0f, 1.0f);
    ml_linear_backward(dx, dW, db, c.R, c.x, c.W, FN, FC, FOC);
    if (flip) {
        for (int i = 0; i < FN * FC; i++) dx[i] = -dx[i];
        for (int i = 0; i < FOC * FC; i++) dW[i] = -dW[i];
        for (int i = 0; i < FOC; i++) db[i] = -db[i];
    }
    ml_t_central_diff_all(nx, c.x, FN * FC, 1e-2, lin_loss, &c);
    ml_t_central_diff_all(nW, c.W, FOC * FC, 1e-2, lin_loss, &c);
    ml_t_central_diff_all(nb, c.b, FOC, 1e-2, lin_loss, &c);
    if (!ml_t_close_enough(dx, nx, FN * FC, FD_ATOL, FD_RTOL, &md[0])) bad |= 1;
    if (!ml_t_close_enough(dW, nW, FOC * FC, FD_ATOL, FD_RTOL, &md[1])) bad |= 2;
    if (!ml_t_close_enough(db, nb, FOC, FD_ATOL, FD_RTOL, &md[2])) bad |= 4;
    return bad;
}

static void test_kernels__linear_backward_fd(void) {
    double md[3];
    int bad = linear_fd(0, md);
    ML_ASSERT_MSG(bad == 0, "linear backward vs FD: mask %d, max diff dx %.3g dW %.3g db %.3g",
                  bad, md[0], md[1], md[2]);
}

static void test_kernels__fd_checker_rejects_flipped_sign(void) {
    double md[3];
    int bad = linear_fd(1, md);
    ML_ASSERT_MSG(bad == 7, "a sign-flipped linear backward passed FD for mask %d (max diff dx %.3g dW %.3g db %.3g)",
                  7 & ~bad, md[0], md[1], md[2]);
}

typedef struct {
    float x[FE], R[FE], y[FE];
    int gelu;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    double s = 0.0;
    if (c->gelu) ml_gelu_forward(c->y, c->x, FE);
    else ml_relu_forward(c->y, c->x, FE);
    for (int i = 0; i < FE; i++) s += (double)c->y[i] * c->R[i];
    return s;
}

/* FD check of relu (gelu = 0) or gelu backward; flip negates the analytic dx */
static int act_fd(int gelu, int flip, double *md) {
    static act_ctx c;
    float dx[FE] = { 0 }, num[FE];
    c.gelu = gelu;
    ml_t_fill_uniform(c.x, FE, TEST_SEED, 71 + gelu, -3.0f, 3.0f);
    ml_t_fill_uniform(c.R, FE, TEST_SEED, 73, -1.0f, 1.0f);
    if (!gelu)            /* keep ReLU inputs at least 0.1 away from its kink */
        for (int i = 0; i < FE; i++) c.x[i] = c.x[i] < 0 ? -0.1f + c.x[i] / 3.0f : 0.1f + c.x[i] / 3.0f;
    if (gelu) ml_gelu_backward(dx, c.R, c.x, FE);
    else ml_relu_backward(dx, c.R, c.x, FE);
    if (flip)
        for (int i = 0; i < FE; i++) dx[i] = -dx[i];
    ml_t_central_diff_all(num, c.x, FE, gelu ? 1e-2 : 1e-3, act_loss, &c);
    return ml_t_close_enough(dx, num, FE, FD_ATOL, FD_RTOL, md);
}

static void test_kernels__relu_backward_fd(void) {
    double md = 0.0;
    ML_ASSERT_MSG(act_fd(0, 0, &md), "relu backward vs FD: max diff %.3g", md);
    ML_ASSERT_MSG(!act_fd(0, 1, &md), "sign-flipped relu backward passed FD (max diff %.3g)", md);
}

static void test_kernels__gelu_backward_fd(void) {
    double md = 0.0;
    ML_ASSERT_MSG(act_fd(1, 0, &md), "gelu backward vs FD: max diff %.3g", md);
    ML_ASSERT_MSG(!act_fd(1, 1, &md), "sign-flipped gelu backward passed FD (max diff %.3g)", md);
}

#define SN 5
#define SV 4

typedef struct {
    float logits[SN * SV], probs[SN * SV], losses[SN];
    int32_t t[SN];
} ce_ctx;

static double ce_loss(void *p) {      /* mean cross-entropy, summed in double */
    ce_ctx *c = p;
    double s = 0.0;
    ml_softmax_ce_forward(c->probs, c->losses, c->logits, c->t, SN, SV);
    for (int i = 0; i < SN; i++) s += c->losses[i];
    return s / SN;
}

static int ce_fd(int flip, double *md) {
    static ce_ctx c;
    float dl[SN * SV] = { 0 }, num[SN * SV];
    ml_t_fill_uniform(c.logits, SN * SV, TEST_SEED, 81, -2.0f, 2.0f);
    for (int i = 0; i < SN; i++) c.t[i] = (int32_t)((i * 3) % SV);
    ml_softmax_ce_forward(c.probs, c.losses, c.logits, c.t, SN, SV);
    ml_softmax_ce_backward(dl, c.probs, c.t, SN, SV);
    if (flip)
        for (int i = 0; i < SN * SV; i++) dl[i] = -dl[i];
    ml_t_central_diff_all(num, c.logits, SN * SV, 1e-2, ce_loss, &c);
    return ml_t_close_enough(dl, num, SN * SV, FD_ATOL, FD_RTOL, md);
}

static void test_kernels__softmax_ce_backward_fd(void) {
    double md = 0.0;
    ML_ASSERT_MSG(ce_fd(0, &md), "softmax-CE backward vs FD: max diff %.3g", md);
    ML_ASSERT_MSG(!ce_fd(1, &md), "sign-flipped softmax-CE backward passed FD (max diff %.3g)", md);
}

/* ---- the whole MLP by finite differences -------------------------------- */

#define MD 7
#define MV 3
#define MN 6

typedef struct {
    ml_mlp *m;
    const float *x;
    const int32_t *t;
} mlp_ctx;

/* mean cross-entropy of the float logits, taken in double */
static double mlp_loss(void *p) {
    mlp_ctx *c = p;
    const float *z = c->m->pre[c->m->cfg.n_hidden];
    double s = 0.0;
    ml_mlp_forward(c->m, c->x, NULL, MN);
    for (int i = 0; i < MN; i++) {
        double mx = z[i * MV], e = 0.0;
        for (int v = 1; v < MV; v++) if (z[i * MV + v] > mx) mx = z[i * MV + v];
        for (int v = 0; v < MV; v++) e += exp((double)z[i * MV + v] - mx);
        s += log(e) + mx - z[i * MV + c->t[i]];
    }
    return s / MN;
}

/* smallest |pre-activation| of the hidden layers of the last forward */
static double mlp_min_abs_pre(const ml_mlp *m) {
    double lo = INFINITY;
    for (int l = 0; l < m->cfg.n_hidden; l++)
        for (long i = 0; i < (long)MN * m->cfg.hidden[l]; i++)
            if (fabs(m->pre[l][i]) < lo) lo = fabs(m->pre[l][i]);
    return lo;
}

/* FD check of ml_mlp_backward for every parameter of a D=7, hidden [5,4],
 * V=3 MLP on N=6 rows. flip negates the analytic gradient. Returns -1 when
 * all tensors agree, else the index of the first tensor that does not;
 * *md is the max diff over all parameters. -2 on setup failure. */
static int mlp_fd(ml_activation act, int flip, double *md) {
    ml_mlp_config cfg = { .in_dim = MD, .n_hidden = 2, .hidden = { 5, 4 }, .out_dim = MV, .act = act };
    ml_mlp *m = NULL;
    float x[MN * MD], *num = NULL;
    int32_t t[MN];
    int first_bad = -1, kinked;
    mlp_ctx c;
    if (ml_mlp_new(&m, &cfg, MN) < 0) return -2;
    num = malloc(m->layout.total * sizeof(float));
    if (!num) { ml_mlp_free(m); return -2; }
    ml_t_fill_uniform(x, MN * MD, TEST_SEED, 91, -1.0f, 1.0f);
    for (int i = 0; i < MN; i++) t[i] = (int32_t)(i % MV);
    /* ReLU is not differentiable at 0: take the first init seed whose
     * pre-activations all sit >= 0.02 from it (steps of 1e-3 move them by
     * about 1e-3), so the check is deterministic and kink-free. */
    for (uint64_t seed = 1; seed < 200; seed++) {
        ml_mlp_init(m, seed);
        for (int k = 0; k < m->layout.n; k++)      /* non-zero biases too */
            if (m->layout.tensors[k].ndim == 1)
                ml_t_fill_uniform(m->params + m->layout.tensors[k].offset, (long)m->layout.tensors[k].numel, TEST_SEED,
                             100 + (uint64_t)k + 10 * seed, -0.2f, 0.2f);
        ml_mlp_forward(m, x, t, MN);
        if (act == ML_ACT_GELU || mlp_min_abs_pre(m) >= 0.02) break;
    }
    memset(m->grads, 0, m->layout.total * sizeof(float));
    ml_mlp_forward(m, x, t, MN);
    kinked = act == ML_ACT_RELU && mlp_min_abs_pre(m) < 0.02;
    ml_mlp_backward(m, x, t, MN);
    if (flip)
        for (size_t i = 0; i < m->layout.total; i++) m->grads[i] = -m->grads[i];
    c.m = m; c.x = x; c.t = t;
    ml_t_central_diff_all(num, m->params, (long)m->layout.total, 1e-3, mlp_loss, &c);
    *md = 0.0;
    for (int k = 0; k < m->layout.n; k++) {
        const ml_tensor_info *ti = &m->layout.tensors[k];
        double d;
        int ok = ml_t_close_enough(m->grads + ti->offset, num + ti->offset, (long)ti->numel, FD_ATOL, FD_RTOL, &d);
        if (!ok && first_bad < 0) first_bad = k;
        if (d > *md) *md = d;
    }
    if (kinked) first_bad = -2;
    free(num);
    ml_mlp_free(m);
    return first_bad;
}

static const char *const mlp_tensor_names[] = { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                                "fc3.weight", "fc3.bias" };

static void test_kernels__mlp_backward_fd_relu(void) {
    double md = 0.0;
    int bad = mlp_fd(ML_ACT_RELU, 0, &md);
    ML_ASSERT_MSG(bad != -2, "setup failed (or no kink-free seed)");
    ML_ASSERT_MSG(bad == -1, "relu MLP: %s disagrees with FD; max diff %.3g", mlp_tensor_names[bad], md);
}

static void test_kernels__mlp_backward_fd_gelu(void) {
    double md = 0.0;
    int bad = mlp_fd(ML_ACT_GELU, 0, &md);
    ML_ASSERT_MSG(bad != -2, "setup failed");
    ML_ASSERT_MSG(bad == -1, "gelu MLP: %s disagrees with FD; max diff %.3g", mlp_tensor_names[bad], md);
}

static void test_kernels__mlp_fd_rejects_flipped_sign(void) {
    double md = 0.0;
    for (int a = ML_ACT_RELU; a <= ML_ACT_GELU; a++) {
        int bad = mlp_fd((ml_activation)a, 1, &md);
        ML_ASSERT_MSG(bad >= 0, "act %d: a sign-flipped MLP backward passed FD (max diff %.3g)", a, md);
    }
}

/* ---- MLP training smoke ------------------------------------------------- */

#define TD 4
#define TNS 256      /* training rows */
#define TNT 256      /* held-out rows */

/* x (n, TD) in [-1,1]^TD, y = [w.x + 0.1 > 0], drawn with a margin of 0.2
 * around the plane so the classes are linearly separable. */
static void toy_data(float *x, int32_t *y, int n, uint64_t stream) {
    static const float w[TD] = { 1.0f, -2.0f, 0.5f, 1.5f };
    uint64_t ctr = 0;
    for (int i = 0; i < n; i++) {
        for (;;) {
            float s = 0.1f;
            for (int j = 0; j < TD; j++) {
                x[i * TD + j] = 2.0f * ml_rng_uniform(TEST_SEED, stream, ctr++) - 1.0f;
                s += w[j] * x[i * TD + j];
            }
            if (fabsf(s) >= 0.2f) { y[i] = s > 0.0f; break; }
        }
    }
}

/* 300 full-batch AdamW steps on a D=4, hidden [16], V=2 ReLU MLP. params
 * (malloc'd copy, the caller frees); held-out accuracy before training,
 * accuracies on both sets after. */
static int toy_train(float **params, size_t *n, double *init_acc, double *train_acc, double *test_acc) {
    static float xs[TNS * TD], xt[TNT * TD];
    static int32_t ys[TNS], yt[TNT];
    ml_mlp_config cfg = { .in_dim = TD, .n_hidden = 1, .hidden = { 16 }, .out_dim = 2, .act = ML_ACT_RELU };
    ml_adamw_config oc = { .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f };
    ml_mlp *m = NULL;
    ml_adamw *o = NULL;
    double loss;
    int error;
    *params = NULL;
    toy_data(xs, ys, TNS, 201);
    toy_data(xt, yt, TNT, 202);
    if ((error = ml_mlp_new(&m, &cfg, TNS)) < 0 || (error = ml_adamw_new(&o, &m->layout, &oc)) < 0) goto out;
    ml_mlp_init(m, 7);
    ml_mlp_evaluate(m, xt, yt, TNT, init_acc, &loss);
    for (int step = 0; step < 300; step++) {
        memset(m->grads, 0, m->layout.total * sizeof(float));
        ml_mlp_forward(m, xs, ys, TNS);
        ml_mlp_backward(m, xs, ys, TNS);
        ml_adamw_step(o, m->params, m->grads, 1e-2f, NULL);
    }
    ml_mlp_evaluate(m, xs, ys, TNS, train_acc, &loss);
    ml_mlp_evaluate(m, xt, yt, TNT, test_acc, &loss);
    *n = m->layout.total;
    if ((error = ml_malloc((void **)params, *n * sizeof(float))) < 0) goto out;
    memcpy(*params, m->params, *n * sizeof(float));
out:
    ml_adamw_free(o);
    ml_mlp_free(m);
    return error;
}

static void test_kernels__mlp_learns_separable_toy(void) {
    float *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    double in1 = 1, tr1 = 0, te1 = 0, in2 = 1, tr2 = 0, te2 = 0;
    int e1 = toy_train(&p1, &n1, &in1, &tr1, &te1);
    int e2 = toy_train(&p2, &n2, &in2, &tr2, &te2);
    int same = e1 == 0 && e2 == 0 && n1 == n2 && memcmp(p1, p2, n1 * sizeof(float)) == 0;
    free(p1);
    free(p2);
    ML_ASSERT_MSG(e1 == 0 && e2 == 0, "training setup failed: %s", ml_error_last()->message);
    ML_ASSERT_MSG(in1 < 0.9, "held-out accuracy %.4f before training: the task is too easy to show learning", in1);
    ML_ASSERT_MSG(tr1 > 0.95, "train accuracy %.4f <= 0.95", tr1);
    ML_ASSERT_MSG(te1 > 0.95, "held-out accuracy %.4f <= 0.95", te1);
    ML_ASSERT_MSG(same, "two runs with the same seed differ (acc %.4f vs %.4f)", tr1, tr2);
}

static void test_kernels__mlp_new_rejects_bad_config(void) {
    static ml_mlp dummy;
    ml_mlp *m = &dummy;         /* ml_mlp_new must reset it to NULL */
    ml_mlp_config cfg = { .in_dim = 4, .n_hidden = 0, .hidden = { 0 }, .out_dim = 2, .act = ML_ACT_RELU };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_mlp_new(&m, &cfg, 8));
    ML_ASSERT(m == NULL);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "hidden layers must be 1..8, got 0");
    cfg.n_hidden = 1; cfg.hidden[0] = 3; cfg.out_dim = 1;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_mlp_new(&m, &cfg, 8));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "out_dim must be 2..256, got 1");
    ml_mlp_free(NULL);
}

/* ---- AdamW -------------------------------------------------------------- */

/* Two 3-element tensors: "w" (decay) then "b" (no decay). */
static int two_tensor_layout(ml_layout *L) {
    int shape[1] = { 3 };
    int error = ml_layout_add(L, "w", 1, shape, 1);
    if (error == 0) error = ml_layout_add(L, "b", 1, shape, 0);
    return error;
}

#define AW_LR 0.1       /* passed to ml_adamw_step; cfg.lr is different on purpose */
#define AW_B1 0.9
#define AW_B2 0.999
#define AW_EPS 1e-8
#define AW_WD 0.1

/* AdamW by hand in double for one element: bias-corrected moments, then
 * p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p) with wd only when decay. */
static void adamw_hand(double *p, double *m, double *v, double g, long t, int decay) {
    *m = AW_B1 * *m + (1.0 - AW_B1) * g;
    *v = AW_B2 * *v + (1.0 - AW_B2) * g * g;
    double mhat = *m / (1.0 - pow(AW_B1, (double)t));
    double vhat = *v / (1.0 - pow(AW_B2, (double)t));
    *p -= AW_LR * (mhat / (sqrt(vhat) + AW_EPS) + (decay ? AW_WD : 0.0) * *p);
}

/* A broken AdamW for the negative test: no bias correction. */
static void adamw_no_bias_correction(float *p, float *m, float *v, const float *g, int n, const ml_layout *L) {
    for (int i = 0; i < n; i++) {
        float wd = L->tensors[i / 3].decay ? (float)AW_WD : 0.0f;
        m[i] = (float)AW_B1 * m[i] + (float)(1.0 - AW_B1) * g[i];
        v[i] = (float)AW_B2 * v[i] + (float)(1.0 - AW_B2) * g[i] * g[i];
        p[i] -= (float)AW_LR * (m[i] / (sqrtf(v[i]) + (float)AW_EPS) + wd * p[i]);
    }
}

/* Two steps of the kernel (broken = 0) or of the broken variant against
 * the hand computation; returns what ml_t_close_enough() says about params. */
static int adamw_vs_hand(int broken, double md[3]) {
    static const float p0[6] = { 0.5f, -1.0f, 2.0f, 0.1f, 0.2f, -0.3f };
    static const float g[2][6] = { { 0.3f, -0.2f, 0.05f, -0.4f, 0.1f, 0.25f },
                                   { -0.1f, -0.3f, 0.2f, 0.15f, 0.0f, -0.05f } };
    ml_adamw_config cfg = { .lr = 0.5f, .beta1 = (float)AW_B1, .beta2 = (float)AW_B2,
                            .eps = (float)AW_EPS, .weight_decay = (float)AW_WD };
    ml_layout L = { 0 };
    ml_adamw *o = NULL;
    float p[6], m[6] = { 0 }, v[6] = { 0 }, hp[6], hm[6], hv[6];
    double dp[6], dm[6] = { 0 }, dv[6] = { 0 };
    int ok = 0;
    memcpy(p, p0, sizeof(p));
    for (int i = 0; i < 6; i++) dp[i] = p0[i];
    if (two_tensor_layout(&L) < 0 || ml_adamw_new(&o, &L, &cfg) < 0) goto out;
    for (int t = 0; t < 2; t++) {
        if (broken) adamw_no_bias_correction(p, m, v, g[t], 6, &L);
        else ml_adamw_step(o, p, g[t], (float)AW_LR, NULL);
        for (int i = 0; i < 6; i++) adamw_hand(&dp[i], &dm[i], &dv[i], g[t][i], t + 1, i < 3);
    }
    for (int i = 0; i < 6; i++) { hp[i] = (float)dp[i]; hm[i] = (float)dm[i]; hv[i] = (float)dv[i]; }
    ok = ml_t_close_enough(p, hp, 6, 1e-6, 1e-5, &md[0]);
    if (!broken) {
        ok &= ml_t_close_enough(o->m, hm, 6, 1e-7, 1e-5, &md[1]);
        ok &= ml_t_close_enough(o->v, hv, 6, 1e-9, 1e-5, &md[2]);
        ok &= o->t == 2;
    }
out:
    ml_adamw_free(o);
    ml_layout_free(&L);
    return ok;
}

static void test_kernels__adamw_matches_hand_computation(void) {
    double md[3] = { 0, 0, 0 };
    ML_ASSERT_MSG(adamw_vs_hand(0, md), "adamw vs hand: max diff p %.3g m %.3g v %.3g", md[0], md[1], md[2]);
}

static void test_kernels__adamw_checker_rejects_no_bias_correction(void) {
    double md[3] = { 0, 0, 0 };
    ML_ASSERT_MSG(!adamw_vs_hand(1, md), "AdamW without bias correction passed (max diff %.3g)", md[0]);
}

static void test_kernels__adamw_decay_only_on_decay_tensors(void) {
    ml_adamw_config cfg = { .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f };
    ml_layout L = { 0 };
    ml_adamw *o = NULL;
    float p[6] = { 0.5f, -1.0f, 2.0f, 0.1f, 0.2f, -0.3f }, p0[6], want[3], g[6] = { 0 };
    double md = -1.0;
    int made = two_tensor_layout(&L) == 0 && ml_adamw_new(&o, &L, &cfg) == 0;
    memcpy(p0, p, sizeof(p));
    if (made) ml_adamw_step(o, p, g, 0.1f, NULL);   /* zero gradient: only decay moves p */
    ml_adamw_free(o);
    ml_layout_free(&L);
    ML_ASSERT(made);
    for (int i = 0; i < 3; i++) want[i] = p0[i] * (1.0f - 0.1f * 0.1f);
    ML_ASSERT_MSG(ml_t_close_enough(p, want, 3, 0.0, 1e-6, &md), "decayed weights: max diff %.3g", md);
    ML_ASSERT_MSG(memcmp(p + 3, p0 + 3, 3 * sizeof(float)) == 0, "a no-decay tensor moved with zero gradient");
}

static void test_kernels__adamw_trainable_mask_freezes(void) {
    ml_adamw_config cfg = { .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f };
    ml_layout L = { 0 };
    ml_adamw *o = NULL;
    float p[6] = { 0.5f, -1.0f, 2.0f, 0.1f, 0.2f, -0.3f }, p0[6], g[6] = { 0.3f, -0.2f, 0.05f, -0.4f, 0.1f, 0.25f };
    float zeros[3] = { 0 }, m_frozen[3] = { 1 }, v_frozen[3] = { 1 };
    const unsigned char trainable[2] = { 0, 1 };     /* freeze "w", train "b" */
    int made = two_tensor_layout(&L) == 0 && ml_adamw_new(&o, &L, &cfg) == 0;
    memcpy(p0, p, sizeof(p));
    if (made) {
        for (int s = 0; s < 3; s++) ml_adamw_step(o, p, g, 0.1f, trainable);
        memcpy(m_frozen, o->m, sizeof(m_frozen));
        memcpy(v_frozen, o->v, sizeof(v_frozen));
    }
    ml_adamw_free(o);
    ml_layout_free(&L);
    ML_ASSERT(made);
    ML_ASSERT_MSG(memcmp(p, p0, 3 * sizeof(float)) == 0, "frozen tensor changed");
    ML_ASSERT_MSG(memcmp(m_frozen, zeros, sizeof(zeros)) == 0 && memcmp(v_frozen, zeros, sizeof(zeros)) == 0,
                  "frozen tensor's moments changed");
    for (int i = 3; i < 6; i++) ML_ASSERT_MSG(p[i] != p0[i], "trainable element %d did not move", i);
}

/* 0.5 sum a_i (p_i - c_i)^2 over 8 elements; 400 steps, lr decayed linearly
 * from 0.1. sign = -1 ascends instead (the negative test). Returns the
 * largest |p_i - c_i| at the end. */
static double adamw_quadratic(float sign) {
    ml_adamw_config cfg = { .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f };
    ml_layout L = { 0 };
    ml_adamw *o = NULL;
    int shape[1] = { 8 };
    float a[8], c[8], p[8] = { 0 }, g[8];
    double worst = INFINITY;
    ml_t_fill_uniform(a, 8, TEST_SEED, 301, 0.5f, 5.0f);
    ml_t_fill_uniform(c, 8, TEST_SEED, 302, -2.0f, 2.0f);
    /* decay 0: a decayed optimum would sit away from c */
    if (ml_layout_add(&L, "p", 1, shape, 0) == 0 && ml_adamw_new(&o, &L, &cfg) == 0) {
        for (int s = 0; s < 400; s++) {
            for (int i = 0; i < 8; i++) g[i] = sign * a[i] * (p[i] - c[i]);
            ml_adamw_step(o, p, g, 0.1f * (1.0f - (float)s / 400.0f), NULL);
        }
        worst = 0.0;
        for (int i = 0; i < 8; i++) worst = fmax(worst, fabs((double)p[i] - c[i]));
    }
    ml_adamw_free(o);
    ml_layout_free(&L);
    return worst;
}

static void test_kernels__adamw_minimises_quadratic(void) {
    double d = adamw_quadratic(1.0f);
    ML_ASSERT_MSG(d < 1e-2, "max |p - c| = %.3g after 400 steps", d);
    d = adamw_quadratic(-1.0f);
    ML_ASSERT_MSG(!(d < 1e-2), "gradient ascent also met the target (max |p - c| = %.3g)", d);
}

/* ---- RNG ---------------------------------------------------------------- */

static void test_kernels__rng_is_a_pure_function(void) {
    ML_ASSERT(ml_rng_u64(1, 2, 3) == ml_rng_u64(1, 2, 3));
    ML_ASSERT(ml_rng_uniform(9, 4, 77) == ml_rng_uniform(9, 4, 77));
    ML_ASSERT(ml_rng_normal(9, 4, 77) == ml_rng_normal(9, 4, 77));
    /* drawing other numbers in between changes nothing */
    uint64_t first = ml_rng_u64(5, 6, 1000);
    for (uint64_t i = 0; i < 1000; i++) (void)ml_rng_u64(5, 6, i);
    ML_ASSERT(first == ml_rng_u64(5, 6, 1000));
    int same_stream = 0, same_seed = 0, same_ctr = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        same_stream += ml_rng_u64(42, 1, i) == ml_rng_u64(42, 2, i);
        same_seed += ml_rng_u64(42, 1, i) == ml_rng_u64(43, 1, i);
        same_ctr += ml_rng_u64(42, 1, i) == ml_rng_u64(42, 1, i + 1);
    }
    ML_ASSERT_EQ_INT(0, same_stream);
    ML_ASSERT_EQ_INT(0, same_seed);
    ML_ASSERT_EQ_INT(0, same_ctr);
}

#define RNG_DRAWS 100000
/* Over 100k draws: the sd of a uniform mean is sqrt(1/12/1e5) = 9.1e-4, of a
 * normal mean 3.2e-3, of a normal variance sqrt(2/1e5) = 4.5e-3; the
 * tolerances below are about 5.5 of those. */
#define TOL_UNIFORM_MEAN 5e-3
#define TOL_NORMAL_MEAN  0.0175
#define TOL_NORMAL_VAR   0.025

typedef float (*draw_fn)(uint64_t seed, uint64_t stream, uint64_t counter);

/* mean and variance of 100k draws; *inrange: all finite (and in [0,1) if unit) */
static void moments(draw_fn f, int unit, double *mean, double *var, int *inrange) {
    double s = 0.0, s2 = 0.0;
    *inrange = 1;
    for (uint64_t i = 0; i < RNG_DRAWS; i++) {
        float u = f(TEST_SEED, 77, i);
        if (!isfinite(u) || (unit && !(u >= 0.0f && u < 1.0f))) *inrange = 0;
        s += u;
        s2 += (double)u * u;
    }
    *mean = s / RNG_DRAWS;
    *var = s2 / RNG_DRAWS - *mean * *mean;
}

static int uniform_ok(draw_fn f, double *mean) {
    double var;
    int inrange;
    moments(f, 1, mean, &var, &inrange);
    return inrange && fabs(*mean - 0.5) <= TOL_UNIFORM_MEAN && fabs(var - 1.0 / 12.0) <= 2e-3;
}

static int normal_ok(draw_fn f, double *mean, double *var) {
    int inrange;
    moments(f, 0, mean, var, &inrange);
    return inrange && fabs(*mean) <= TOL_NORMAL_MEAN && fabs(*var - 1.0) <= TOL_NORMAL_VAR;
}

/* broken generators for the negative tests */
static float uniform_skewed(uint64_t s, uint64_t st, uint64_t c) { return 0.98f * ml_rng_uniform(s, st, c); }
static float normal_shifted(uint64_t s, uint64_t st, uint64_t c) { return 0.03f + ml_rng_normal(s, st, c); }
static float normal_wide(uint64_t s, uint64_t st, uint64_t c) { return 1.03f * ml_rng_normal(s, st, c); }

static void test_kernels__rng_moments(void) {
    double mean, var;
    ML_ASSERT_MSG(uniform_ok(ml_rng_uniform, &mean), "uniform: mean %.5f (want 0.5 +- %g)", mean, TOL_UNIFORM_MEAN);
    ML_ASSERT_MSG(normal_ok(ml_rng_normal, &mean, &var), "normal: mean %.5f var %.5f (tol %g, %g)",
                  mean, var, TOL_NORMAL_MEAN, TOL_NORMAL_VAR);
}

static void test_kernels__rng_moment_checker_rejects_broken(void) {
    double mean, var;
    ML_ASSERT_MSG(!uniform_ok(uniform_skewed, &mean), "a [0,0.98) uniform passed (mean %.5f)", mean);
    ML_ASSERT_MSG(!normal_ok(normal_shifted, &mean, &var), "a normal shifted by 0.03 passed (mean %.5f)", mean);
    ML_ASSERT_MSG(!normal_ok(normal_wide, &mean, &var), "a normal with sd 1.03 passed (var %.5f)", var);
}

static void test_kernels__rng_below_in_range(void) {
    long hist[7] = { 0 };
    for (uint64_t i = 0; i < 70000; i++) {
        uint64_t k = ml_rng_below(TEST_SEED, 5, i, 7);
        ML_ASSERT_MSG(k < 7, "ml_rng_below(.., 7) returned %llu", (unsigned long long)k);
        hist[k]++;
    }
    /* 10000 expected per bin, sd about 93 */
    for (int k = 0; k < 7; k++) ML_ASSERT_MSG(labs(hist[k] - 10000) < 500, "bin %d: %ld of 70000", k, hist[k]);
    ML_ASSERT_EQ_INT(0, ml_rng_below(TEST_SEED, 5, 1, 1));
}

static void test_kernels__rng_permutation(void) {
    enum { N = 1000 };
    static int a[N], b[N], c[N];
    static unsigned char seen[N];
    int fixed = 0;
    ml_rng_permutation(a, N, TEST_SEED, 9);
    ml_rng_permutation(b, N, TEST_SEED, 9);
    ml_rng_permutation(c, N, TEST_SEED, 10);
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < N; i++) {
        ML_ASSERT_MSG(a[i] >= 0 && a[i] < N && !seen[a[i]], "perm[%d] = %d repeats or is out of range", i, a[i]);
        seen[a[i]] = 1;
        fixed += a[i] == i;
    }
    ML_ASSERT_MSG(memcmp(a, b, sizeof(a)) == 0, "same key gave two permutations");
    ML_ASSERT_MSG(memcmp(a, c, sizeof(a)) != 0, "streams 9 and 10 gave the same permutation");
    ML_ASSERT_MSG(fixed < 10, "%d fixed points: hardly shuffled", fixed);   /* ~Poisson(1) */
    int one = -1;
    ml_rng_permutation(&one, 1, TEST_SEED, 9);
    ML_ASSERT_EQ_INT(0, one);
}

/* Sattolo's algorithm, a broken shuffle for the negative test: j < i only,
 * so it makes just the (n-1)! cyclic permutations. */
static void permutation_sattolo(int *perm, int n, uint64_t seed, uint64_t stream) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ml_rng_below(seed, stream, (uint64_t)i, (uint64_t)i);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

typedef void (*perm_fn)(int *perm, int n, uint64_t seed, uint64_t stream);

/* 24000 permutations of 4 items (one per stream): each of the 24 must show
 * up 1000 +- 150 times (sd ~31, so about 5 sd). *lo, *hi: the extremes. */
static int permutations_uniform(perm_fn f, long *lo, long *hi) {
    static long hist[256];
    int perm[4];
    memset(hist, 0, sizeof(hist));
    for (uint64_t s = 0; s < 24000; s++) {
        f(perm, 4, TEST_SEED, 5000 + s);
        hist[perm[0] * 64 + perm[1] * 16 + perm[2] * 4 + perm[3]]++;
    }
    *lo = 1L << 30;
    *hi = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                int d = 6 - a - b - c;
                if (a == b || a == c || b == c || d < 0 || d > 3 || d == a || d == b || d == c) continue;
                long k = hist[a * 64 + b * 16 + c * 4 + d];
                if (k < *lo) *lo = k;
                if (k > *hi) *hi = k;
            }
    return *lo >= 850 && *hi <= 1150;
}

static void test_kernels__rng_permutation_uniform(void) {
    long lo, hi;
    ML_ASSERT_MSG(permutations_uniform(ml_rng_permutation, &lo, &hi),
                  "permutations of 4 seen %ld..%ld times in 24000, want 1000 +- 150 each", lo, hi);
    ML_ASSERT_MSG(!permutations_uniform(permutation_sattolo, &lo, &hi),
                  "Sattolo's shuffle passed the uniformity check (%ld..%ld)", lo, hi);
}

/* ---- merge: weighted averaging ------------------------------------------ */

static void test_kernels__merge_identical_models_exact(void) {
    enum { N = 1001 };
    static float a[N], out[N];
    const float *models[3] = { a, a, a };
    const double w[3] = { 0.2, 0.3, 0.5 }, w2[3] = { 1.0, 7.0, 3.0 };
    ml_t_fill_uniform(a, N, TEST_SEED, 401, -3.0f, 3.0f);
    ML_ASSERT_EQ_INT(0, ml_merge_average(out, models, w, 3, N));
    ML_ASSERT_MSG(memcmp(out, a, sizeof(a)) == 0, "average of identical models is not the model");
    ML_ASSERT_EQ_INT(0, ml_merge_average(out, models, w2, 3, N));
    ML_ASSERT_MSG(memcmp(out, a, sizeof(a)) == 0, "average of identical models (weights 1,7,3) is not the model");
}

static void test_kernels__merge_weights_one_zero(void) {
    enum { N = 257 };
    static float a[N], b[N], out[N];
    const float *models[2] = { a, b };
    const double w[2] = { 1.0, 0.0 };
    ml_t_fill_uniform(a, N, TEST_SEED, 402, -3.0f, 3.0f);
    ml_t_fill_uniform(b, N, TEST_SEED, 403, -3.0f, 3.0f);
    ML_ASSERT_EQ_INT(0, ml_merge_average(out, models, w, 2, N));
    ML_ASSERT_MSG(memcmp(out, a, sizeof(a)) == 0, "weights (1,0) did not return the first model");
}

/* The hand case: a, b below; 0.25 a + 0.75 b (every value exact in float):
 *   0.25*1 + 0.75*3 = 2.5;  0.25*(-2) + 0.75*2 = 1;  0.25*4 + 0 = 1;
 *   0.25*0.5 + 0.75*(-0.5) = -0.25. Weights (1,3) must give the same. */
static const float hand_a[4] = { 1.0f, -2.0f, 4.0f, 0.5f };
static const float hand_b[4] = { 3.0f, 2.0f, 0.0f, -0.5f };
static const float hand_want[4] = { 2.5f, 1.0f, 1.0f, -0.25f };

typedef int (*average_fn)(float *, const float *const *, const double *, int, size_t);

/* broken on purpose: forgets to divide by the sum of the weights */
static int average_unnormalised(float *out, const float *const *models, const double *weights, int nmodels, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (int k = 0; k < nmodels; k++) acc += weights[k] * models[k][i];
        out[i] = (float)acc;
    }
    return 0;
}

static int merge_hand_ok(average_fn f, const double *w, double *md) {
    const float *models[2] = { hand_a, hand_b };
    float out[4];
    *md = NAN;
    if (f(out, models, w, 2, 4) != 0) return 0;
    return ml_t_close_enough(out, hand_want, 4, 1e-7, 1e-7, md);
}

static void test_kernels__merge_hand_two_models(void) {
    const double w[2] = { 0.25, 0.75 }, w13[2] = { 1.0, 3.0 };
    double md = 0.0;
    ML_ASSERT_MSG(merge_hand_ok(ml_merge_average, w, &md), "weights (0.25,0.75): max diff %.3g", md);
    ML_ASSERT_MSG(merge_hand_ok(ml_merge_average, w13, &md), "weights (1,3): max diff %.3g", md);
}

static void test_kernels__merge_checker_rejects_unnormalised(void) {
    const double w13[2] = { 1.0, 3.0 };
    double md = 0.0;
    ML_ASSERT_MSG(!merge_hand_ok(average_unnormalised, w13, &md), "an unnormalised sum passed (max diff %.3g)", md);
}

static void test_kernels__merge_rejects_bad_weights(void) {
    float a[2] = { 1.0f, 2.0f }, b[2] = { 3.0f, 4.0f }, out[2] = { 9.0f, 9.0f };
    const float *models[2] = { a, b };
    const double neg[2] = { 0.5, -0.1 }, zero[2] = { 0.0, 0.0 };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_merge_average(out, models, neg, 2, 2));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_error_last()->code);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "average: weight 1 is negative (-0.1)");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_merge_average(out, models, zero, 2, 2));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "average: weights sum to zero");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_merge_average(out, models, zero, 0, 2));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need at least one model");
    ML_ASSERT_MSG(out[0] == 9.0f && out[1] == 9.0f, "a rejected merge wrote its output");
}

const ml_test ml_tests_kernels[] = {
    { "kernels__gelu_slope_matches", test_kernels__gelu_slope_matches, "unit" },
    { "kernels__gemm_matches_reference", test_kernels__gemm_matches_reference, "unit" },
    { "kernels__gemm_checker_rejects_broken", test_kernels__gemm_checker_rejects_broken, "unit" },
    { "kernels__linear_forward_matches_reference", test_kernels__linear_forward_matches_reference, "unit" },
    { "kernels__linear_backward_matches_reference", test_kernels__linear_backward_matches_reference, "unit" },
    { "kernels__linear_backward_accumulates", test_kernels__linear_backward_accumulates, "unit" },
    { "kernels__elementwise_backward_accumulates", test_kernels__elementwise_backward_accumulates, "unit" },
    { "kernels__relu_gelu_forward_values", test_kernels__relu_gelu_forward_values, "unit" },
    { "kernels__softmax_ce_forward_values", test_kernels__softmax_ce_forward_values, "unit" },
    { "kernels__linear_backward_fd", test_kernels__linear_backward_fd, "unit" },
    { "kernels__fd_checker_rejects_flipped_sign", test_kernels__fd_checker_rejects_flipped_sign, "unit" },
    { "kernels__relu_backward_fd", test_kernels__relu_backward_fd, "unit" },
    { "kernels__gelu_backward_fd", test_kernels__gelu_backward_fd, "unit" },
    { "kernels__softmax_ce_backward_fd", test_kernels__softmax_ce_backward_fd, "unit" },
    { "kernels__mlp_backward_fd_relu", test_kernels__mlp_backward_fd_relu, "unit" },
    { "kernels__mlp_backward_fd_gelu", test_kernels__mlp_backward_fd_gelu, "unit" },
    { "kernels__mlp_fd_rejects_flipped_sign", test_kernels__mlp_fd_rejects_flipped_sign, "unit" },
    { "kernels__mlp_learns_separable_toy", test_kernels__mlp_learns_separable_toy, "unit" },
    { "kernels__mlp_new_rejects_bad_config", test_kernels__mlp_new_rejects_bad_config, "unit" },
    { "kernels__adamw_matches_hand_computation", test_kernels__adamw_matches_hand_computation, "unit" },
    { "kernels__adamw_checker_rejects_no_bias_correction", test_kernels__adamw_checker_rejects_no_bias_correction, "unit" },
    { "kernels__adamw_decay_only_on_decay_tensors", test_kernels__adamw_decay_only_on_decay_tensors, "unit" },
    { "kernels__adamw_trainable_mask_freezes", test_kernels__adamw_trainable_mask_freezes, "unit" },
    { "kernels__adamw_minimises_quadratic", test_kernels__adamw_minimises_quadratic, "unit" },
    { "kernels__rng_is_a_pure_function", test_kernels__rng_is_a_pure_function, "unit" },
    { "kernels__rng_moments", test_kernels__rng_moments, "unit" },
    { "kernels__rng_moment_checker_rejects_broken", test_kernels__rng_moment_checker_rejects_broken, "unit" },
    { "kernels__rng_below_in_range", test_kernels__rng_below_in_range, "unit" },
    { "kernels__rng_permutation", test_kernels__rng_permutation, "unit" },
    { "kernels__rng_permutation_uniform", test_kernels__rng_permutation_uniform, "unit" },
    { "kernels__merge_identical_models_exact", test_kernels__merge_identical_models_exact, "unit" },
    { "kernels__merge_weights_one_zero", test_kernels__merge_weights_one_zero, "unit" },
    { "kernels__merge_hand_two_models", test_kernels__merge_hand_two_models, "unit" },
    { "kernels__merge_checker_rejects_unnormalised", test_kernels__merge_checker_rejects_unnormalised, "unit" },
    { "kernels__merge_rejects_bad_weights", test_kernels__merge_rejects_bad_weights, "unit" },
    { 0 },
};
