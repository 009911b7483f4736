/*
 * kernels/ref/cka_ref.c: naive double-precision references for
 * kernels/cka.c (definitions in kernels/cka.h).
 * Slow and literal on purpose: explicit n x n Gram matrices from explicit
 * sums (differences for RBF distances), the centering matrix H applied as
 * H K H, the median by sorting every distance, and HSIC_1 term by term with
 * K~, L~ built as matrices. No BLAS, no feature-space shortcuts, no
 * U-centering, so an identity the fast code relies on is checked, not shared.
 */
#include "kernels/cka.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

void ml_ref_gram_linear(double *K, const float *X, int n, int d) {
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            double k = 0.0;
            for (long a = 0; a < d; a++) k += (double)X[i * d + a] * X[j * d + a];
            K[i * n + j] = k;
        }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ml_ref_gram_rbf(double *K, double *sigma, const float *X, int n, int d, double sigma_frac) {
    double *dist = NULL;
    long m = (long)n * (n - 1) / 2, t = 0;
    int error;
    *sigma = NAN;
    ML_CHECK_ARG(n >= 2 && n <= ML_CKA_RBF_MAX_N && d >= 1, "rbf: need 2 <= n <= %d and d >= 1 (n=%d d=%d)",
                 ML_CKA_RBF_MAX_N, n, d);
    ML_CHECK_ARG(sigma_frac > 0.0 && isfinite(sigma_frac), "rbf: sigma_frac must be finite and > 0, got %g",
                 sigma_frac);
    if ((error = ml_calloc((void **)&dist, (size_t)m, sizeof(double))) < 0) return error;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            double s = 0.0;
            for (long a = 0; a < d; a++) {
                double diff = (double)X[i * d + a] - X[j * d + a];
                s += diff * diff;
            }
            K[i * n + j] = s;                   /* squared distance for now */
            if (j > i) dist[t++] = sqrt(s);     /* the n(n-1)/2 distinct pairs */
        }
    qsort(dist, (size_t)m, sizeof(double), cmp_double);
    double med = m % 2 ? dist[m / 2] : 0.5 * (dist[m / 2 - 1] + dist[m / 2]);
    free(dist);
    *sigma = sigma_frac * med;
    if (!(*sigma > 0.0))
        return ml_error_set(ML_EINVALID, "rbf: the median pairwise distance of the %d examples is %g, "
                            "so the bandwidth is %g (need > 0)", n, med, *sigma);
    for (long i = 0; i < (long)n * n; i++) K[i] = exp(-K[i] / (2.0 * *sigma * *sigma));
    return 0;
}

/* A (n,n) -> H A H in place: subtract row means and column means, add the
 * grand mean (A symmetric) */
static int center_gram(double *A, int n) {
    double *rm = NULL, grand = 0.0;
    int error;
    if ((error = ml_calloc((void **)&rm, (size_t)n, sizeof(double))) < 0) return error;
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < n; j++) rm[i] += A[i * n + j];
        grand += rm[i];
        rm[i] /= n;
    }
    grand /= (double)n * n;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) A[i * n + j] += grand - rm[i] - rm[j];
    free(rm);
    return 0;
}

/* K, L (n,n) -> CKA with HSIC_0: <HKH, HLH> / (||HKH|| ||HLH||) */
static int cka_from_grams(double *out, double *K, double *L, int n) {
    int error;
    if ((error = center_gram(K, n)) < 0 || (error = center_gram(L, n)) < 0) return error;
    double kl = 0.0, kk = 0.0, ll = 0.0;
    for (long i = 0; i < (long)n * n; i++) { kl += K[i] * L[i]; kk += K[i] * K[i]; ll += L[i] * L[i]; }
    if (!(kk > 0.0) || !(ll > 0.0))
        return ml_error_set(ML_EINVALID, "cka: a representation is constant over the %d examples", n);
    *out = kl / sqrt(kk * ll);
    return 0;
}

int ml_ref_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double *K = NULL, *L = NULL;
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 2, "cka: need n >= 2");
    if ((error = ml_calloc((void **)&K, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&L, (size_t)n * n, sizeof(double))) < 0)
        goto cleanup;
    ml_ref_gram_linear(K, X, n, dx);
    ml_ref_gram_linear(L, Y, n, dy);
    error = cka_from_grams(out, K, L, n);
cleanup:
    free(K); free(L);
    return error;
}

int ml_ref_cka_rbf(double *out, const float *X, const float *Y, int n, int dx, int dy, double sigma_frac) {
    double *K = NULL, *L = NULL, sx, sy;
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 2, "cka: need n >= 2");
    if ((error = ml_calloc((void **)&K, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&L, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_ref_gram_rbf(K, &sx, X, n, dx, sigma_frac)) < 0 ||
        (error = ml_ref_gram_rbf(L, &sy, Y, n, dy, sigma_frac)) < 0)
        goto cleanup;
    error = cka_from_grams(out, K, L, n);
cleanup:
    free(K); free(L);
    return error;
}

int ml_ref_hsic1(double *out, const double *K, const double *L, int n) {
    double *Kt = NULL, *Lt = NULL, *u = NULL, *v = NULL;
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 4, "hsic1: need n >= 4 (n=%d)", n);
    if ((error = ml_calloc((void **)&Kt, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&Lt, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&u, (size_t)n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&v, (size_t)n, sizeof(double))) < 0)
        goto cleanup;
    for (long i = 0; i < n; i++)     /* K~, L~: the diagonals zeroed */
        for (long j = 0; j < n; j++) {
            Kt[i * n + j] = i == j ? 0.0 : K[i * n + j];
            Lt[i * n + j] = i == j ? 0.0 : L[i * n + j];
        }
    double tr = 0.0, sk = 0.0, sl = 0.0, kl1 = 0.0;
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++) {
            tr += Kt[i * n + j] * Lt[j * n + i];   /* tr(K~ L~) */
            sk += Kt[i * n + j];                   /* 1^T K~ 1 */
            sl += Lt[i * n + j];                   /* 1^T L~ 1 */
            u[j] += Kt[i * n + j];                 /* u = (1^T K~)^T */
            v[i] += Lt[i * n + j];                 /* v = L~ 1 */
        }
    for (long i = 0; i < n; i++) kl1 += u[i] * v[i];   /* 1^T K~ L~ 1 */
    *out = (tr + sk * sl / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * kl1) / ((double)n * (n - 3.0));
cleanup:
    free(Kt); free(Lt); free(u); free(v);
    return error;
}

/* K, L (n,n) -> hsic (3) = HSIC_1 of (K,L), (K,K), (L,L) */
static int hsic1_three(double hsic[3], const double *K, const double *L, int n) {
    int error;
    if ((error = ml_ref_hsic1(&hsic[0], K, L, n)) < 0 || (error = ml_ref_hsic1(&hsic[1], K, K, n)) < 0 ||
        (error = ml_ref_hsic1(&hsic[2], L, L, n)) < 0)
        return error;
    return 0;
}

int ml_ref_hsic1_linear(double hsic[3], const float *X, const float *Y, int n, int dx, int dy) {
    double *K = NULL, *L = NULL;
    int error;
    hsic[0] = hsic[1] = hsic[2] = NAN;
    ML_CHECK_ARG(n >= 4 && dx >= 1 && dy >= 1, "hsic1: need n >= 4 and d >= 1 (n=%d dx=%d dy=%d)", n, dx, dy);
    if ((error = ml_calloc((void **)&K, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&L, (size_t)n * n, sizeof(double))) < 0)
        goto cleanup;
    ml_ref_gram_linear(K, X, n, dx);   /* uncentred: HSIC_1 does not need it */
    ml_ref_gram_linear(L, Y, n, dy);
    error = hsic1_three(hsic, K, L, n);
cleanup:
    free(K); free(L);
    return error;
}

int ml_ref_hsic1_rbf(double hsic[3], const float *X, const float *Y, int n, int dx, int dy, double sigma_frac) {
    double *K = NULL, *L = NULL, sx, sy;
    int error;
    hsic[0] = hsic[1] = hsic[2] = NAN;
    ML_CHECK_ARG(n >= 4, "hsic1: need n >= 4 (n=%d)", n);
    if ((error = ml_calloc((void **)&K, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&L, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_ref_gram_rbf(K, &sx, X, n, dx, sigma_frac)) < 0 ||
        (error = ml_ref_gram_rbf(L, &sy, Y, n, dy, sigma_frac)) < 0)
        goto cleanup;
    error = hsic1_three(hsic, K, L, n);
cleanup:
    free(K); free(L);
    return error;
}

int ml_ref_cka_linear_debiased(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double h[3];
    int error;
    *out = NAN;
    if ((error = ml_ref_hsic1_linear(h, X, Y, n, dx, dy)) < 0) return error;
    if (!(h[1] > 0.0) || !(h[2] > 0.0))
        return ml_error_set(ML_EINVALID, "cka: debiased CKA undefined: self-HSIC_1 of X %.3g, of Y %.3g (need > 0)",
                            h[1], h[2]);
    *out = h[0] / sqrt(h[1] * h[2]);
    return 0;
}
