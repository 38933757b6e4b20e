/* The one C math layer of the kernels: exp and expm1 for x <= 0 and log1p for x >= 0, for
 * float and double, branch-free so that compilers vectorise the loops that call them
 * (without -ffast-math, which would break NaN propagation and the rounding tricks below).
 * Used by the activations (sigmoid, tanh, ELU) and by softmax.
 *
 * exp and expm1 share one Cody-Waite reduction and one polynomial per dtype
 * (FASTNN_EXP_KD_*, FASTNN_EXP_R_*, FASTNN_EXPM1_POLY_*), and the clamp constants and 2**n
 * scaling around it are written once, as macros over the value type (FASTNN_NONPOS_CLAMPED,
 * and FASTNN_EXP_STEPS for several values at once) that the scalar functions
 * (fastnn_math_template.h), the GCC-vector loops of softmax_template.h and gcc's AVX2
 * activation loops expand: the same operations, hence the same bits.
 *
 * Accuracy (tests/test_activations.py, tests/test_softmax.py): within 4 ulp of a wider
 * evaluation over the whole range, subnormal results included.
 */
#ifndef FASTNN_MATH_H
#define FASTNN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"

FASTNN_CONTRACT_ON

FASTNN_INLINE uint64_t fastnn_bits_f64(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
FASTNN_INLINE double fastnn_float_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
/* all ones if cond, else 0: a select on bits, a ? b : c = (b & m) | (c & ~m) */
FASTNN_INLINE uint64_t fastnn_mask_u64(int cond) { return (uint64_t)0 - (uint64_t)(cond != 0); }

/* |x| and copysign in the dtype (the type-generic fabs/copysign of <math.h> would convert a
 * float to double and back, which clang does not always remove: it scalarised the loops). */
FASTNN_INLINE float fastnn_abs_f32(float x) { return fabsf(x); }
FASTNN_INLINE double fastnn_abs_f64(double x) { return fabs(x); }
FASTNN_INLINE float fastnn_copysign_f32(float x, float s) { return copysignf(x, s); }
FASTNN_INLINE double fastnn_copysign_f64(double x, double s) { return copysign(x, s); }

/* The reduction shifter 1.5 * 2**(p-1) and its bits: x * log2(e) + SHIFT rounds x / ln2 to
 * the integer n held in the low bits of the sum (no float -> int conversion, which would be
 * undefined for NaN). */
#define FASTNN_EXP_SHIFT_F32 0x1.8p23f
#define FASTNN_EXP_SHIFT_BITS_F32 0x4b400000u
#define FASTNN_EXP_SHIFT_F64 0x1.8p52
#define FASTNN_EXP_SHIFT_BITS_F64 0x4338000000000000ull

/* For VT float (or a vector of float) and x: kd = x * log2(e) + SHIFT (n in its low bits) and
 * q = expm1(r), where x = n*ln2 + r, |r| <= ln2/2 (Cody-Waite: ln2 split into a head with
 * trailing zero bits, so n * head is exact, and a tail; Cephes' split).  expm1(r) =
 * r + r^2 P(r), P a near-minimax (Chebyshev) fit of (expm1(r) - r) / r^2 computed with mpmath
 * (chebyfit, 50 digits) of degree 5 (|P error| < 1.4e-9, < 5e-10 relative to expm1); keeping
 * r out of P keeps the result accurate relative to r for tiny r.  P is evaluated in pairs
 * (c0 + c1 r) + r^2 (c2 + c3 r) + ...: as many FMAs as Horner's rule, but a dependency chain
 * half as long, which is what bounds these loops on out-of-order cores. */
#define FASTNN_EXP_KD_F32(x) ((x) * 0x1.715476p+0f + FASTNN_EXP_SHIFT_F32)
#define FASTNN_EXP_R_F32(x, k) (((x) - (k) * 0.693359375f) - (k) * -2.12194440e-4f)
#define FASTNN_EXPM1_POLY_F32(VT, r, q)                                                        \
    {                                                                                          \
        VT r2_ = (r) * (r);                                                                    \
        VT p01_ = (r) * 0x1.555556p-3f + 0.5f;                                                 \
        VT p23_ = (r) * 0x1.1110e0p-7f + 0x1.5554eap-5f;                                       \
        VT p45_ = (r) * 0x1.a124e4p-13f + 0x1.6d4316p-10f;                                     \
        VT p_ = (p45_ * r2_ + p23_) * r2_ + p01_;                                              \
        q = (r) + r2_ * p_;                                                                    \
    }

/* The same for double: fdlibm's ln2 split, P of degree 9 (< 1.1e-16, < 4e-17 relative);
 * Taylor needs two more terms for the same accuracy.  Each dtype's pieces: kd
 * (FASTNN_EXP_KD_*), r given k = kd - SHIFT (FASTNN_EXP_R_*) and q = expm1(r)
 * (FASTNN_EXPM1_POLY_*), put together by FASTNN_EXPM1_REDUCED or, for several values at
 * once, by FASTNN_EXP_STEPS. */
#define FASTNN_EXP_KD_F64(x) ((x) * 0x1.71547652b82fep+0 + FASTNN_EXP_SHIFT_F64)
#define FASTNN_EXP_R_F64(x, k)                                                                 \
    (((x) - (k) * 6.93147180369123816490e-01) - (k) * 1.90821492927058770002e-10)
#define FASTNN_EXPM1_POLY_F64(VT, r, q)                                                        \
    {                                                                                          \
        VT r2_ = (r) * (r);                                                                    \
        VT p01_ = (r) * 0x1.5555555555556p-3 + 0x1.0000000000001p-1;                           \
        VT p23_ = (r) * 0x1.11111111109b5p-7 + 0x1.5555555553d68p-5;                           \
        VT p45_ = (r) * 0x1.a01a01a7c2efep-13 + 0x1.6c16c17889ef1p-10;                         \
        VT p67_ = (r) * 0x1.71de0db2f6b19p-19 + 0x1.a019b9149a41cp-16;                         \
        VT p89_ = (r) * 0x1.af389ecfc4b9cp-26 + 0x1.28917c89a43a7p-22;                         \
        VT p_ = ((p89_ * r2_ + p67_) * r2_ + p45_) * r2_ + p23_;                               \
        p_ = p_ * r2_ + p01_;                                                                  \
        q = (r) + r2_ * p_;                                                                    \
    }

/* Both dtypes' reduction and polynomial in one (the template picks the dtype's copy). */
#define FASTNN_EXPM1_REDUCED(VT, x, kd, q)                                                     \
    VT kd = FASTNN_MACRO(FASTNN_EXP_KD)(x);                                                    \
    VT q;                                                                                      \
    {                                                                                          \
        VT k_ = kd - FASTNN_MACRO(FASTNN_EXP_SHIFT);                                           \
        VT r_ = FASTNN_MACRO(FASTNN_EXP_R)(x, k_);                                             \
        FASTNN_MACRO(FASTNN_EXPM1_POLY)(VT, r_, q)                                             \
    }

/* Arguments of exp below these give results that round to 0 (exp(-104) < 2**-150,
 * exp(-746) < 2**-1075); exp clamps to them, which keeps 2**(n + K) below normal.  expm1
 * clamps to its own cut-off: below it the result rounds to -1 (expm1(-20) = -1 + 2e-9 in
 * float32, expm1(-40) = -1 + 4e-18). */
#define FASTNN_EXP_MIN_F32 -104.0f
#define FASTNN_EXP_MIN_F64 -746.0
#define FASTNN_EXPM1_MIN_F32 -20.0f
#define FASTNN_EXPM1_MIN_F64 -40.0
/* exp's K (the dtype's width, 32 or 64: n + K >= -151 + 32 and -1077 + 64 are exponents of
 * normal numbers), 2**K and 2**-K.  The scaled exp 2**K * exp(x) (KIND EXP_SCALED) clamps
 * like exp. */
#define FASTNN_EXP_K_F32 32u
#define FASTNN_EXP_K_F64 64u
#define FASTNN_EXP_SCALE_F32 0x1p32f
#define FASTNN_EXP_SCALE_F64 0x1p64
#define FASTNN_EXP_UNSCALE_F32 0x1p-32f
#define FASTNN_EXP_UNSCALE_F64 0x1p-64
#define FASTNN_EXP_SCALED_MIN_F32 FASTNN_EXP_MIN_F32
#define FASTNN_EXP_SCALED_MIN_F64 FASTNN_EXP_MIN_F64

/* The exps below are written once, generic over the value type VT and the unsigned type VU
 * of its bits: the scalar FASTNN_T and FASTNN_UINT (fastnn_math_template.h) or GCC vectors of
 * them (softmax's wide rows).  They expand inside a template (fastnn_dtype_begin.h), which
 * supplies the dtype's constants through FASTNN_MACRO, so the scalar and vector exps compute
 * the same operations, hence the same bits.  Each declares VT `out` and takes its argument
 * already clamped (a scalar clamps with a conditional, a vector with a select). */

/* s = 2**(n + k) from kd (n in its low bits, as left by FASTNN_EXP_KD_*): n + k plus
 * the bias, shifted into the exponent field (unsigned: the subtraction wraps). */
#define FASTNN_EXP_POW2(VT, VU, kd, k, s)                                                      \
    VT s;                                                                                      \
    {                                                                                          \
        VU bits_;                                                                              \
        memcpy(&bits_, &(kd), sizeof bits_);                                                   \
        bits_ = (bits_ - FASTNN_MACRO(FASTNN_EXP_SHIFT_BITS) + FASTNN_T_EXP_BIAS + (k))        \
                << FASTNN_T_MANT_BITS;                                                         \
        memcpy(&s, &bits_, sizeof s);                                                          \
    }

/* out = exp(x) for x in [FASTNN_EXP_MIN, 0] (or NaN, which propagates), subnormal results
 * included, from kd and q = expm1(r).  2**n is applied as 2**(n+K) (always normal) times the
 * constant 2**-K: (1 + q) * 2**(n+K), the scaled exp (always normal, at most 2**K), is
 * exact, so the only rounding into the subnormal range is the last multiplication.  A caller
 * that can apply 2**-K itself takes the scaled exp (sigmoid: one multiplication less). */
#define FASTNN_EXP_SCALED_FROM_REDUCED(VT, VU, kd, q, out)                                     \
    {                                                                                          \
        FASTNN_EXP_POW2(VT, VU, kd, FASTNN_MACRO(FASTNN_EXP_K), s_)                            \
        out = s_ + s_ * (q);                                                                   \
    }
#define FASTNN_EXP_FROM_REDUCED(VT, VU, kd, q, out)                                            \
    {                                                                                          \
        VT scaled_;                                                                            \
        FASTNN_EXP_SCALED_FROM_REDUCED(VT, VU, kd, q, scaled_)                                 \
        out = scaled_ * FASTNN_MACRO(FASTNN_EXP_UNSCALE);                                      \
    }
/* out = expm1(x) for x in [FASTNN_EXPM1_MIN, 0] (or NaN): 2**n * expm1(r) + (2**n - 1). */
#define FASTNN_EXPM1_FROM_REDUCED(VT, VU, kd, q, out)                                          \
    {                                                                                          \
        FASTNN_EXP_POW2(VT, VU, kd, 0u, s_)                                                    \
        out = s_ * (q) + (s_ - 1);                                                             \
    }

/* The same from x (already clamped), declaring VT out: KIND EXP (exp), EXP_SCALED
 * (2**K * exp) or EXPM1 (expm1). */
#define FASTNN_NONPOS_CLAMPED(KIND, VT, VU, x, out)                                            \
    VT out;                                                                                    \
    {                                                                                          \
        FASTNN_EXPM1_REDUCED(VT, x, kd_, q_)                                                   \
        FASTNN_##KIND##_FROM_REDUCED(VT, VU, kd_, q_, out)                                     \
    }

/* out[j] = exp(x[j]) (KIND EXP), 2**K * exp(x[j]) (EXP_SCALED) or expm1(x[j]) (EXPM1) for
 * j < N, x[] clamped as above: the same operations as FASTNN_NONPOS_CLAMPED of that KIND (the
 * same bits), ordered for N independent values (vectors) at once.  Each step of the reduction
 * and of the 2**n scaling runs for all N values before the next step, and each value's
 * polynomial in one piece: that order kept gcc 12's AVX2 code to 4 interleaved dependency
 * chains without spilling the polynomial's terms (docs/perf/isa_paths.md, session 30). */
#define FASTNN_EXP_STEPS(VT, VU, N, KIND, x, out)                                              \
    {                                                                                          \
        VT kd_[N], k_[N], q_[N];                                                               \
        for (int j_ = 0; j_ < (N); j_++) kd_[j_] = FASTNN_MACRO(FASTNN_EXP_KD)((x)[j_]);       \
        for (int j_ = 0; j_ < (N); j_++) k_[j_] = kd_[j_] - FASTNN_MACRO(FASTNN_EXP_SHIFT);    \
        for (int j_ = 0; j_ < (N); j_++) k_[j_] = FASTNN_MACRO(FASTNN_EXP_R)((x)[j_], k_[j_]); \
        for (int j_ = 0; j_ < (N); j_++) FASTNN_MACRO(FASTNN_EXPM1_POLY)(VT, k_[j_], q_[j_])   \
        for (int j_ = 0; j_ < (N); j_++)                                                       \
            FASTNN_##KIND##_FROM_REDUCED(VT, VU, kd_[j_], q_[j_], (out)[j_])                   \
    }

/* The scalar exp_nonpos and expm1_nonpos, per dtype.  This file may first be included by a
 * template (before its fastnn_dtype_begin.h), whose includer has defined FASTNN_DTYPE already:
 * that definition is set aside meanwhile. */
#pragma push_macro("FASTNN_DTYPE")
#undef FASTNN_DTYPE
#define FASTNN_DTYPE 32
#include "fastnn_math_template.h"
#define FASTNN_DTYPE 64
#include "fastnn_math_template.h"
#pragma pop_macro("FASTNN_DTYPE")

/* log1p(x) for x >= 0, +inf or NaN (in double), branch-free so that a loop over many
 * arguments vectorises.  This is musl's log1p (from FreeBSD msun; < 1 ulp) without its x < 0
 * and tiny-x branches: the rounding of 1 + x is corrected by c. */
FASTNN_INLINE double fastnn_log1p_nonneg(double x) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    double u = 1.0 + x;
    uint64_t bits = fastnn_bits_f64(u);
    /* u = 2^k * (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)) */
    uint64_t hu = (bits >> 32) + (0x3ff00000u - 0x3fe6a09eu);
    int32_t k = (int32_t)(hu >> 20) - 0x3ff; /* int32: AVX2 converts only int32 to double */
    /* c = k >= 2 ? 1 - (u - x) : x - (u - 1), then c / u, or 0 for k >= 54 (0 / u = 0).  The
     * selects are masks on the bits: gcc moves the operations of a ?: into branches, which it
     * then cannot if-convert (an FP operation may trap), and the row loops would not vectorise. */
    uint64_t big = fastnn_mask_u64(k >= 2), used = fastnn_mask_u64(k < 54);
    double c = fastnn_float_f64(((fastnn_bits_f64(1.0 - (u - x)) & big) |
                                 (fastnn_bits_f64(x - (u - 1.0)) & ~big)) & used) / u;
    double f = fastnn_float_f64((((hu & 0x000fffffu) + 0x3fe6a09eu) << 32) | (bits & 0xffffffffu))
               - 1.0;
    double hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
    double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    double dk = (double)k;
    double r = s * (hfsq + (t2 + t1)) + (dk * ln2_lo + c) - hfsq + f + dk * ln2_hi;
    uint64_t finite = fastnn_mask_u64(x < INFINITY); /* +inf and NaN pass through */
    return fastnn_float_f64((fastnn_bits_f64(r) & finite) | (fastnn_bits_f64(x + x) & ~finite));
}

FASTNN_CONTRACT_OFF

/* sqrt in the dtype (outside the contraction region: the update rules that call it promise
 * NumPy's bits). */
FASTNN_INLINE float fastnn_sqrt_f32(float x) { return sqrtf(x); }
FASTNN_INLINE double fastnn_sqrt_f64(double x) { return sqrt(x); }

#endif /* FASTNN_MATH_H */
