/*
 * kernels/gemm.h: row-major float32 matrix products on OpenBLAS, and their
 * naive references (kernels/ref/gemm_ref.c) with the same signatures.
 * Owns: the three layouts the layers need. Not here: threading policy
 * (OpenBLAS threads are pinned by the harness and split over outputs only).
 * All matrices are contiguous row-major; C = op(A) op(B) + beta*C.
 */
#ifndef ML_KERNELS_GEMM_H
#define ML_KERNELS_GEMM_H

/* A (M,K)  B (N,K)  C (M,N):  C = A B^T + beta C */
void ml_gemm_nt(int M, int N, int K, const float *A, const float *B, float beta, float *C);
/* A (M,K)  B (K,N)  C (M,N):  C = A B + beta C */
void ml_gemm_nn(int M, int N, int K, const float *A, const float *B, float beta, float *C);
/* A (K,M)  B (K,N)  C (M,N):  C = A^T B + beta C */
void ml_gemm_tn(int M, int N, int K, const float *A, const float *B, float beta, float *C);

/* Naive triple loops, accumulating in double; the tests' ground truth. */
void ml_ref_gemm_nt(int M, int N, int K, const float *A, const float *B, float beta, float *C);
void ml_ref_gemm_nn(int M, int N, int K, const float *A, const float *B, float beta, float *C);
void ml_ref_gemm_tn(int M, int N, int K, const float *A, const float *B, float beta, float *C);

/* Pins OpenBLAS to n threads (n >= 1) and returns what OpenBLAS reports. */
int ml_blas_set_threads(int n);
int ml_blas_threads(void);

#endif
