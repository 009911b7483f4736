/*
 * kernels/parallel.h: mergelab's own worker threads, for splitting a kernel
 * over its OUTPUTS (rows of a product, rows of an activation, heads of
 * attention) -- never a reduction, so the split depends only on the sizes
 * and the thread count, never on scheduling, and a fixed count gives
 * bit-identical results (a different count can change the last bits of a
 * product: see kernels/gemm.c).
 * OpenBLAS runs single-threaded underneath: each worker calls sgemm on its
 * own block of output rows. Between jobs workers poll for at most 30 us,
 * then sleep on a condition variable (a longer spin would steal the core
 * the work needs when the machine runs more threads than it has cores).
 * Not here: what the kernels compute.
 */
#ifndef ML_KERNELS_PARALLEL_H
#define ML_KERNELS_PARALLEL_H

/* Sets the number of threads (1..ML_PAR_MAX) every later ml_par_for uses,
 * starting or stopping workers as needed; pins OpenBLAS to one thread.
 * Returns the count now in force. Not thread-safe: call it between runs. */
int ml_par_set_threads(int n);
int ml_par_threads(void);
#define ML_PAR_MAX 64

/* Runs fn(ctx, lo, hi) over [0, n) split into ml_par_threads() contiguous
 * chunks, the caller taking the first; returns when all are done. The split
 * depends only on n and the thread count. n < 2*grain runs on the caller
 * alone (small jobs cost more to hand out than to do). */
void ml_par_for(long n, long grain, void (*fn)(void *ctx, long lo, long hi), void *ctx);

/* p[0..n) = 0 on the worker threads (zeroing gradients is memory-bound). */
void ml_par_zero(float *p, long n);

#endif
