/*
 * kernels/gemm.c: thin wrappers over cblas_sgemm in row-major order.
 * OpenBLAS splits sgemm over blocks of the output, not over K, so for a
 * fixed thread count the sums are taken in a fixed order: runs repeat
 * bit-for-bit.
 */
#include "kernels/gemm.h"

#include <cblas.h>

void ml_gemm_nt(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, B, K, beta, C, N);
}

void ml_gemm_nn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, beta, C, N);
}

void ml_gemm_tn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, M, B, N, beta, C, N);
}

int ml_blas_set_threads(int n) {
    openblas_set_num_threads(n < 1 ? 1 : n);
    return openblas_get_num_threads();
}

int ml_blas_threads(void) { return openblas_get_num_threads(); }
