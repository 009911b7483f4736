/*
 * kernels/rng.c: counter-based RNG (see rng.h for why counter-based).
 */
#include "kernels/rng.h"

#include <math.h>

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ml_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter) {
    uint64_t k = mix(seed + 0x9e3779b97f4a7c15ULL);
    k = mix(k ^ (stream * 0xd1b54a32d192ed03ULL + 0x632be59bd9b4e019ULL));
    return mix(k ^ (counter * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL));
}

float ml_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
    return (float)(ml_rng_u64(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
}

float ml_rng_normal(uint64_t seed, uint64_t stream, uint64_t counter) {
    double u1 = ((double)(ml_rng_u64(seed, stream, 2 * counter) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(ml_rng_u64(seed, stream, 2 * counter + 1) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint64_t ml_rng_below(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t n) {
    return (uint64_t)(((unsigned __int128)ml_rng_u64(seed, stream, counter) * n) >> 64);
}

void ml_rng_permutation(int *perm, int n, uint64_t seed, uint64_t stream) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ml_rng_below(seed, stream, (uint64_t)i, (uint64_t)i + 1);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}
