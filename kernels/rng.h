/*
 * kernels/rng.h: a counter-based random number generator.
 * Every number is a pure function of (seed, stream, counter), so a value
 * never depends on which thread asked first or how many were drawn before:
 * init of tensor t element i uses counter i in stream t, batch b of epoch e
 * uses its own stream, and so on. The mixer is two rounds of a 64-bit
 * avalanche finaliser (SplitMix64 constants) over the combined key.
 */
#ifndef ML_KERNELS_RNG_H
#define ML_KERNELS_RNG_H

#include <stdint.h>

uint64_t ml_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
/* uniform in [0, 1) with 24 random bits (exact in float) */
float ml_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter);
/* standard normal by Box-Muller on counters 2c and 2c+1 */
float ml_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter);
/* uniform integer in [0, n), n > 0 (rejection-free multiply-shift; bias < n/2^64) */
uint64_t ml_rng_below(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t n);
/* Fisher-Yates permutation of 0..n-1 into perm, fully determined by the key. */
void ml_rng_permutation(int *perm, int n, uint64_t seed, uint64_t stream);

/* Named streams, so two uses never share numbers by accident. */
enum {
    ML_STREAM_INIT    = 1,     /* + tensor index       */
    ML_STREAM_SHUFFLE = 1000,  /* + run index * 1e6 + epoch */
    ML_STREAM_PROBE   = 2000,
    ML_STREAM_VALID   = 2001,  /* the held-out validation subset */
    ML_STREAM_STATS   = 2100,  /* + specialist: examples for Fisher and RegMean statistics */
    ML_STREAM_ROUTER  = 2200,  /* + merge index * 64 + router tensor: a router's initial weights */
};

#endif
