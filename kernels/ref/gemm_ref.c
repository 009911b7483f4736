/*
 * kernels/ref/gemm_ref.c: naive references for kernels/gemm.c.
 * Slow on purpose: plain loops with double accumulators, so a BLAS
 * misconfiguration (wrong core type, bad threading) shows up in the tests.
 */
#include "kernels/gemm.h"

void ml_ref_gemm_nt(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) s += (double)A[i * K + k] * B[j * K + k];
            C[i * N + j] = (float)(s + (beta == 0.0f ? 0.0 : (double)beta * C[i * N + j]));
        }
}

void ml_ref_gemm_nn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) s += (double)A[i * K + k] * B[k * N + j];
            C[i * N + j] = (float)(s + (beta == 0.0f ? 0.0 : (double)beta * C[i * N + j]));
        }
}

void ml_ref_gemm_tn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) s += (double)A[k * M + i] * B[k * N + j];
            C[i * N + j] = (float)(s + (beta == 0.0f ? 0.0 : (double)beta * C[i * N + j]));
        }
}
