/*
 * tests/test_cka.c: linear CKA (kernels/cka.c) against a hand computation,
 * its double-precision reference and the invariances that define it.
 * Owns: the ml_tests_cka table. Not here: the other kernels (test_kernels.c).
 * Both code paths of ml_cka_linear are driven on purpose. It picks the
 * feature form when dx*dy + dx^2 + dy^2 <= n*(dx + dy), else the n x n Gram
 * form: n=200, d~10 is the feature form; n=20, d~300 and the hand case
 * padded to d=8 (192 > 3*16 = 48) are the Gram form.
 * All comparisons go through cka_agree(); a deliberately broken CKA (no
 * centering) is shown to fail it.
 */
#include "tests/test.h"

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

static void fill_uniform(float *a, long n, uint64_t stream, float lo, float hi) {
    for (long i = 0; i < n; i++)
        a[i] = lo + (hi - lo) * ml_rng_uniform(CKA_SEED, stream, (uint64_t)i);
}

/* Y (n,dy) = X (n,dx) M + noise, so CKA(X,Y) is well inside (0,1) */
static void related(float *Y, const float *X, int n, int dx, int dy, uint64_t stream, float noise) {
    float *M = malloc((size_t)dx * dy * sizeof(float));
    if (!M) return;
    fill_uniform(M, (long)dx * dy, stream, -1.0f, 1.0f);
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
        fill_uniform(X, (long)n * d, 10 + s, -1.0f, 1.0f);
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
        fill_uniform(X, (long)n * dx, 20, -1.0f, 1.0f);
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
        fill_uniform(X, (long)n * dx, 30, -1.0f, 1.0f);
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
    fill_uniform(X, IN * ID, 41, -1.0f, 1.0f);
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
    fill_uniform(X, IN * ID, 51, -1.0f, 1.0f);
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
    fill_uniform(X, IN * ID, 61, -1.0f, 1.0f);
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
    fill_uniform(X, 50 * 4, 71, -1.0f, 1.0f);
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
    { 0 },
};
