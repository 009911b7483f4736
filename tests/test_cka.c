/*
 * tests/test_cka.c: CKA (kernels/cka.c) against hand computations, the
 * double-precision references (kernels/ref/cka_ref.c) and the invariances
 * that define it: linear, RBF, the unbiased HSIC_1 and debiased CKA, the
 * minibatch accumulator and the layer x layer matrix.
 * Owns: the ml_tests_cka table. Not here: the other kernels (test_kernels.c).
 * Both code paths of the linear functions are driven on purpose. They pick
 * the feature form when dx*dy + (dx^2 + dy^2)/2 <= n*(dx + dy), else the
 * n x n Gram form: n=200, d~10 and the n=4, d=1 HSIC_1 case are the feature
 * form; n=20, d~300 and the hand cases padded to d=8 (3x2: 128 > 48;
 * 4x1: 128 > 64) are the Gram form.
 * Each quantity has one checker (cka_agree, hsic_agree); deliberately
 * broken variants (no centering; HSIC_1 without zeroing the diagonal; RBF
 * with the mean distance or without the factor 2) are shown to fail it.
 */
#include "tests/test.h"
#include "tests/util.h"

#include "core/error.h"
#include "kernels/cka.h"
#include "kernels/rng.h"

#include <stdint.h>
#include <stdlib.h>

#define CKA_SEED 777u

typedef int (*cka_fn)(double *out, const float *X, const float *Y, int n, int dx, int dy);

static const cka_fn cka_impls[2] = { ml_cka_linear, ml_ref_cka_linear };
static const char *const cka_impl_names[2] = { "ml_cka_linear", "ml_ref_cka_linear" };

/* THE checker: |got - want| <= atol, NaN fails */
static int cka_agree(double got, double want, double atol) {
    return fabs(got - want) <= atol;
}

/* Y (n,dy) = X (n,dx) M + noise, so CKA(X,Y) is well inside (0,1) */
static void related(float *Y, const float *X, int n, int dx, int dy, uint64_t stream, float noise) {
    float *M = malloc((size_t)dx * dy * sizeof(float));
    if (!M) return;
    ml_t_fill_uniform(M, (long)dx * dy, CKA_SEED, stream, -1.0f, 1.0f);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < dy; j++) {
            double s = 0.0;
            for (int k = 0; k < dx; k++) s += (double)X[(long)i * dx + k] * M[(long)k * dy + j];
            Y[(long)i * dy + j] = (float)(s / sqrt((double)dx) +
                                  noise * (2.0f * ml_rng_uniform(CKA_SEED, stream + 1, (uint64_t)(i * dy + j)) - 1.0f));
        }
    free(M);
}

/* A broken CKA on purpose: the linear-kernel formula WITHOUT centering,
 * ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), in double. */
static int cka_uncentered(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (int a = 0; a < dy; a++)
        for (int b = 0; b < dx; b++) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += (double)Y[(long)i * dy + a] * X[(long)i * dx + b];
            xy += s * s;
        }
    for (int a = 0; a < dx; a++)
        for (int b = 0; b < dx; b++) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += (double)X[(long)i * dx + a] * X[(long)i * dx + b];
            xx += s * s;
        }
    for (int a = 0; a < dy; a++)
        for (int b = 0; b < dy; b++) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += (double)Y[(long)i * dy + a] * Y[(long)i * dy + b];
            yy += s * s;
        }
    *out = xy / sqrt(xx * yy);
    return 0;
}

/* ---- the hand-computed case --------------------------------------------
 *
 *        X = [0 0]      Y = [1 2]
 *            [1 0]          [2 0]
 *            [2 3]          [3 1]
 *
 * 1. Centre the columns. Column means of X are (1, 1), of Y (2, 1):
 *        Xc = [-1 -1]   Yc = [-1  1]
 *             [ 0 -1]        [ 0 -1]
 *             [ 1  2]        [ 1  0]
 * 2. Gram matrices of the centred data (this is H K H, H = I - 11^T/3):
 *        K = Xc Xc^T = [ 2  1 -3]     L = Yc Yc^T = [ 2 -1 -1]
 *                      [ 1  1 -2]                   [-1  1  0]
 *                      [-3 -2  5]                   [-1  0  1]
 *    (every row sums to 0, as centred Gram matrices must).
 * 3. HSIC sums (the biased estimator's 1/(n-1)^2 cancels in the ratio):
 *        <K,L> = 2*2 + 2*(1*-1) + 2*(-3*-1) + 1*1 + 2*(-2*0) + 5*1
 *              = 4 - 2 + 6 + 1 + 0 + 5                       = 14
 *        <K,K> = 4 + 2*1 + 2*9 + 1 + 2*4 + 25                = 58
 *        <L,L> = 4 + 2*1 + 2*1 + 1 + 0 + 1                   = 10
 *    Check in feature form: Yc^T Xc = [2 3; -1 0], squared norm 4+9+1+0 = 14;
 *    Xc^T Xc = [2 3; 3 6] -> 4+9+9+36 = 58; Yc^T Yc = [2 -1; -1 2] -> 10.
 * 4. CKA = 14 / sqrt(58 * 10) = 14 / sqrt(580) = 14 / (2 sqrt(145))
 *        = 7 / sqrt(145) = 0.58131835897617...
 * Without centering (the broken variant) the same data give
 *    158 / sqrt(178 * 271) = 0.7194, far outside 1e-6.
 * pad > 0 appends pad constant columns (5 in X, -2 in Y): they centre to
 * zero, so the value is unchanged, and d = 8 moves ml_cka_linear to its
 * Gram form.
 */
#define HAND_CKA 0.58131835897617980   /* 7/sqrt(145) */
#define HAND_TOL 1e-6

static int hand_case(cka_fn f, int pad, double *got) {
    static const float x0[3][2] = { { 0, 0 }, { 1, 0 }, { 2, 3 } };
    static const float y0[3][2] = { { 1, 2 }, { 2, 0 }, { 3, 1 } };
    float X[3 * 8], Y[3 * 8];
    int d = 2 + pad;
    if (d > 8) return 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < d; j++) {
            X[i * d + j] = j < 2 ? x0[i][j] : 5.0f;
            Y[i * d + j] = j < 2 ? y0[i][j] : -2.0f;
        }
    *got = NAN;
    if (f(got, X, Y, 3, d, d) != 0) return 0;
    return cka_agree(*got, HAND_CKA, HAND_TOL);
}

static void test_cka__hand_computed_3x2(void) {
    ML_ASSERT_NEAR(HAND_CKA, 7.0 / sqrt(145.0), 1e-15, 0.0);
    for (int k = 0; k < 2; k++)
        for (int pad = 0; pad <= 6; pad += 6) {
            double got;
            ML_ASSERT_MSG(hand_case(cka_impls[k], pad, &got), "%s (d=%d): got %.12f, want 7/sqrt(145) = %.12f",
                          cka_impl_names[k], 2 + pad, got, HAND_CKA);
        }
}

static void test_cka__uncentered_fails_hand_case(void) {
    double got;
    ML_ASSERT_MSG(!hand_case(cka_uncentered, 0, &got), "uncentered CKA passed the hand case (got %.9f)", got);
    ML_ASSERT_NEAR(158.0 / sqrt(178.0 * 271.0), got, 1e-12, 0.0);   /* and it is the value derived above */
}

/* ---- X against itself, and the reference on random data ----------------- */

static void test_cka__self_is_one(void) {
    static const int shapes[][2] = { { 200, 10 }, { 20, 300 } };   /* feature form, Gram form */
    static float X[200 * 300];
    for (size_t s = 0; s < 2; s++) {
        int n = shapes[s][0], d = shapes[s][1];
        ml_t_fill_uniform(X, (long)n * d, CKA_SEED, 10 + s, -1.0f, 1.0f);
        for (int k = 0; k < 2; k++) {
            double v = NAN;
            ML_ASSERT_EQ_INT(0, cka_impls[k](&v, X, X, n, d, d));
            ML_ASSERT_MSG(cka_agree(v, 1.0, 1e-5), "%s CKA(X,X) n=%d d=%d: %.9f", cka_impl_names[k], n, d, v);
        }
    }
}

/* fast vs reference on related random data (offset by +3 so centering
 * matters); returns what cka_agree says at 1e-5 */
static int vs_reference(cka_fn f, int n, int dx, int dy, double *fast, double *ref) {
    float *X = malloc((size_t)n * dx * sizeof(float)), *Y = malloc((size_t)n * dy * sizeof(float));
    int ok = 0;
    *fast = *ref = NAN;
    if (X && Y) {
        ml_t_fill_uniform(X, (long)n * dx, CKA_SEED, 20, -1.0f, 1.0f);
        related(Y, X, n, dx, dy, 21, 0.7f);
        for (long i = 0; i < (long)n * dx; i++) X[i] += 3.0f;
        for (long i = 0; i < (long)n * dy; i++) Y[i] -= 2.0f;
        ok = f(fast, X, Y, n, dx, dy) == 0 && ml_ref_cka_linear(ref, X, Y, n, dx, dy) == 0 &&
             cka_agree(*fast, *ref, 1e-5);
    }
    free(X);
    free(Y);
    return ok;
}

static void test_cka__matches_reference_feature_form(void) {
    double fast, ref;
    ML_ASSERT_MSG(vs_reference(ml_cka_linear, 200, 10, 12, &fast, &ref), "n=200 d=10,12: fast %.9f ref %.9f", fast, ref);
    ML_ASSERT_MSG(ref > 0.1 && ref < 0.99, "test data gave an uninformative CKA %.6f", ref);
}

static void test_cka__matches_reference_gram_form(void) {
    double fast, ref;
    ML_ASSERT_MSG(vs_reference(ml_cka_linear, 20, 300, 250, &fast, &ref), "n=20 d=300,250: fast %.9f ref %.9f", fast, ref);
    ML_ASSERT_MSG(ref > 0.1 && ref < 0.99, "test data gave an uninformative CKA %.6f", ref);
}

static void test_cka__reference_checker_rejects_uncentered(void) {
    double fast, ref;
    ML_ASSERT_MSG(!vs_reference(cka_uncentered, 200, 10, 12, &fast, &ref), "uncentered %.9f ~ ref %.9f", fast, ref);
    ML_ASSERT_MSG(!vs_reference(cka_uncentered, 20, 300, 250, &fast, &ref), "uncentered %.9f ~ ref %.9f", fast, ref);
}

static void test_cka__symmetric(void) {
    static const int shapes[][3] = { { 200, 10, 12 }, { 20, 300, 250 } };
    static float X[200 * 300], Y[200 * 300];
    for (size_t s = 0; s < 2; s++) {
        int n = shapes[s][0], dx = shapes[s][1], dy = shapes[s][2];
        ml_t_fill_uniform(X, (long)n * dx, CKA_SEED, 30, -1.0f, 1.0f);
        related(Y, X, n, dx, dy, 31, 0.5f);
        for (int k = 0; k < 2; k++) {
            double a = NAN, b = NAN;
            ML_ASSERT_EQ_INT(0, cka_impls[k](&a, X, Y, n, dx, dy));
            ML_ASSERT_EQ_INT(0, cka_impls[k](&b, Y, X, n, dy, dx));
            ML_ASSERT_MSG(cka_agree(a, b, 1e-7), "%s n=%d: CKA(X,Y) %.12f != CKA(Y,X) %.12f",
                          cka_impl_names[k], n, a, b);
            ML_ASSERT_MSG(a > 0.0 && a <= 1.0, "%s: CKA %.9f outside (0,1]", cka_impl_names[k], a);
        }
    }
}

/* ---- invariances -------------------------------------------------------- */

#define IN 60
#define ID 8
#define IDY 6

/* Q (d,d) orthogonal: modified Gram-Schmidt on the columns of a random
 * matrix, in double. Returns the largest |Q^T Q - I| entry. */
static double random_orthogonal(double *Q, int d, uint64_t stream) {
    for (int i = 0; i < d * d; i++) Q[i] = 2.0 * ml_rng_uniform(CKA_SEED, stream, (uint64_t)i) - 1.0;
    for (int j = 0; j < d; j++) {
        for (int k = 0; k < j; k++) {
            double dot = 0.0;
            for (int i = 0; i < d; i++) dot += Q[i * d + j] * Q[i * d + k];
            for (int i = 0; i < d; i++) Q[i * d + j] -= dot * Q[i * d + k];
        }
        double nrm = 0.0;
        for (int i = 0; i < d; i++) nrm += Q[i * d + j] * Q[i * d + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < d; i++) Q[i * d + j] /= nrm;
    }
    double worst = 0.0;
    for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) {
            double s = 0.0;
            for (int i = 0; i < d; i++) s += Q[i * d + a] * Q[i * d + b];
            worst = fmax(worst, fabs(s - (a == b)));
        }
    return worst;
}

/* out (n,d) = X (n,d) T (d,d), in double then rounded */
static void transform(float *out, const float *X, const double *T, int n, int d) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double s = 0.0;
            for (int k = 0; k < d; k++) s += X[i * d + k] * T[k * d + j];
            out[i * d + j] = (float)s;
        }
}

static void test_cka__invariant_to_orthogonal_transform(void) {
    static float X[IN * ID], XQ[IN * ID], Y[IN * IDY];
    double Q[ID * ID];
    double ortho = random_orthogonal(Q, ID, 40);
    ML_ASSERT_MSG(ortho < 1e-12, "Gram-Schmidt: |Q^T Q - I| = %.3g", ortho);
    ml_t_fill_uniform(X, IN * ID, CKA_SEED, 41, -1.0f, 1.0f);
    related(Y, X, IN, ID, IDY, 42, 0.5f);
    transform(XQ, X, Q, IN, ID);
    for (int k = 0; k < 2; k++) {
        double base, rot, self;
        ML_ASSERT_EQ_INT(0, cka_impls[k](&base, X, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&rot, XQ, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&self, X, XQ, IN, ID, ID));
        ML_ASSERT_MSG(cka_agree(rot, base, 1e-5), "%s: CKA(XQ,Y) %.9f != CKA(X,Y) %.9f", cka_impl_names[k], rot, base);
        ML_ASSERT_MSG(cka_agree(self, 1.0, 1e-5), "%s: CKA(X,XQ) %.9f != 1", cka_impl_names[k], self);
    }
}

static void test_cka__invariant_to_isotropic_scaling(void) {
    static float X[IN * ID], XS[IN * ID], Y[IN * IDY];
    ml_t_fill_uniform(X, IN * ID, CKA_SEED, 51, -1.0f, 1.0f);
    related(Y, X, IN, ID, IDY, 52, 0.5f);
    for (int i = 0; i < IN * ID; i++) XS[i] = 3.7f * X[i];
    for (int k = 0; k < 2; k++) {
        double base, scaled, self;
        ML_ASSERT_EQ_INT(0, cka_impls[k](&base, X, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&scaled, XS, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&self, X, XS, IN, ID, ID));
        ML_ASSERT_MSG(cka_agree(scaled, base, 1e-5), "%s: CKA(3.7X,Y) %.9f != CKA(X,Y) %.9f",
                      cka_impl_names[k], scaled, base);
        ML_ASSERT_MSG(cka_agree(self, 1.0, 1e-5), "%s: CKA(X,3.7X) %.9f != 1", cka_impl_names[k], self);
    }
}

/* Scaling feature 0 by 10 and the rest by 1 is not a similarity transform:
 * CKA must notice (by more than 0.05, a margin far above the 1e-5 noise). */
static void test_cka__not_invariant_to_anisotropic_scaling(void) {
    static float X[IN * ID], XS[IN * ID], Y[IN * IDY];
    ml_t_fill_uniform(X, IN * ID, CKA_SEED, 61, -1.0f, 1.0f);
    related(Y, X, IN, ID, IDY, 62, 0.5f);
    for (int i = 0; i < IN; i++)
        for (int j = 0; j < ID; j++) XS[i * ID + j] = (j == 0 ? 10.0f : 1.0f) * X[i * ID + j];
    for (int k = 0; k < 2; k++) {
        double base, scaled, self;
        ML_ASSERT_EQ_INT(0, cka_impls[k](&base, X, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&scaled, XS, Y, IN, ID, IDY));
        ML_ASSERT_EQ_INT(0, cka_impls[k](&self, X, XS, IN, ID, ID));
        ML_ASSERT_MSG(fabs(scaled - base) > 0.05, "%s: CKA moved only %.3g under diag(10,1,..)",
                      cka_impl_names[k], fabs(scaled - base));
        ML_ASSERT_MSG(self < 0.95, "%s: CKA(X, X diag(10,1,..)) = %.6f, want < 0.95", cka_impl_names[k], self);
    }
}

/* ---- errors ------------------------------------------------------------- */

static void test_cka__constant_representation_is_invalid(void) {
    static float C[50 * 4], X[50 * 4];
    ml_t_fill_uniform(X, 50 * 4, CKA_SEED, 71, -1.0f, 1.0f);
    /* 0, a power of two, and 0.1f (not a short binary fraction): each must
     * centre to exactly zero and be refused, not give a noise-driven CKA */
    const float values[3] = { 0.0f, 2.0f, 0.1f };
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 50 * 4; i++) C[i] = values[c];
        for (int k = 0; k < 2; k++) {
            double v = 0.0;
            ML_ASSERT_MSG(cka_impls[k](&v, C, X, 50, 4, 4) == ML_EINVALID, "%s: constant X = %g gave CKA %.9g",
                          cka_impl_names[k], values[c], v);
            ML_ASSERT_STR_HAS(ml_error_last()->message, "constant");
            ML_ASSERT_MSG(cka_impls[k](&v, X, C, 50, 4, 4) == ML_EINVALID, "%s: constant Y = %g gave CKA %.9g",
                          cka_impl_names[k], values[c], v);
            ML_ASSERT_STR_HAS(ml_error_last()->message, "constant");
        }
    }
}

static void test_cka__too_few_examples_is_invalid(void) {
    float X[4] = { 1, 2, 3, 4 };
    double v = 0.0;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_linear(&v, X, X, 1, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "n >= 2");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_ref_cka_linear(&v, X, X, 1, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "n >= 2");
}

/* ==== unbiased HSIC_1 and debiased CKA ==================================== */

/* THE HSIC_1 checker: got (3) ~ want (3), each within rtol of its own scale
 * (sqrt(HSIC_1(K,K) HSIC_1(L,L)) for the cross term, which may be ~0) */
static int hsic_agree(const double got[3], const double want[3], double rtol) {
    double scale[3] = { sqrt(fabs(want[1] * want[2])), fabs(want[1]), fabs(want[2]) };
    for (int t = 0; t < 3; t++)
        if (!(fabs(got[t] - want[t]) <= rtol * scale[t])) return 0;
    return 1;
}

typedef int (*hsic_fn)(double hsic[3], const float *X, const float *Y, int n, int dx, int dy);

/* A broken HSIC_1 on purpose: Song et al.'s formula on K and L WITHOUT
 * zeroing their diagonals, in double. */
static int hsic1_diag_kept_one(double *out, const double *K, const double *L, int n) {
    double tr = 0.0, sk = 0.0, sl = 0.0, kl1 = 0.0;
    for (long i = 0; i < n; i++) {
        double u = 0.0, v = 0.0;
        for (long j = 0; j < n; j++) {
            tr += K[i * n + j] * L[j * n + i];
            sk += K[i * n + j];
            sl += L[i * n + j];
            u += K[j * n + i];
            v += L[i * n + j];
        }
        kl1 += u * v;
    }
    *out = (tr + sk * sl / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * kl1) / ((double)n * (n - 3.0));
    return 0;
}

static int hsic1_diag_kept(double hsic[3], const float *X, const float *Y, int n, int dx, int dy) {
    double *K = malloc(sizeof(double) * n * n), *L = malloc(sizeof(double) * n * n);
    int error = -1;
    if (K && L) {
        ml_ref_gram_linear(K, X, n, dx);
        ml_ref_gram_linear(L, Y, n, dy);
        hsic1_diag_kept_one(&hsic[0], K, L, n);
        hsic1_diag_kept_one(&hsic[1], K, K, n);
        hsic1_diag_kept_one(&hsic[2], L, L, n);
        error = 0;
    }
    free(K);
    free(L);
    return error;
}

/* ---- the hand-computed HSIC_1 case (n = 4) ------------------------------
 *
 * One feature each: x = (0, 1, 2, 3), y = (0, 1, 1, 0); K = x x^T, L = y y^T.
 * n = 4: n(n-3) = 4, (n-1)(n-2) = 6, 2/(n-2) = 1.
 *        K~ = [0 0 0 0]      L~ = [0 0 0 0]
 *             [0 0 2 3]           [0 0 1 0]
 *             [0 2 0 6]           [0 1 0 0]
 *             [0 3 6 0]           [0 0 0 0]
 *   tr(K~ L~) = sum_ij K~_ij L~_ij = 2*(2*1)          = 4
 *   1^T K~ 1  = 2*(2 + 3 + 6)                         = 22
 *   1^T L~ 1  = 2
 *   K~ 1 = (0, 5, 8, 9),  L~ 1 = (0, 1, 1, 0),  1^T K~ L~ 1 = 5 + 8 = 13
 *   HSIC_1(K,L) = [4 + 22*2/6 - 13] / 4 = (-5/3)/4              = -5/12
 *   HSIC_1(K,K): tr = 2*(4 + 9 + 36) = 98, |K~1|^2 = 25+64+81 = 170
 *              = [98 + 484/6 - 170] / 4 = (26/3)/4              = 13/6
 *   HSIC_1(L,L): tr = 2, |L~1|^2 = 2:  [2 + 4/6 - 2] / 4        = 1/6
 *   debiased CKA = (-5/12) / sqrt(13/36) = -5 / (2 sqrt(13))    = -0.6933752...
 * HSIC_1 is exactly invariant to adding constants to the features (the
 * U-statistic cancels K_ij + f(i) + f(j) + c), so offset = 5 added to x and
 * pad constant columns (3 in X, -1 in Y) must leave every value alone; the
 * fast code centres anyway, the reference does not.
 * Keeping the diagonals (the broken variant): tr(KL) = 4 + 1*1 + 4*1 = 9,
 * 1^T K 1 = 36, 1^T L 1 = 4, K1 = (0,6,12,18), L1 = (0,2,2,0), 1^T K L 1 = 36:
 *   [9 + 36*4/6 - 36] / 4 = -3/4, not -5/12.
 */
static int hand_hsic(hsic_fn f, float offset, int pad, double got[3]) {
    static const float x0[4] = { 0, 1, 2, 3 }, y0[4] = { 0, 1, 1, 0 };
    static const double want[3] = { -5.0 / 12.0, 13.0 / 6.0, 1.0 / 6.0 };
    float X[4 * 8], Y[4 * 8];
    int d = 1 + pad;
    if (d > 8) return 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < d; j++) {
            X[i * d + j] = j == 0 ? x0[i] + offset : 3.0f;
            Y[i * d + j] = j == 0 ? y0[i] : -1.0f;
        }
    got[0] = got[1] = got[2] = NAN;
    if (f(got, X, Y, 4, d, d) != 0) return 0;
    return hsic_agree(got, want, 1e-6);
}

static void test_cka__hsic1_hand_computed_n4(void) {
    static const hsic_fn fns[2] = { ml_hsic1_linear, ml_ref_hsic1_linear };
    static const char *const names[2] = { "ml_hsic1_linear", "ml_ref_hsic1_linear" };
    for (int k = 0; k < 2; k++)
        for (int pad = 0; pad <= 7; pad += 7)
            for (int off = 0; off <= 5; off += 5) {
                double h[3];
                ML_ASSERT_MSG(hand_hsic(fns[k], (float)off, pad, h),
                              "%s (d=%d, offset %d): got %.12f %.12f %.12f, want -5/12 13/6 1/6",
                              names[k], 1 + pad, off, h[0], h[1], h[2]);
            }
    /* and the debiased CKA built from them */
    static const float x[4] = { 0, 1, 2, 3 }, y[4] = { 0, 1, 1, 0 };
    double v = NAN, r = NAN;
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&v, x, y, 4, 1, 1));
    ML_ASSERT_EQ_INT(0, ml_ref_cka_linear_debiased(&r, x, y, 4, 1, 1));
    ML_ASSERT_NEAR(-5.0 / (2.0 * sqrt(13.0)), v, 1e-6, 0.0);
    ML_ASSERT_NEAR(-5.0 / (2.0 * sqrt(13.0)), r, 1e-12, 0.0);
}

static void test_cka__hsic1_diagonal_kept_fails_hand_case(void) {
    double h[3];
    ML_ASSERT_MSG(!hand_hsic(hsic1_diag_kept, 0.0f, 0, h), "diagonal-kept HSIC_1 passed the hand case (%.9f)", h[0]);
    ML_ASSERT_NEAR(-0.75, h[0], 1e-12, 0.0);   /* the value derived above */
}

/* HSIC_1 of f against the reference on related data offset by +3 / -2;
 * returns what hsic_agree says at rtol */
static int hsic_vs_reference(hsic_fn f, int n, int dx, int dy, double rtol, double got[3], double want[3]) {
    float *X = calloc((size_t)n * dx, sizeof(float)), *Y = calloc((size_t)n * dy, sizeof(float));
    int ok = 0;
    got[0] = got[1] = got[2] = want[0] = want[1] = want[2] = NAN;
    if (X && Y) {
        ml_t_fill_uniform(X, (long)n * dx, CKA_SEED, 80, -1.0f, 1.0f);
        related(Y, X, n, dx, dy, 81, 0.7f);
        for (long i = 0; i < (long)n * dx; i++) X[i] += 3.0f;
        for (long i = 0; i < (long)n * dy; i++) Y[i] -= 2.0f;
        ok = f(got, X, Y, n, dx, dy) == 0 && ml_ref_hsic1_linear(want, X, Y, n, dx, dy) == 0 &&
             hsic_agree(got, want, rtol);
    }
    free(X);
    free(Y);
    return ok;
}

/* Float products against double. Relative differences seen: <= 1.6e-7
 * (feature form, n=200 d=10,12), <= 7e-8 (feature form, n=64 d=40) and
 * <= 3.2e-8 (Gram form, n=20 d=300,250); 1e-5 leaves margin. The
 * diagonal-kept variant is off by factors of 10 to 10^4 on the same data. */
#define HSIC_RTOL 1e-5

static void test_cka__hsic1_matches_reference(void) {
    static const int shapes[][3] = { { 200, 10, 12 }, { 20, 300, 250 }, { 64, 40, 40 } };
    for (size_t s = 0; s < 3; s++) {
        double got[3], want[3];
        int n = shapes[s][0], dx = shapes[s][1], dy = shapes[s][2];
        ML_ASSERT_MSG(hsic_vs_reference(ml_hsic1_linear, n, dx, dy, HSIC_RTOL, got, want),
                      "n=%d dx=%d dy=%d: fast %.9g %.9g %.9g ref %.9g %.9g %.9g", n, dx, dy,
                      got[0], got[1], got[2], want[0], want[1], want[2]);
        ML_ASSERT_MSG(want[0] > 0.05 * sqrt(want[1] * want[2]), "uninformative test data: HSIC_1 %.3g", want[0]);
    }
}

static void test_cka__hsic1_reference_checker_rejects_diagonal_kept(void) {
    static const int shapes[][3] = { { 200, 10, 12 }, { 20, 300, 250 } };
    for (size_t s = 0; s < 2; s++) {
        double got[3], want[3];
        ML_ASSERT_MSG(!hsic_vs_reference(hsic1_diag_kept, shapes[s][0], shapes[s][1], shapes[s][2], HSIC_RTOL, got, want),
                      "diagonal-kept HSIC_1 %.9g ~ ref %.9g", got[0], want[0]);
    }
}

static void test_cka__debiased_self_is_one(void) {
    static const int shapes[][2] = { { 200, 10 }, { 20, 300 } };
    static float X[200 * 300];
    for (size_t s = 0; s < 2; s++) {
        int n = shapes[s][0], d = shapes[s][1];
        ml_t_fill_uniform(X, (long)n * d, CKA_SEED, 90 + s, -1.0f, 1.0f);
        double v = NAN, r = NAN;
        ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&v, X, X, n, d, d));
        ML_ASSERT_EQ_INT(0, ml_ref_cka_linear_debiased(&r, X, X, n, d, d));
        ML_ASSERT_MSG(cka_agree(v, 1.0, 1e-5), "debiased CKA(X,X) n=%d d=%d: %.9f", n, d, v);
        ML_ASSERT_MSG(cka_agree(r, 1.0, 1e-12), "ref debiased CKA(X,X) n=%d d=%d: %.15f", n, d, r);
    }
}

/* n = 20, d = 100, X and Y independent uniform, 20 seeds. Seen: biased CKA
 * >= 0.81 (mean 0.84) every time, since with d >> n both centred Gram
 * matrices are close to d*H; debiased mean +0.007, single seeds within
 * +-0.27 (it agrees with the reference to 1e-5 each time). Thresholds:
 * every biased > 0.7, |mean debiased| < 0.06, every |debiased| < 0.4. */
static void test_cka__debiased_independent_is_near_zero(void) {
    enum { N = 20, D = 100, SEEDS = 20 };
    static float X[N * D], Y[N * D];
    double sum_deb = 0.0, worst_deb = 0.0, min_biased = 1.0, sum_biased = 0.0;
    for (int s = 0; s < SEEDS; s++) {
        double b = NAN, v = NAN, r = NAN;
        ml_t_fill_uniform(X, N * D, CKA_SEED, 100 + 2 * s, -1.0f, 1.0f);
        ml_t_fill_uniform(Y, N * D, CKA_SEED, 101 + 2 * s, -1.0f, 1.0f);
        ML_ASSERT_EQ_INT(0, ml_cka_linear(&b, X, Y, N, D, D));
        ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&v, X, Y, N, D, D));
        ML_ASSERT_EQ_INT(0, ml_ref_cka_linear_debiased(&r, X, Y, N, D, D));
        ML_ASSERT_MSG(cka_agree(v, r, 1e-5), "seed %d: debiased %.9f, reference %.9f", s, v, r);
        sum_deb += v;
        sum_biased += b;
        worst_deb = fmax(worst_deb, fabs(v));
        min_biased = fmin(min_biased, b);
    }
    ML_ASSERT_MSG(min_biased > 0.7, "biased CKA of independent data: min %.4f (mean %.4f), want > 0.7", min_biased,
                  sum_biased / SEEDS);
    ML_ASSERT_MSG(fabs(sum_deb / SEEDS) < 0.06, "debiased CKA of independent data: mean %.4f, want |.| < 0.06",
                  sum_deb / SEEDS);
    ML_ASSERT_MSG(worst_deb < 0.4, "debiased CKA of independent data: worst |%.4f|, want < 0.4", worst_deb);
}

static void test_cka__debiased_invariances(void) {
    static float X[IN * ID], XQ[IN * ID], XS[IN * ID], XA[IN * ID], Y[IN * IDY];
    double Q[ID * ID];
    ML_ASSERT(random_orthogonal(Q, ID, 110) < 1e-12);
    ml_t_fill_uniform(X, IN * ID, CKA_SEED, 111, -1.0f, 1.0f);
    related(Y, X, IN, ID, IDY, 112, 0.5f);
    transform(XQ, X, Q, IN, ID);
    for (int i = 0; i < IN; i++)
        for (int j = 0; j < ID; j++) {
            XS[i * ID + j] = 3.7f * X[i * ID + j];
            XA[i * ID + j] = (j == 0 ? 10.0f : 1.0f) * X[i * ID + j];
        }
    double base, rot, scaled, aniso;
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&base, X, Y, IN, ID, IDY));
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&rot, XQ, Y, IN, ID, IDY));
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&scaled, XS, Y, IN, ID, IDY));
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&aniso, XA, Y, IN, ID, IDY));
    ML_ASSERT_MSG(cka_agree(rot, base, 1e-5), "debiased: CKA(XQ,Y) %.9f != CKA(X,Y) %.9f", rot, base);
    ML_ASSERT_MSG(cka_agree(scaled, base, 1e-5), "debiased: CKA(3.7X,Y) %.9f != CKA(X,Y) %.9f", scaled, base);
    ML_ASSERT_MSG(fabs(aniso - base) > 0.05, "debiased: CKA moved only %.3g under diag(10,1,..)", fabs(aniso - base));
}

static void test_cka__debiased_undefined_is_invalid(void) {
    static float C[50 * 4], X[50 * 4];
    double v = 0.0, h[3];
    ml_t_fill_uniform(X, 50 * 4, CKA_SEED, 120, -1.0f, 1.0f);
    for (int i = 0; i < 50 * 4; i++) C[i] = 0.1f;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_linear_debiased(&v, C, X, 50, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "debiased CKA undefined: self-HSIC_1 of X 0");
    ML_ASSERT(isnan(v));
    /* the reference does not centre, so only an all-zero representation
     * gives it an exactly zero self-HSIC_1 (0.1f gives ~1e-17) */
    for (int i = 0; i < 50 * 4; i++) C[i] = 0.0f;
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_ref_cka_linear_debiased(&v, X, C, 50, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "debiased CKA undefined: self-HSIC_1 of X");
    ML_ASSERT_STR_HAS(ml_error_last()->message, "of Y 0 (need > 0)");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_linear_debiased(&v, X, X, 3, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need n >= 4");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_hsic1_linear(h, X, X, 3, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need n >= 4");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_ref_hsic1_linear(h, X, X, 3, 4, 4));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need n >= 4");
}

/* ---- the feature form at scale ---------------------------------------------
 * Small tests take the feature form in one block on one thread. At n = 4999,
 * d = 64 it runs two blocks of rows (4096 + 903) and splits the self
 * products into triangular strips over the threads (d^2 n >= 4e6). The
 * O(n^2 d) reference is too slow there, so the check is an O(n d^2) double
 * computation of the same sums, written out independently: centred
 * products, diag(K), K~1 = K1 - diag(K) with the column sums kept.
 * Seen: CKA off by 4e-9, HSIC_1 by <= 4.5e-8 relative (checkers at 1e-5). */
#define BN 4999
#define BD 64
static void dbl_feature_form(double out0[3], double out1[3], const float *X, const float *Y, int n, int d) {
    double *Xc = malloc(sizeof(double) * n * d), *Yc = malloc(sizeof(double) * n * d), *mx = calloc(d, sizeof(double)),
           *my = calloc(d, sizeof(double)), *sx = calloc(d, sizeof(double)), *sy = calloc(d, sizeof(double));
    double tr[3] = { 0, 0, 0 }, dkl = 0, dkk = 0, dll = 0, sk = 0, sl = 0, r[3] = { 0, 0, 0 };
    out0[0] = out0[1] = out0[2] = out1[0] = out1[1] = out1[2] = NAN;
    if (!Xc || !Yc || !mx || !my || !sx || !sy) goto done;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) { mx[a] += X[i * d + a] / (double)n; my[a] += Y[i * d + a] / (double)n; }
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++) {
            Xc[i * d + a] = X[i * d + a] - mx[a]; Yc[i * d + a] = Y[i * d + a] - my[a];
            sx[a] += Xc[i * d + a]; sy[a] += Yc[i * d + a];
        }
    for (int a = 0; a < d; a++)
        for (int b = 0; b < d; b++) {
            double yx = 0, xx = 0, yy = 0;
            for (int i = 0; i < n; i++) {
                yx += Yc[i * d + a] * Xc[i * d + b];
                xx += Xc[i * d + a] * Xc[i * d + b];
                yy += Yc[i * d + a] * Yc[i * d + b];
            }
            tr[0] += yx * yx; tr[1] += xx * xx; tr[2] += yy * yy;
        }
    for (int i = 0; i < n; i++) {
        double kd = 0, ld = 0, k1 = 0, l1 = 0;
        for (int a = 0; a < d; a++) {
            kd += Xc[i * d + a] * Xc[i * d + a]; ld += Yc[i * d + a] * Yc[i * d + a];
            k1 += Xc[i * d + a] * sx[a]; l1 += Yc[i * d + a] * sy[a];
        }
        double rk = k1 - kd, rl = l1 - ld;   /* (K~1)_i, (L~1)_i */
        dkl += kd * ld; dkk += kd * kd; dll += ld * ld;
        sk += rk; sl += rl;
        r[0] += rk * rl; r[1] += rk * rk; r[2] += rl * rl;
    }
    double c = (n - 1.0) * (n - 2.0), e = 2.0 / (n - 2.0), m = (double)n * (n - 3.0);
    out0[0] = tr[0]; out0[1] = tr[1]; out0[2] = tr[2];
    out1[0] = (tr[0] - dkl + sk * sl / c - e * r[0]) / m;
    out1[1] = (tr[1] - dkk + sk * sk / c - e * r[1]) / m;
    out1[2] = (tr[2] - dll + sl * sl / c - e * r[2]) / m;
done:
    free(Xc); free(Yc); free(mx); free(my); free(sx); free(sy);
}

static void test_cka__feature_form_blocks_and_strips(void) {
    static float X[BN * BD], Y[BN * BD];
    ml_t_fill_uniform(X, BN * BD, CKA_SEED, 200, -1.0f, 1.0f);
    related(Y, X, BN, BD, BD, 201, 1.5f);
    for (int i = 0; i < BN * BD; i++) X[i] += 1.0f;
    double s0[3], s1[3], v = NAN, h[3];
    dbl_feature_form(s0, s1, X, Y, BN, BD);
    double want = s0[0] / sqrt(s0[1] * s0[2]);
    ML_ASSERT_EQ_INT(0, ml_cka_linear(&v, X, Y, BN, BD, BD));
    ML_ASSERT_MSG(cka_agree(v, want, 1e-5), "n=%d d=%d: CKA %.9f, double feature form %.9f", BN, BD, v, want);
    ML_ASSERT_MSG(want > 0.1 && want < 0.9, "uninformative test data: CKA %.4f", want);
    ML_ASSERT_EQ_INT(0, ml_hsic1_linear(h, X, Y, BN, BD, BD));
    ML_ASSERT_MSG(hsic_agree(h, s1, HSIC_RTOL), "n=%d d=%d: HSIC_1 %.9g %.9g %.9g, double %.9g %.9g %.9g", BN, BD,
                  h[0], h[1], h[2], s1[0], s1[1], s1[2]);
}

/* ==== RBF ================================================================== */

/* Broken RBF CKAs on purpose (double, like the reference): variant 1 takes
 * sigma from the MEAN pairwise distance, variant 2 drops the factor 2,
 * K = exp(-D/sigma^2). */
static int rbf_broken_gram(double *K, const float *X, int n, int d, double frac, int variant) {
    double sum = 0.0, *dist = malloc(sizeof(double) * n * n);
    if (!dist) return -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int a = 0; a < d; a++) {
                double t = (double)X[i * d + a] - X[j * d + a];
                s += t * t;
            }
            K[i * n + j] = s;
            if (j > i) sum += sqrt(s);
        }
    double sigma;
    if (variant == 1) {
        sigma = frac * sum / (n * (n - 1) / 2.0);
    } else {   /* the median from the reference itself */
        if (ml_ref_gram_rbf(dist, &sigma, X, n, d, frac) < 0) { free(dist); return -1; }
    }
    for (long i = 0; i < (long)n * n; i++)
        K[i] = exp(-K[i] / ((variant == 2 ? 1.0 : 2.0) * sigma * sigma));
    free(dist);
    return 0;
}

static double centred_dot(const double *K, const double *L, int n) {
    double s = 0.0, gk = 0.0, gl = 0.0, *rk = calloc((size_t)n, sizeof(double)), *rl = calloc((size_t)n, sizeof(double));
    if (!rk || !rl) { free(rk); free(rl); return NAN; }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) { rk[i] += K[i * n + j] / n; rl[i] += L[i * n + j] / n; }
        gk += rk[i] / n;
        gl += rl[i] / n;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            s += (K[i * n + j] - rk[i] - rk[j] + gk) * (L[i * n + j] - rl[i] - rl[j] + gl);
    free(rk);
    free(rl);
    return s;
}

static int cka_rbf_broken(double *out, const float *X, const float *Y, int n, int dx, int dy, double frac, int variant) {
    double *K = malloc(sizeof(double) * n * n), *L = malloc(sizeof(double) * n * n);
    int ok = K && L && rbf_broken_gram(K, X, n, dx, frac, variant) == 0 && rbf_broken_gram(L, Y, n, dy, frac, variant) == 0;
    if (ok) *out = centred_dot(K, L, n) / sqrt(centred_dot(K, K, n) * centred_dot(L, L, n));
    free(K);
    free(L);
    return ok ? 0 : -1;
}
static int cka_rbf_mean_sigma(double *out, const float *X, const float *Y, int n, int dx, int dy, double frac) {
    return cka_rbf_broken(out, X, Y, n, dx, dy, frac, 1);
}
static int cka_rbf_no_factor2(double *out, const float *X, const float *Y, int n, int dx, int dy, double frac) {
    return cka_rbf_broken(out, X, Y, n, dx, dy, frac, 2);
}

typedef int (*rbf_fn)(double *out, const float *X, const float *Y, int n, int dx, int dy, double frac);

/* ---- the hand-computed bandwidths ----------------------------------------
 * 1-D points 0, 1, 5: pair distances 1, 4, 5 -> median 4 (the mean would be
 * 10/3), so sigma = 4 * sigma_frac, and the reference's K_01 = exp(-1/32)
 * at sigma_frac = 1. Points 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4, sorted
 * 1 2 3 4 6 7 -> median (3 + 4)/2 = 3.5 (mean 23/6). Counting the diagonal
 * zeros, as Kornblith et al.'s notebook does, would give 3 and 2.5. */
static void test_cka__rbf_bandwidth_hand_computed(void) {
    static const float p3[3] = { 0, 1, 5 }, p4[4] = { 0, 1, 3, 7 };
    double s = NAN, r = NAN, K[16];
    for (int f = 1; f <= 2; f++) {
        ML_ASSERT_EQ_INT(0, ml_cka_rbf_sigma(&s, p3, 3, 1, 0.5 * f));
        ML_ASSERT_NEAR(4.0 * 0.5 * f, s, 1e-6, 0.0);
        ML_ASSERT_EQ_INT(0, ml_cka_rbf_sigma(&s, p4, 4, 1, 0.5 * f));
        ML_ASSERT_NEAR(3.5 * 0.5 * f, s, 1e-6, 0.0);
    }
    ML_ASSERT_EQ_INT(0, ml_ref_gram_rbf(K, &r, p3, 3, 1, 1.0));
    ML_ASSERT_NEAR(4.0, r, 1e-15, 0.0);
    ML_ASSERT_NEAR(exp(-1.0 / 32.0), K[0 * 3 + 1], 1e-15, 0.0);
    ML_ASSERT_NEAR(exp(-25.0 / 32.0), K[0 * 3 + 2], 1e-15, 0.0);
    ML_ASSERT_NEAR(1.0, K[1 * 3 + 1], 0.0, 0.0);
    ML_ASSERT_EQ_INT(0, ml_ref_gram_rbf(K, &r, p4, 4, 1, 1.0));
    ML_ASSERT_NEAR(3.5, r, 1e-15, 0.0);
}

/* RBF test data: Y related to X, and every 8th row of both pushed 4x
 * further out, so the mean distance sits well above the median (a
 * mean-bandwidth bug shows) */
#define RN 64
#define RDX 6
#define RDY 5
static void rbf_data(float *X, float *Y, uint64_t stream) {
    ml_t_fill_uniform(X, RN * RDX, CKA_SEED, stream, -1.0f, 1.0f);
    related(Y, X, RN, RDX, RDY, stream + 1, 0.4f);
    for (int i = 0; i < RN; i += 8) {
        for (int j = 0; j < RDX; j++) X[i * RDX + j] *= 4.0f;
        for (int j = 0; j < RDY; j++) Y[i * RDY + j] *= 4.0f;
    }
}

/* f against ml_ref_cka_rbf at sigma_frac 0.5, 1, 2; 1e-5 as for linear CKA
 * (seen: <= 1.9e-8) */
static int rbf_vs_reference(rbf_fn f, double *got, double *want, double *frac_bad) {
    static float X[RN * RDX], Y[RN * RDY];
    rbf_data(X, Y, 130);
    for (int k = 0; k < 3; k++) {
        double frac = 0.5 * (1 << k);
        *got = *want = NAN;
        *frac_bad = frac;
        if (f(got, X, Y, RN, RDX, RDY, frac) != 0 || ml_ref_cka_rbf(want, X, Y, RN, RDX, RDY, frac) != 0)
            return 0;
        if (!cka_agree(*got, *want, 1e-5)) return 0;
    }
    return 1;
}

static void test_cka__rbf_matches_reference(void) {
    static float X[RN * RDX], Y[RN * RDY];
    double got, want, frac, s = NAN, r = NAN, K[RN * RN];
    ML_ASSERT_MSG(rbf_vs_reference(ml_cka_rbf, &got, &want, &frac), "sigma_frac %g: fast %.9f ref %.9f", frac, got, want);
    ML_ASSERT_MSG(want > 0.1 && want < 0.99, "test data gave an uninformative RBF CKA %.6f", want);
    rbf_data(X, Y, 130);
    ML_ASSERT_EQ_INT(0, ml_cka_rbf_sigma(&s, X, RN, RDX, 1.0));
    ML_ASSERT_EQ_INT(0, ml_ref_gram_rbf(K, &r, X, RN, RDX, 1.0));
    ML_ASSERT_NEAR(r, s, 0.0, 1e-6);
    /* and the RBF HSIC_1 (U-centred in the fast code, term by term in the reference) */
    double h[3], hr[3];
    ML_ASSERT_EQ_INT(0, ml_hsic1_rbf(h, X, Y, RN, RDX, RDY, 1.0));
    ML_ASSERT_EQ_INT(0, ml_ref_hsic1_rbf(hr, X, Y, RN, RDX, RDY, 1.0));
    ML_ASSERT_MSG(hsic_agree(h, hr, HSIC_RTOL), "rbf HSIC_1: fast %.9g %.9g %.9g ref %.9g %.9g %.9g",
                  h[0], h[1], h[2], hr[0], hr[1], hr[2]);
}

/* Seen at sigma_frac 0.5 (the first one tried): reference 0.59025,
 * mean-distance sigma 0.60061 (off 1.0e-2), no factor 2 0.65160 (off 6.1e-2):
 * both miss the 1e-5 checker by three orders of magnitude or more. */
static void test_cka__rbf_reference_checker_rejects_broken_bandwidths(void) {
    double got, want, frac;
    ML_ASSERT_MSG(!rbf_vs_reference(cka_rbf_mean_sigma, &got, &want, &frac),
                  "mean-distance sigma passed: %.9f ~ %.9f", got, want);
    ML_ASSERT_MSG(fabs(got - want) > 1e-3, "mean-distance sigma: only %.3g off", fabs(got - want));
    ML_ASSERT_MSG(!rbf_vs_reference(cka_rbf_no_factor2, &got, &want, &frac),
                  "sigma without the factor 2 passed: %.9f ~ %.9f", got, want);
    ML_ASSERT_MSG(fabs(got - want) > 1e-3, "no factor 2: only %.3g off", fabs(got - want));
}

static void test_cka__rbf_self_is_one_and_invariances(void) {
    static float X[RN * RDX], Y[RN * RDY], XQ[RN * RDX], XS[RN * RDX], XT[RN * RDX];
    double Q[RDX * RDX];
    ML_ASSERT(random_orthogonal(Q, RDX, 140) < 1e-12);
    rbf_data(X, Y, 141);
    transform(XQ, X, Q, RN, RDX);
    for (int i = 0; i < RN * RDX; i++) { XS[i] = 3.7f * X[i]; XT[i] = 1e-3f * X[i] + 2.0f; }
    static const rbf_fn fns[2] = { ml_cka_rbf, ml_ref_cka_rbf };
    static const char *const names[2] = { "ml_cka_rbf", "ml_ref_cka_rbf" };
    for (int k = 0; k < 2; k++) {
        double self, base, rot, scaled, tiny;
        ML_ASSERT_EQ_INT(0, fns[k](&self, X, X, RN, RDX, RDX, 1.0));
        ML_ASSERT_EQ_INT(0, fns[k](&base, X, Y, RN, RDX, RDY, 1.0));
        ML_ASSERT_EQ_INT(0, fns[k](&rot, XQ, Y, RN, RDX, RDY, 1.0));
        ML_ASSERT_EQ_INT(0, fns[k](&scaled, XS, Y, RN, RDX, RDY, 1.0));
        ML_ASSERT_EQ_INT(0, fns[k](&tiny, XT, Y, RN, RDX, RDY, 1.0));
        ML_ASSERT_MSG(cka_agree(self, 1.0, 1e-6), "%s: CKA(X,X) %.9f", names[k], self);
        ML_ASSERT_MSG(cka_agree(rot, base, 1e-5), "%s: CKA(XQ,Y) %.9f != CKA(X,Y) %.9f", names[k], rot, base);
        /* the bandwidth scales with the data, so the kernel does not change */
        ML_ASSERT_MSG(cka_agree(scaled, base, 1e-5), "%s: CKA(3.7X,Y) %.9f != CKA(X,Y) %.9f", names[k], scaled, base);
        ML_ASSERT_MSG(cka_agree(tiny, base, 1e-4), "%s: CKA(1e-3 X + 2,Y) %.9f != CKA(X,Y) %.9f", names[k], tiny, base);
    }
    /* a fixed bandwidth would not be scale-invariant: the broken no-factor-2
     * variant is a bandwidth sqrt(2) too small; the value must move */
    double a, b;
    ML_ASSERT_EQ_INT(0, cka_rbf_no_factor2(&a, X, Y, RN, RDX, RDY, 1.0));
    ML_ASSERT_EQ_INT(0, ml_ref_cka_rbf(&b, X, Y, RN, RDX, RDY, 1.0));
    ML_ASSERT_MSG(fabs(a - b) > 1e-3, "bandwidth change moved RBF CKA by only %.3g", fabs(a - b));
}

static void test_cka__rbf_errors(void) {
    static float C[10 * 3], X[10 * 3];
    double v = 0.0, h[3];
    ml_t_fill_uniform(X, 30, CKA_SEED, 150, -1.0f, 1.0f);
    for (int i = 0; i < 30; i++) C[i] = i < 3 ? X[i] : 0.25f;   /* 9 equal points: 36 of 45 pairs at 0 */
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_rbf(&v, C, X, 10, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "X: rbf: the median pairwise distance of the 10 examples is 0");
    ML_ASSERT(isnan(v));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_ref_cka_rbf(&v, X, C, 10, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "median pairwise distance");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_rbf(&v, X, X, 10, 3, 3, 0.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "sigma_frac must be finite and > 0, got 0");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_rbf(&v, X, X, 10, 3, 3, NAN));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_rbf(&v, X, X, ML_CKA_RBF_MAX_N + 1, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "exceeds ML_CKA_RBF_MAX_N");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_rbf(&v, X, X, 1, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need n >= 2");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_hsic1_rbf(h, X, X, 3, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "need n >= 4");
}

/* ==== minibatch CKA ========================================================== */

#define MN 2000
#define MDX 32
#define MDY 24
static void minibatch_data(float *X, float *Y) {
    ml_t_fill_uniform(X, MN * MDX, CKA_SEED, 160, -1.0f, 1.0f);
    related(Y, X, MN, MDX, MDY, 161, 1.0f);
}

static int acc_run(double *out, ml_cka_kernel kernel, const float *X, const float *Y, int n, int dx, int dy, int batch) {
    ml_cka_acc *acc = NULL;
    int error;
    *out = NAN;
    if ((error = ml_cka_acc_new(&acc, kernel, dx, dy, 1.0)) < 0) return error;
    for (int r0 = 0; r0 < n && error == 0; r0 += batch)
        error = ml_cka_acc_add(acc, X + (long)r0 * dx, Y + (long)r0 * dy, n - r0 < batch ? n - r0 : batch);
    if (error == 0) error = ml_cka_acc_value(out, acc);
    ml_cka_acc_free(acc);
    return error;
}

/* One batch holding everything is the same computation as the full-batch
 * debiased CKA (sum of one value, same ratio): equal to 1e-12 (seen: 0). */
static void test_cka__minibatch_one_batch_is_full_debiased(void) {
    static float X[MN * MDX], Y[MN * MDY];
    minibatch_data(X, Y);
    double acc, full, ref;
    ML_ASSERT_EQ_INT(0, acc_run(&acc, ML_CKA_KERNEL_LINEAR, X, Y, MN, MDX, MDY, MN));
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&full, X, Y, MN, MDX, MDY));
    ML_ASSERT_MSG(cka_agree(acc, full, 1e-12), "one batch %.15f, full debiased %.15f", acc, full);
    /* RBF: one batch against the reference's HSIC_1 ratio (n = 64) */
    static float RX[RN * RDX], RY[RN * RDY];
    double h[3];
    rbf_data(RX, RY, 170);
    ML_ASSERT_EQ_INT(0, acc_run(&acc, ML_CKA_KERNEL_RBF, RX, RY, RN, RDX, RDY, RN));
    ML_ASSERT_EQ_INT(0, ml_ref_hsic1_rbf(h, RX, RY, RN, RDX, RDY, 1.0));
    ref = h[0] / sqrt(h[1] * h[2]);
    ML_ASSERT_MSG(cka_agree(acc, ref, 1e-5), "rbf one batch %.9f, reference debiased %.9f", acc, ref);
    ML_ASSERT_EQ_INT(0, acc_run(&acc, ML_CKA_KERNEL_RBF, RX, RX, RN, RDX, RDX, RN));
    ML_ASSERT_MSG(cka_agree(acc, 1.0, 1e-6), "rbf minibatch CKA(X,X) %.9f", acc);
}

/* biased HSIC_0 of one batch, naive double (for the broken accumulator) */
static void hsic0_three(double out[3], const float *X, const float *Y, int n, int dx, int dy) {
    double *K = malloc(sizeof(double) * n * n), *L = malloc(sizeof(double) * n * n);
    out[0] = out[1] = out[2] = NAN;
    if (K && L) {
        ml_ref_gram_linear(K, X, n, dx);
        ml_ref_gram_linear(L, Y, n, dy);
        out[0] = centred_dot(K, L, n);
        out[1] = centred_dot(K, K, n);
        out[2] = centred_dot(L, L, n);
    }
    free(K);
    free(L);
}

/* Many batches estimate the same population CKA as the full set, so they
 * agree only up to sampling noise (not rounding), which grows as batches
 * shrink. Data: n = 2000, dx = 32, dy = 24, full debiased 0.2122. Seen:
 * 10 batches of 200 off by 5.2e-4, 100 batches of 20 by 5.1e-4 (on other
 * data of this shape batches of 20 were off by 5e-3); tolerances 5e-3 and
 * 2e-2. Averaging the BIASED HSIC_0 over the batches of 20 instead (what
 * the unbiased estimator is for) gave 0.670, off by 0.46: it must fail 2e-2.
 * The accumulator must also equal the mean of ml_hsic1_linear per batch. */
static void test_cka__minibatch_many_batches_approximate_full(void) {
    static float X[MN * MDX], Y[MN * MDY];
    minibatch_data(X, Y);
    double full, acc10, acc100;
    ML_ASSERT_EQ_INT(0, ml_cka_linear_debiased(&full, X, Y, MN, MDX, MDY));
    ML_ASSERT_EQ_INT(0, acc_run(&acc10, ML_CKA_KERNEL_LINEAR, X, Y, MN, MDX, MDY, 200));
    ML_ASSERT_EQ_INT(0, acc_run(&acc100, ML_CKA_KERNEL_LINEAR, X, Y, MN, MDX, MDY, 20));
    ML_ASSERT_MSG(cka_agree(acc10, full, 5e-3), "10 batches of 200: %.6f, full %.6f", acc10, full);
    ML_ASSERT_MSG(cka_agree(acc100, full, 2e-2), "100 batches of 20: %.6f, full %.6f", acc100, full);
    double s[3] = { 0, 0, 0 }, b0[3] = { 0, 0, 0 }, h[3];
    for (int r0 = 0; r0 < MN; r0 += 20) {
        ML_ASSERT_EQ_INT(0, ml_hsic1_linear(h, X + (long)r0 * MDX, Y + (long)r0 * MDY, 20, MDX, MDY));
        double hb[3];
        hsic0_three(hb, X + (long)r0 * MDX, Y + (long)r0 * MDY, 20, MDX, MDY);
        for (int t = 0; t < 3; t++) { s[t] += h[t]; b0[t] += hb[t]; }
    }
    ML_ASSERT_NEAR(s[0] / sqrt(s[1] * s[2]), acc100, 1e-12, 0.0);
    double biased = b0[0] / sqrt(b0[1] * b0[2]);
    ML_ASSERT_MSG(!cka_agree(biased, full, 2e-2), "minibatch of biased HSIC_0 %.6f passed against %.6f", biased, full);
}

static void test_cka__minibatch_errors(void) {
    static float X[8 * 3];
    ml_cka_acc *acc = NULL;
    double v = 0.0;
    ml_t_fill_uniform(X, 24, CKA_SEED, 180, -1.0f, 1.0f);
    ml_cka_acc_free(NULL);   /* a no-op */
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_acc_new(&acc, (ml_cka_kernel)7, 3, 3, 1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "cka_acc: unknown kernel 7");
    ML_ASSERT(acc == NULL);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_acc_new(&acc, ML_CKA_KERNEL_RBF, 3, 3, -1.0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "sigma_frac must be finite and > 0");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_acc_new(&acc, ML_CKA_KERNEL_LINEAR, 0, 3, 0.0));
    ML_ASSERT_EQ_INT(0, ml_cka_acc_new(&acc, ML_CKA_KERNEL_LINEAR, 3, 3, 0.0));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_acc_value(&v, acc));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "cka_acc: no batches added");
    ML_ASSERT(isnan(v));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_acc_add(acc, X, X, 3));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "cka_acc: batch 0: hsic1: need n >= 4");
    ML_ASSERT_EQ_INT(0, ml_cka_acc_batches(acc));   /* unchanged */
    ML_ASSERT_EQ_INT(0, ml_cka_acc_add(acc, X, X, 8));
    ML_ASSERT_EQ_INT(1, ml_cka_acc_batches(acc));
    ML_ASSERT_EQ_INT(0, ml_cka_acc_value(&v, acc));
    ML_ASSERT_NEAR(1.0, v, 1e-6, 0.0);
    ml_cka_acc_free(acc);
}

/* ==== layer x layer ========================================================== */

static void test_cka__matrix_matches_pairwise(void) {
    /* feature form (n = 100 > every d) and Gram form (n = 12 <= every d) */
    static const int ns[2] = { 100, 12 };
    static const int dA[2][3] = { { 8, 5, 16 }, { 40, 30, 12 } }, dB[2][2] = { { 6, 8 }, { 20, 40 } };
    static float buf[5][100 * 40];
    for (int f = 0; f < 2; f++) {
        int n = ns[f];
        const float *XA[3], *XB[2];
        ml_t_fill_uniform(buf[0], (long)n * dA[f][0], CKA_SEED, 190, -1.0f, 1.0f);
        related(buf[1], buf[0], n, dA[f][0], dA[f][1], 191, 0.5f);
        related(buf[2], buf[1], n, dA[f][1], dA[f][2], 193, 0.8f);
        related(buf[3], buf[0], n, dA[f][0], dB[f][0], 195, 0.3f);
        ml_t_fill_uniform(buf[4], (long)n * dB[f][1], CKA_SEED, 197, 2.0f, 3.0f);
        for (int a = 0; a < 3; a++) XA[a] = buf[a];
        for (int b = 0; b < 2; b++) XB[b] = buf[3 + b];
        double M[6];
        ML_ASSERT_EQ_INT(0, ml_cka_matrix(M, XA, dA[f], 3, XB, dB[f], 2, n));
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 2; b++) {
                double want;
                ML_ASSERT_EQ_INT(0, ml_cka_linear(&want, XA[a], XB[b], n, dA[f][a], dB[f][b]));
                ML_ASSERT_MSG(cka_agree(M[a * 2 + b], want, 1e-6), "n=%d pair (%d,%d): matrix %.9f, pairwise %.9f",
                              n, a, b, M[a * 2 + b], want);
            }
        /* A against itself: ones on the diagonal */
        double S[9];
        ML_ASSERT_EQ_INT(0, ml_cka_matrix(S, XA, dA[f], 3, XA, dA[f], 3, n));
        for (int a = 0; a < 3; a++) ML_ASSERT_MSG(cka_agree(S[a * 3 + a], 1.0, 1e-6), "n=%d S[%d][%d] = %.9f", n, a, a, S[a * 3 + a]);
    }
    /* a constant layer is named */
    static float C[12 * 20];
    for (int i = 0; i < 12 * 20; i++) C[i] = 1.5f;
    const float *XA[1] = { buf[0] }, *XB[2] = { buf[3], C };
    int da[1] = { 40 }, db[2] = { 20, 20 };
    double M[2];
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_cka_matrix(M, XA, da, 1, XB, db, 2, 12));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "cka_matrix: layer B[1]: a representation is constant");
}

const ml_test ml_tests_cka[] = {
    { "cka__hand_computed_3x2", test_cka__hand_computed_3x2, "unit" },
    { "cka__uncentered_fails_hand_case", test_cka__uncentered_fails_hand_case, "unit" },
    { "cka__self_is_one", test_cka__self_is_one, "unit" },
    { "cka__matches_reference_feature_form", test_cka__matches_reference_feature_form, "unit" },
    { "cka__matches_reference_gram_form", test_cka__matches_reference_gram_form, "unit" },
    { "cka__reference_checker_rejects_uncentered", test_cka__reference_checker_rejects_uncentered, "unit" },
    { "cka__symmetric", test_cka__symmetric, "unit" },
    { "cka__invariant_to_orthogonal_transform", test_cka__invariant_to_orthogonal_transform, "unit" },
    { "cka__invariant_to_isotropic_scaling", test_cka__invariant_to_isotropic_scaling, "unit" },
    { "cka__not_invariant_to_anisotropic_scaling", test_cka__not_invariant_to_anisotropic_scaling, "unit" },
    { "cka__constant_representation_is_invalid", test_cka__constant_representation_is_invalid, "unit" },
    { "cka__too_few_examples_is_invalid", test_cka__too_few_examples_is_invalid, "unit" },
    { "cka__hsic1_hand_computed_n4", test_cka__hsic1_hand_computed_n4, "unit" },
    { "cka__hsic1_diagonal_kept_fails_hand_case", test_cka__hsic1_diagonal_kept_fails_hand_case, "unit" },
    { "cka__hsic1_matches_reference", test_cka__hsic1_matches_reference, "unit" },
    { "cka__hsic1_reference_checker_rejects_diagonal_kept", test_cka__hsic1_reference_checker_rejects_diagonal_kept, "unit" },
    { "cka__debiased_self_is_one", test_cka__debiased_self_is_one, "unit" },
    { "cka__debiased_independent_is_near_zero", test_cka__debiased_independent_is_near_zero, "unit" },
    { "cka__debiased_invariances", test_cka__debiased_invariances, "unit" },
    { "cka__feature_form_blocks_and_strips", test_cka__feature_form_blocks_and_strips, "unit" },
    { "cka__debiased_undefined_is_invalid", test_cka__debiased_undefined_is_invalid, "unit" },
    { "cka__rbf_bandwidth_hand_computed", test_cka__rbf_bandwidth_hand_computed, "unit" },
    { "cka__rbf_matches_reference", test_cka__rbf_matches_reference, "unit" },
    { "cka__rbf_reference_checker_rejects_broken_bandwidths", test_cka__rbf_reference_checker_rejects_broken_bandwidths, "unit" },
    { "cka__rbf_self_is_one_and_invariances", test_cka__rbf_self_is_one_and_invariances, "unit" },
    { "cka__rbf_errors", test_cka__rbf_errors, "unit" },
    { "cka__minibatch_one_batch_is_full_debiased", test_cka__minibatch_one_batch_is_full_debiased, "unit" },
    { "cka__minibatch_many_batches_approximate_full", test_cka__minibatch_many_batches_approximate_full, "unit" },
    { "cka__minibatch_errors", test_cka__minibatch_errors, "unit" },
    { "cka__matrix_matches_pairwise", test_cka__matrix_matches_pairwise, "unit" },
    { 0 },
};
