/*
 * kernels/cka.c: linear CKA through sgemm.
 * Centering is done in double, then the products run in float on BLAS and
 * the Frobenius sums go back to double: float products keep the cost at
 * about three gemms while the sums of squares stay accurate.
 */
#include "kernels/cka.h"
#include "kernels/gemm.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

static int center(float **out, const float *X, int n, int d) {
    float *c = NULL;
    int error = ml_aligned_alloc((void **)&c, (size_t)n * d * sizeof(float));
    if (error < 0) return error;
    for (int j = 0; j < d; j++) {
        double mean = 0.0;
        for (int i = 0; i < n; i++) mean += X[(long)i * d + j];
        mean /= n;
        for (int i = 0; i < n; i++) c[(long)i * d + j] = (float)(X[(long)i * d + j] - mean);
    }
    *out = c;
    return 0;
}

static double frob2(const float *A, long len) {
    double s = 0.0;
    for (long i = 0; i < len; i++) s += (double)A[i] * A[i];
    return s;
}

/* tr(A B) for symmetric A, B of size (n,n) = sum_ij A_ij B_ij */
static double dot(const float *A, const float *B, long len) {
    double s = 0.0;
    for (long i = 0; i < len; i++) s += (double)A[i] * B[i];
    return s;
}

int ml_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    float *Xc = NULL, *Yc = NULL, *P = NULL, *Q = NULL, *R = NULL;
    double xy, xx, yy;
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 2 && dx >= 1 && dy >= 1, "cka: need n >= 2 and d >= 1 (n=%d dx=%d dy=%d)", n, dx, dy);
    if ((error = center(&Xc, X, n, dx)) < 0 || (error = center(&Yc, Y, n, dy)) < 0) goto cleanup;
    /* feature form costs n(dx dy + dx^2 + dy^2), Gram form n^2 (dx + dy) */
    double feat = (double)dx * dy + (double)dx * dx + (double)dy * dy;
    double gram = (double)n * (dx + dy);
    if (feat <= gram) {
        if ((error = ml_aligned_alloc((void **)&P, (size_t)dy * dx * sizeof(float))) < 0 ||
            (error = ml_aligned_alloc((void **)&Q, (size_t)dx * dx * sizeof(float))) < 0 ||
            (error = ml_aligned_alloc((void **)&R, (size_t)dy * dy * sizeof(float))) < 0)
            goto cleanup;
        ml_gemm_tn(dy, dx, n, Yc, Xc, 0.0f, P);   /* Yc^T Xc (dy,dx) */
        ml_gemm_tn(dx, dx, n, Xc, Xc, 0.0f, Q);   /* Xc^T Xc (dx,dx) */
        ml_gemm_tn(dy, dy, n, Yc, Yc, 0.0f, R);   /* Yc^T Yc (dy,dy) */
        xy = frob2(P, (long)dy * dx);
        xx = sqrt(frob2(Q, (long)dx * dx));
        yy = sqrt(frob2(R, (long)dy * dy));
    } else {
        if ((error = ml_aligned_alloc((void **)&Q, (size_t)n * n * sizeof(float))) < 0 ||
            (error = ml_aligned_alloc((void **)&R, (size_t)n * n * sizeof(float))) < 0)
            goto cleanup;
        ml_gemm_nt(n, n, dx, Xc, Xc, 0.0f, Q);    /* K = Xc Xc^T (n,n), already centred */
        ml_gemm_nt(n, n, dy, Yc, Yc, 0.0f, R);    /* L = Yc Yc^T (n,n) */
        xy = dot(Q, R, (long)n * n);
        xx = sqrt(frob2(Q, (long)n * n));
        yy = sqrt(frob2(R, (long)n * n));
    }
    if (!(xx > 0.0) || !(yy > 0.0)) {
        error = ml_error_set(ML_EINVALID, "cka: a representation is constant over the %d examples", n);
        goto cleanup;
    }
    *out = xy / (xx * yy);
cleanup:
    free(Xc); free(Yc); free(P); free(Q); free(R);
    return error;
}

int ml_ref_cka_linear(double *out, const float *X, const float *Y, int n, int dx, int dy) {
    double *K = NULL, *L = NULL;
    int error;
    *out = NAN;
    ML_CHECK_ARG(n >= 2, "cka: need n >= 2");
    if ((error = ml_calloc((void **)&K, (size_t)n * n, sizeof(double))) < 0 ||
        (error = ml_calloc((void **)&L, (size_t)n * n, sizeof(double))) < 0)
        goto cleanup;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double k = 0.0, l = 0.0;
            for (int a = 0; a < dx; a++) k += (double)X[(long)i * dx + a] * X[(long)j * dx + a];
            for (int a = 0; a < dy; a++) l += (double)Y[(long)i * dy + a] * Y[(long)j * dy + a];
            K[(long)i * n + j] = k;
            L[(long)i * n + j] = l;
        }
    /* H K H: subtract row means, column means, add the grand mean */
    double *M[2] = { K, L };
    for (int t = 0; t < 2; t++) {
        double *A = M[t], grand = 0.0;
        double *rm = NULL;
        if ((error = ml_calloc((void **)&rm, (size_t)n, sizeof(double))) < 0) goto cleanup;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) rm[i] += A[(long)i * n + j];
            grand += rm[i];
            rm[i] /= n;
        }
        grand /= (double)n * n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) A[(long)i * n + j] += grand - rm[i] - rm[j];  /* symmetric */
        free(rm);
    }
    double kl = 0.0, kk = 0.0, ll = 0.0;
    for (long i = 0; i < (long)n * n; i++) { kl += K[i] * L[i]; kk += K[i] * K[i]; ll += L[i] * L[i]; }
    if (!(kk > 0.0) || !(ll > 0.0)) {
        error = ml_error_set(ML_EINVALID, "cka: a representation is constant over the %d examples", n);
        goto cleanup;
    }
    *out = kl / sqrt(kk * ll);
cleanup:
    free(K); free(L);
    return error;
}
