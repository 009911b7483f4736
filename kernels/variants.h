/*
 * kernels/variants.h: one loop body compiled twice, for AVX2 (8 lanes) and
 * for the x86-64 baseline (4 lanes), the variant picked per call from
 * kernels/platform.h's ml_isa_level so a test can force each one. Private to
 * kernels/ (not part of the public API). Both variants give the same bits:
 * ISO C mode contracts nothing into FMA, "avx2" does not enable FMA anyway,
 * and a body must not reorder a sum (tests/test_platform.c checks each).
 */
#ifndef ML_KERNELS_VARIANTS_H
#define ML_KERNELS_VARIANTS_H

#include "kernels/platform.h"

typedef void (*ml_range_fn)(void *ctx, long lo, long hi);

#define ML_BODY static inline __attribute__((always_inline)) void
#if defined(__x86_64__) && defined(__GNUC__)
#define ML_VARIANTS(name) \
    __attribute__((target("avx2"))) static void name##_avx2(void *ctx, long lo, long hi) { name##_body(ctx, lo, hi); } \
    static void name##_base(void *ctx, long lo, long hi) { name##_body(ctx, lo, hi); } \
    static ml_range_fn name##_pick(void) { return ml_isa_level() == ML_ISA_AVX2 ? name##_avx2 : name##_base; }
#else
#define ML_VARIANTS(name) \
    static void name##_base(void *ctx, long lo, long hi) { name##_body(ctx, lo, hi); } \
    static ml_range_fn name##_pick(void) { return name##_base; }
#endif

#endif
