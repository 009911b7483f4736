/*
 * kernels/gemm.h: row-major float32 matrix products on OpenBLAS, and their
 * naive references (kernels/ref/gemm_ref.c) with the same signatures.
 * Owns: the three layouts the layers need, split over output rows on the
 * worker threads of kernels/parallel.h (OpenBLAS itself runs one thread).
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

/* Sets the threads every kernel uses (n >= 1; OpenBLAS stays at one per
 * worker) and returns the count in force. */
int ml_blas_set_threads(int n);
int ml_blas_threads(void);

#endif
