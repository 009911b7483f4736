/*
 * kernels/gemm.c: row-major sgemm wrappers, split over blocks of OUTPUT
 * rows on mergelab's worker threads (kernels/parallel.c), each block a
 * single-threaded OpenBLAS call. Every element of C is one dot product
 * over the whole K (no reduction is split), so a fixed thread count repeats
 * bit for bit. Another count moves the block boundaries, and OpenBLAS
 * computes the rows left at a block's end with narrower tile kernels that
 * round differently: results depend on the thread count, which is why it
 * is part of every identity (`mlbench --split-bits` counts the difference).
 */
#include "kernels/gemm.h"
#include "kernels/parallel.h"

#include <cblas.h>

typedef struct {
    int transA, transB, M, N, K, lda, ldb;
    const float *A, *B;
    float beta, *C;
} gemm_job;

static void gemm_rows(void *ctx, long lo, long hi) {
    const gemm_job *j = ctx;
    /* rows lo..hi of C come from rows of A (no transpose) or columns of A (transpose) */
    const float *A = j->A + (j->transA ? lo : lo * (long)j->lda);
    cblas_sgemm(CblasRowMajor, j->transA ? CblasTrans : CblasNoTrans, j->transB ? CblasTrans : CblasNoTrans,
                (int)(hi - lo), j->N, j->K, 1.0f, A, j->lda, j->B, j->ldb, j->beta, j->C + lo * (long)j->N, j->N);
}

static void run(gemm_job *j) {
    /* about 256k multiply-adds per block before it is worth handing out */
    long per_row = (long)j->N * j->K;
    long grain = 1 + (1L << 18) / (per_row > 0 ? per_row : 1);
    ml_par_for(j->M, grain, gemm_rows, j);
}

void ml_gemm_nt(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    gemm_job j = { 0, 1, M, N, K, K, K, A, B, beta, C };
    run(&j);
}

void ml_gemm_nn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    gemm_job j = { 0, 0, M, N, K, K, N, A, B, beta, C };
    run(&j);
}

void ml_gemm_tn(int M, int N, int K, const float *A, const float *B, float beta, float *C) {
    gemm_job j = { 1, 0, M, N, K, M, N, A, B, beta, C };
    run(&j);
}

int ml_blas_set_threads(int n) { return ml_par_set_threads(n); }

int ml_blas_threads(void) { return ml_par_threads(); }
