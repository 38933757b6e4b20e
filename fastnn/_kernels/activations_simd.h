/* Vectorisable element-wise activation loops for fastnn._kernels.activations.
 *
 * Why hand-written maths: gcc does not vectorise libm's exp/expm1/tanh, so every loop here
 * calls only the inline primitives below (a Cody-Waite range reduction and a polynomial),
 * which gcc turns into SIMD code at -O3 without -ffast-math.  -ffast-math is not used: it
 * would break NaN propagation and the magic-number rounding of the reduction.
 *
 * Accuracy (measured in tests/test_activations.py): sigmoid, tanh and ELU are within 4 ulp of
 * a float64 (for float32) or long-double (for float64) evaluation over the whole real line,
 * subnormal results included; relu, leaky ReLU and maxout are exact.
 *
 * Layout of this file:
 *   1. per-dtype primitives (bit casts, range reduction, expm1 polynomial, exp/expm1 on x <= 0);
 *      these differ between float32 and float64 only in constants and polynomial degree;
 *   2. activations_template.h, included once per dtype, holds every loop (written once).
 *
 * Stores are ordinary stores: non-temporal (streaming) stores through an L1 block buffer were
 * measured slower on the development machine at 8M elements (1.1-1.7x), so they are not used.
 *
 * activations_target.c compiles these loops once per ISA target (baseline, AVX2+FMA,
 * AVX-512) and exports them as a table (activations_dispatch.h); FMA contraction happens only
 * in the targets that have FMA, so the tests also run the baseline table on machines that
 * dispatch to a wider one.
 */
#ifndef FASTNN_ACTIVATIONS_SIMD_H
#define FASTNN_ACTIVATIONS_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "activations_dispatch.h"
#include "fastnn_simd.h"

/* ---------------------------------------------------------------- 1. primitives */

FASTNN_CONTRACT_ON

FASTNN_INLINE uint32_t fnn_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FASTNN_INLINE float fnn_float_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
FASTNN_INLINE uint64_t fnn_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FASTNN_INLINE double fnn_float_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* |x| and copysign in the dtype (the type-generic fabs/copysign of <math.h> would convert a
 * float to double and back, which clang does not always remove: it scalarised the loops). */
FASTNN_INLINE float fnn_abs_f32(float x) { return fabsf(x); }
FASTNN_INLINE double fnn_abs_f64(double x) { return fabs(x); }
FASTNN_INLINE float fnn_copysign_f32(float x, float s) { return copysignf(x, s); }
FASTNN_INLINE double fnn_copysign_f64(double x, double s) { return copysign(x, s); }

/* 2**n for n in the normal exponent range. */
FASTNN_INLINE float fnn_pow2_f32(int32_t n) { return fnn_float_f32((uint32_t)(n + 127) << 23); }
FASTNN_INLINE double fnn_pow2_f64(int64_t n) { return fnn_float_f64((uint64_t)(n + 1023) << 52); }

/* Cody-Waite reduction x = n*ln2 + r, |r| <= ln2/2.  n = round(x/ln2) comes from the
 * 1.5*2**(p-1) shifter (its bits hold n; no float->int conversion, which would be undefined
 * for NaN); ln2 is split into a head with trailing zero bits (n*head is exact for the n we
 * use) and a tail.  float32: Cephes' split; float64: fdlibm's. */
FASTNN_INLINE float fnn_reduce_f32(float x, int32_t *n) {
    const float shift = 0x1.8p23f;
    float kd = x * 0x1.715476p+0f + shift;
    *n = (int32_t)(fnn_bits_f32(kd) - fnn_bits_f32(shift));
    kd -= shift;
    return (x - kd * 0.693359375f) - kd * -2.12194440e-4f;
}

FASTNN_INLINE double fnn_reduce_f64(double x, int64_t *n) {
    const double shift = 0x1.8p52;
    double kd = x * 0x1.71547652b82fep+0 + shift;
    *n = (int64_t)(fnn_bits_f64(kd) - fnn_bits_f64(shift));
    kd -= shift;
    return (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
}

/* expm1(r) for |r| <= ln2/2 as r + r^2 P(r), P a near-minimax (Chebyshev) fit of
 * (expm1(r) - r) / r^2 computed with mpmath (mpmath.chebyfit, 50 digits): degree 5 for
 * float32 (|P error| < 1.4e-9, i.e. < 5e-10 relative to expm1) and degree 9 for float64
 * (< 1.1e-16, i.e. < 4e-17 relative); Taylor needs two more terms for the same accuracy.
 * Keeping r out of P makes the result accurate relative to r for tiny r. */
FASTNN_INLINE float fnn_expm1_poly_f32(float r) {
    float p = 0x1.a124e4p-13f;
    p = p * r + 0x1.6d4316p-10f;
    p = p * r + 0x1.1110e0p-7f;
    p = p * r + 0x1.5554eap-5f;
    p = p * r + 0x1.555556p-3f;
    p = p * r + 0.5f;
    return r + (r * r) * p;
}

FASTNN_INLINE double fnn_expm1_poly_f64(double r) {
    double p = 0x1.af389ecfc4b9cp-26;
    p = p * r + 0x1.28917c89a43a7p-22;
    p = p * r + 0x1.71de0db2f6b19p-19;
    p = p * r + 0x1.a019b9149a41cp-16;
    p = p * r + 0x1.a01a01a7c2efep-13;
    p = p * r + 0x1.6c16c17889ef1p-10;
    p = p * r + 0x1.11111111109b5p-7;
    p = p * r + 0x1.5555555553d68p-5;
    p = p * r + 0x1.5555555555556p-3;
    p = p * r + 0x1.0000000000001p-1;
    return r + (r * r) * p;
}

/* exp(x) for x <= 0 (or NaN), subnormal results included: below EXP_LO the result rounds to
 * 0.  2**n is applied as 2**(n+K) (always normal, n >= -1077 / -151) times the constant
 * 2**-K: (1 + q) * 2**(n+K) is exact, so the only rounding into the subnormal range is the
 * last multiplication. */
FASTNN_INLINE float fnn_exp_nonpos_f32(float x) {
    x = x < -104.0f ? -104.0f : x; /* exp(-104) < 2**-150: rounds to 0 */
    int32_t n;
    float r = fnn_reduce_f32(x, &n);
    float q = fnn_expm1_poly_f32(r);
    float s = fnn_pow2_f32(n + 32);
    return (s + s * q) * 0x1p-32f;
}

FASTNN_INLINE double fnn_exp_nonpos_f64(double x) {
    x = x < -746.0 ? -746.0 : x; /* exp(-746) < 2**-1075: rounds to 0 */
    int64_t n;
    double r = fnn_reduce_f64(x, &n);
    double q = fnn_expm1_poly_f64(r);
    double s = fnn_pow2_f64(n + 64);
    return (s + s * q) * 0x1p-64;
}

/* expm1(x) for x <= 0 (or NaN) as 2**n * expm1(r) + (2**n - 1); below the cut-off the
 * result rounds to -1 (expm1(-20) = -1 + 2e-9 in float32, expm1(-40) = -1 + 4e-18). */
FASTNN_INLINE float fnn_expm1_nonpos_f32(float x) {
    x = x < -20.0f ? -20.0f : x;
    int32_t n;
    float r = fnn_reduce_f32(x, &n);
    float q = fnn_expm1_poly_f32(r);
    float s = fnn_pow2_f32(n);
    return s * q + (s - 1.0f);
}

FASTNN_INLINE double fnn_expm1_nonpos_f64(double x) {
    x = x < -40.0 ? -40.0 : x;
    int64_t n;
    double r = fnn_reduce_f64(x, &n);
    double q = fnn_expm1_poly_f64(r);
    double s = fnn_pow2_f64(n);
    return s * q + (s - 1.0);
}

FASTNN_CONTRACT_OFF

/* ---------------------------------------------------------------- 2. the loops */

#define FNN_T float
#define FNN_SFX f32
#include "activations_template.h"
#undef FNN_T
#undef FNN_SFX

#define FNN_T double
#define FNN_SFX f64
#include "activations_template.h"
#undef FNN_T
#undef FNN_SFX

#endif /* FASTNN_ACTIVATIONS_SIMD_H */
