/*
 * kernels/fastmath.h: exp and tanh written so the compiler can vectorise
 * the loops that call them (libm's expf/tanhf are opaque calls, and GELU
 * alone was a fifth of a GPT training step). Branch-free: range reduction
 * x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r, and 2^n
 * built in the exponent bits; clamps and signs are bit operations so the
 * loop body has no control flow. Relative error about 2e-7 over the range
 * used (tested against libm in tests/test_kernels.c).
 * Not here: anything that needs correctly rounded results, NaN inputs.
 */
#ifndef ML_KERNELS_FASTMATH_H
#define ML_KERNELS_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float ml__bits_to_float(uint32_t u) { float f; memcpy(&f, &u, sizeof(f)); return f; }
static inline uint32_t ml__float_to_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof(u)); return u; }

/* exp(x), x clamped to [-87, 88] (the float range without denormals) */
static inline float ml_fast_expf(float x) {
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    /* n = round(x / ln2) by the 1.5*2^23 trick (exact for |n| < 2^22) */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693145751953125f;     /* ln2, high part (exact product) */
    r = r - n * 1.42860682030941723212e-6f;  /* ln2, low part */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666418f +
              r * (0.00833336823f + r * 0.00138889055f)))));
    uint32_t e = (ml__float_to_bits(t) - 0x4B400000u + 127u) << 23;   /* n + 127 from t's mantissa */
    return p * ml__bits_to_float(e);
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|): no cancellation */
static inline float ml_fast_tanhf(float x) {
    uint32_t bits = ml__float_to_bits(x), sign = bits & 0x80000000u;
    float a = ml__bits_to_float(bits & 0x7fffffffu);
    float e = ml_fast_expf(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    return ml__bits_to_float(ml__float_to_bits(t) | sign);
}

#endif
