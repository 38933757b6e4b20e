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
 *   2. activations_template.h, included once per dtype, holds every loop (written once);
 *   3. a streaming store helper: above FASTNN_STREAM_BYTES of output the loops write through
 *      an L1 block buffer and non-temporal stores, which skip the read-for-ownership of the
 *      destination (an ordinary store moves 3 bytes per byte written once the array is
 *      larger than the cache; np.copyto/memcpy stream too, which is why they set the floor).
 *
 * Every public loop exists twice: FASTNN_CLONES (run-time dispatched AVX-512 / AVX2+FMA /
 * baseline) and a `_base` twin compiled for the baseline ISA only, which the tests use to
 * check the numerics of the no-FMA code path on machines that dispatch to a wider clone.
 */
#ifndef FASTNN_ACTIVATIONS_SIMD_H
#define FASTNN_ACTIVATIONS_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTNN_HAVE_STREAM 1
#else
#define FASTNN_HAVE_STREAM 0
#endif

/* Output size (bytes, whole call) from which stores bypass the cache; about half of a
 * typical last-level cache, so cache-resident results stay cached for the next layer. */
#define FASTNN_STREAM_BYTES ((ptrdiff_t)16 << 20)
/* Elements per block of the streaming path (4-8 KiB: stays in L1). */
#define FASTNN_STREAM_BLOCK 1024

/* Polynomials and reductions are written as a*b + c; this region lets gcc contract them into
 * FMA instructions in the clones whose ISA has FMA (-std=c11 turns contraction off by default,
 * which keeps the simple backward kernels bit-identical to NumPy). */
#if defined(__GNUC__) && !defined(__clang__)
#define FASTNN_CONTRACT_ON _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=fast\")")
#define FASTNN_CONTRACT_OFF _Pragma("GCC pop_options")
#else
#define FASTNN_CONTRACT_ON
#define FASTNN_CONTRACT_OFF
#endif

#if defined(__GNUC__)
#define FASTNN_INLINE static inline __attribute__((always_inline))
#define FASTNN_IVDEP _Pragma("GCC ivdep")
#else
#define FASTNN_INLINE static inline
#define FASTNN_IVDEP
#endif

/* ---------------------------------------------------------------- 1. primitives */

FASTNN_CONTRACT_ON

FASTNN_INLINE uint32_t fnn_bits_f32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
FASTNN_INLINE float fnn_float_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
FASTNN_INLINE uint64_t fnn_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FASTNN_INLINE double fnn_float_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

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

/* expm1(r) for |r| <= ln2/2: Taylor series r + r^2 (1/2! + r/3! + ...), to r^8 for float32
 * (truncation < 6e-10 relative) and r^13 for float64 (< 2e-17).  Keeping r separate makes
 * the result accurate relative to r for tiny r. */
FASTNN_INLINE float fnn_expm1_poly_f32(float r) {
    float p = (float)(1.0 / 40320);
    p = p * r + (float)(1.0 / 5040);
    p = p * r + (float)(1.0 / 720);
    p = p * r + (float)(1.0 / 120);
    p = p * r + (float)(1.0 / 24);
    p = p * r + (float)(1.0 / 6);
    p = p * r + 0.5f;
    return r + (r * r) * p;
}

FASTNN_INLINE double fnn_expm1_poly_f64(double r) {
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return r + (r * r) * p;
}

/* exp(x) for x <= 0 (or NaN), subnormal results included: below EXP_LO the result rounds to
 * 0.  2**n is applied in two halves so that 2**n1 * (1 + q) stays normal and the only
 * rounding into the subnormal range happens in the last multiplication.  n1 is floor(n/2)
 * computed with a logical shift of n + offset (AVX2 has no 64-bit arithmetic shift). */
FASTNN_INLINE float fnn_exp_nonpos_f32(float x) {
    x = x < -104.0f ? -104.0f : x; /* exp(-104) < 2**-150: rounds to 0 */
    int32_t n;
    float r = fnn_reduce_f32(x, &n);
    float q = fnn_expm1_poly_f32(r);
    int32_t n1 = (int32_t)((uint32_t)(n + 256) >> 1) - 128;
    float s1 = fnn_pow2_f32(n1), s2 = fnn_pow2_f32(n - n1);
    return (s1 + s1 * q) * s2;
}

FASTNN_INLINE double fnn_exp_nonpos_f64(double x) {
    x = x < -746.0 ? -746.0 : x; /* exp(-746) < 2**-1075: rounds to 0 */
    int64_t n;
    double r = fnn_reduce_f64(x, &n);
    double q = fnn_expm1_poly_f64(r);
    int64_t n1 = (int64_t)((uint64_t)(n + 2048) >> 1) - 1024;
    double s1 = fnn_pow2_f64(n1), s2 = fnn_pow2_f64(n - n1);
    return (s1 + s1 * q) * s2;
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

/* ---------------------------------------------------------------- 2. streaming store */

/* dst[0:n] = src[0:n] with non-temporal stores where dst is 16-byte aligned. */
FASTNN_INLINE void fnn_stream_f32(float *dst, const float *src, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if FASTNN_HAVE_STREAM
    for (; i < n && ((uintptr_t)(dst + i) & 15); i++) dst[i] = src[i];
    for (; i + 4 <= n; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
#endif
    for (; i < n; i++) dst[i] = src[i];
}

FASTNN_INLINE void fnn_stream_f64(double *dst, const double *src, ptrdiff_t n) {
    ptrdiff_t i = 0;
#if FASTNN_HAVE_STREAM
    for (; i < n && ((uintptr_t)(dst + i) & 15); i++) dst[i] = src[i];
    for (; i + 2 <= n; i += 2) _mm_stream_pd(dst + i, _mm_loadu_pd(src + i));
#endif
    for (; i < n; i++) dst[i] = src[i];
}

FASTNN_INLINE void fnn_stream_fence(void) {
#if FASTNN_HAVE_STREAM
    _mm_sfence();
#endif
}

/* ---------------------------------------------------------------- 3. the loops */

/* Kernel ids; backward kernels (two inputs) have odd ids. */
enum {
    FASTNN_OP_RELU, FASTNN_OP_RELU_BACKWARD,
    FASTNN_OP_SIGMOID, FASTNN_OP_SIGMOID_BACKWARD,
    FASTNN_OP_TANH, FASTNN_OP_TANH_BACKWARD,
    FASTNN_OP_LEAKY_RELU, FASTNN_OP_LEAKY_RELU_BACKWARD,
    FASTNN_OP_ELU, FASTNN_OP_ELU_BACKWARD,
    FASTNN_N_OPS
};

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
