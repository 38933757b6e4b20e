/* Activation loops for one dtype, written once: activations_simd.h instantiates them per
 * dtype (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * Each element function is branch-free (selects, not jumps) so that gcc if-converts and
 * vectorises the loop; the transcendental ones compute on a clamped copy of the input and
 * select the final value, so that lanes whose result is discarded never overflow.
 */
#include <stddef.h>

#include "fastnn_math.h"
#include "fastnn_simd.h"

#include "fastnn_dtype_begin.h"

/* A loop over one input (a) or two (a = dout, b = x or y). */
#define FASTNN_ACT_UNARY_LOOP(name)                                                           \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        (void)b;                                                                              \
        FASTNN_IVDEP for (ptrdiff_t i = 0; i < n; i++)                                        \
            out[i] = FASTNN_NAME(act_##name##_elem)(a[i], alpha);                             \
    }

#define FASTNN_ACT_BINARY_LOOP(name)                                                          \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        FASTNN_IVDEP for (ptrdiff_t i = 0; i < n; i++)                                        \
            out[i] = FASTNN_NAME(act_##name##_elem)(a[i], b[i], alpha);                       \
    }

/* ---- piecewise-linear kernels and the simple backward ones: plain IEEE arithmetic, no
 * contraction, so the results equal NumPy's bit for bit. */

/* max(x, 0); NaN propagates (the comparison is false). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_relu_elem)(FASTNN_T x, FASTNN_T alpha) {
    (void)alpha;
    return x < 0 ? (FASTNN_T)0 : x;
}
/* dout where x > 0, else 0 (gradient 0 at x == 0, like PyTorch). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_relu_backward_elem)(FASTNN_T dout, FASTNN_T x,
                                                           FASTNN_T alpha) {
    (void)alpha;
    return x > 0 ? dout : (FASTNN_T)0;
}
/* x if x > 0 else alpha * x, i.e. max(alpha * x, x) for 0 <= alpha <= 1. */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_leaky_relu_elem)(FASTNN_T x, FASTNN_T alpha) {
    return x > 0 ? x : alpha * x;
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_leaky_relu_backward_elem)(FASTNN_T dout, FASTNN_T x,
                                                                 FASTNN_T alpha) {
    return x > 0 ? dout : alpha * dout;
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_sigmoid_backward_elem)(FASTNN_T dout, FASTNN_T y,
                                                              FASTNN_T alpha) {
    (void)alpha;
    return dout * y * (1 - y);
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_tanh_backward_elem)(FASTNN_T dout, FASTNN_T y,
                                                           FASTNN_T alpha) {
    (void)alpha;
    return dout * (1 - y * y);
}

FASTNN_ACT_UNARY_LOOP(relu)
FASTNN_ACT_BINARY_LOOP(relu_backward)
FASTNN_ACT_UNARY_LOOP(leaky_relu)
FASTNN_ACT_BINARY_LOOP(leaky_relu_backward)
FASTNN_ACT_BINARY_LOOP(sigmoid_backward)
FASTNN_ACT_BINARY_LOOP(tanh_backward)

/* ---- kernels built on exp/expm1 (FMA contraction allowed) */
FASTNN_CONTRACT_ON

/* Each exp kernel is written once as three pieces, macros over a kit K of element operations
 * (S: the scalar FASTNN_T; V: a vector of them, below) so that scalar and vector code
 * compute the same operations, hence the same bits:
 *   FASTNN_ACT_<NAME>_ARG(K, a, b)              the argument (<= 0, or NaN) of exp or expm1,
 *   its kind (EXP, EXP_SCALED or EXPM1: FASTNN_<KIND>_MIN clamps it, fastnn_math.h),
 *   FASTNN_ACT_<NAME>_PART(e, alpha)            the exp part given e = exp/expm1(argument),
 *   FASTNN_ACT_<NAME>_FINISH(K, a, b, p, alpha, out)  out = the result given p, the exp part
 *                                               (statements: a kit's FASTNN_ACT_T_K values and
 *                                               FASTNN_ACT_MASK_K conditions).
 * (a, b) are (x, x) for a forward kernel, (dout, x) for ELU's backward. */
#define FASTNN_ACT_T_S FASTNN_T
#define FASTNN_ACT_MASK_S int
#define FASTNN_ACT_SEL_S(c, t, f) ((c) ? (t) : (f))
#define FASTNN_ACT_AND_S(c, d) ((c) && (d))
#define FASTNN_ACT_ABS_S(x) FASTNN_NAME(abs)(x)
#define FASTNN_ACT_NEGABS_S(x) (-FASTNN_NAME(abs)(x))
#define FASTNN_ACT_COPYSIGN_S(x, s) FASTNN_NAME(copysign)(x, s)
#define FASTNN_ACT_C_S(c) ((FASTNN_T)(c))

/* sigma(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|) <= 1: exp never
 * overflows, sigma(-1000) = 0 and sigma(1000) = 1 exactly, and for x < 0 the result keeps
 * exp's relative accuracy (subnormal results included).  Computed as 2**K / (2**K + E) and
 * E / (2**K + E) from the scaled exp E = 2**K * e (always normal, KIND EXP_SCALED): the same
 * bits as from e, one multiplication less.  (Where e is normal, e = E * 2**-K exactly and both
 * the sum and the quotient scale by a power of two; where it is not, 1 + e and 2**K + E round
 * to 1 and 2**K, and both quotients are the one rounding of E * 2**-K.) */
#define FASTNN_ACT_SIGMOID_ARG(K, a, b) FASTNN_ACT_NEGABS_##K(a)
#define FASTNN_ACT_SIGMOID_PART(e, alpha) (e)
#define FASTNN_ACT_SIGMOID_FINISH(K, a, b, e, alpha, out)                                     \
    out = FASTNN_ACT_SEL_##K((a) < FASTNN_ACT_C_##K(0), (e),                                  \
                             FASTNN_ACT_C_##K(FASTNN_MACRO(FASTNN_EXP_SCALE))) /               \
          (FASTNN_MACRO(FASTNN_EXP_SCALE) + (e));

/* tanh|x| = -t / (2 + t) with t = expm1(-2|x|) in (-1, 0]: accurate for tiny |x| (t is
 * accurate relative to itself), exactly 1 once t rounds to -1; the sign is copied back, so
 * tanh(-0.0) = -0.0 and NaN stays NaN.  Written t / (-2 - t), the same bits (rounding is
 * symmetric) without negating t. */
#define FASTNN_ACT_TANH_ARG(K, a, b) (-2 * FASTNN_ACT_ABS_##K(a))
#define FASTNN_ACT_TANH_PART(t, alpha) (t)
#define FASTNN_ACT_TANH_FINISH(K, a, b, t, alpha, out)                                        \
    out = FASTNN_ACT_COPYSIGN_##K((t) / (-2 - (t)), (a));

/* x if x > 0 else alpha * expm1(x); expm1 keeps full relative accuracy near 0 (exp(x) - 1
 * would not).  The argument is -|x|: x itself where x <= 0 (expm1(-0) = +0, as for +0),
 * a value <= 0 whose result is discarded where x > 0 (no overflow), and NaN stays NaN (its
 * sign bit set).  One bit operation: the clamp min(x, 0) it replaces was a comparison and
 * selects that gcc carried through the whole exp (docs/perf/isa_paths.md). */
#define FASTNN_ACT_ELU_ARG(K, a, b) FASTNN_ACT_NEGABS_##K(a)
#define FASTNN_ACT_ELU_PART(t, alpha) ((alpha) * (t))
#define FASTNN_ACT_ELU_FINISH(K, a, b, neg, alpha, out)                                       \
    out = FASTNN_ACT_SEL_##K((a) > FASTNN_ACT_C_##K(0), (a), (neg));

/* dout if x > 0 else dout * g, g = alpha * exp(x), the argument -|x| as in ELU's forward.
 * Where g underflows to 0 for a finite x (x below about -87 in float32, -708 in float64), the
 * true factor is still > 0, so an infinite dout gives dout * alpha (an infinity), not
 * inf * 0 = NaN; finite douts keep dout * 0 (the product rounds to 0 anyway). */
#define FASTNN_ACT_ELU_BACKWARD_ARG(K, dout, x) FASTNN_ACT_NEGABS_##K(x)
#define FASTNN_ACT_ELU_BACKWARD_PART(e, alpha) ((alpha) * (e))
#define FASTNN_ACT_ELU_BACKWARD_FINISH(K, dout, x, g, alpha, out)                             \
    {                                                                                         \
        FASTNN_ACT_MASK_##K inf_times_underflow_ = FASTNN_ACT_AND_##K(                        \
            FASTNN_ACT_AND_##K((g) == FASTNN_ACT_C_##K(0), (x) > FASTNN_ACT_C_##K(-INFINITY)), \
            FASTNN_ACT_ABS_##K(dout) == FASTNN_ACT_C_##K(INFINITY));                          \
        FASTNN_ACT_T_##K neg_ = FASTNN_ACT_SEL_##K(inf_times_underflow_, (dout) * (alpha),    \
                                                   (dout) * (g));                             \
        out = FASTNN_ACT_SEL_##K((x) > FASTNN_ACT_C_##K(0), (dout), neg_);                    \
    }

/* The scalar element functions of kernel `name`: <name>_exp (the exp/expm1 part) and
 * <name>_finish (the rest, a division or a select, given that part). */
#define FASTNN_ACT_EXP_ELEMENTS(name, NAME, kind)                                             \
    FASTNN_INLINE FASTNN_T FASTNN_NAME(act_##name##_exp)(FASTNN_T a, FASTNN_T b,              \
                                                         FASTNN_T alpha) {                    \
        (void)a, (void)b, (void)alpha;                                                        \
        return FASTNN_ACT_##NAME##_PART(FASTNN_NAME(kind##_nonpos)(FASTNN_ACT_##NAME##_ARG(S, a, b)), \
                                        alpha);                                               \
    }                                                                                         \
    FASTNN_INLINE FASTNN_T FASTNN_NAME(act_##name##_finish)(FASTNN_T a, FASTNN_T b,           \
                                                            FASTNN_T e, FASTNN_T alpha) {     \
        FASTNN_T out;                                                                         \
        (void)a, (void)b, (void)alpha;                                                        \
        FASTNN_ACT_##NAME##_FINISH(S, a, b, e, alpha, out)                                    \
        return out;                                                                           \
    }

/* The loops.  Which one a target gets was measured (docs/perf/dispatch.md and
 * docs/perf/isa_paths.md):
 * - gcc's AVX2 target: FASTNN_ACT_STEPPED, below: 4 or 6 vectors (chains) per iteration on GCC
 *   vectors, each step of the exp's reduction and scaling for all of them before the next, each
 *   polynomial in one piece (FASTNN_EXP_STEPS).  gcc vectorises the scalar loops one vector per
 *   iteration (one long dependency chain after another, latency-bound on Zen 4), keeps the
 *   copies of an unrolled loop in sequence, and spills the terms when the polynomials too are
 *   interleaved.
 * - clang (14): the plain loop interleaved four vectors deep by its vectoriser.  It keeps the
 *   pipelined loop's constants as scalars and re-broadcasts each one inside the loop, which
 *   then runs slower than its plain loop; its default plain loop (one vector per iteration)
 *   was slower than gcc's pipelined loop.
 * - gcc's AVX-512 target: the plain loop unrolled 4 deep: 32 vector registers hold the
 *   constants and four chains, and the pipelined loop's buffer costs more than it hides.
 * - others (gcc's baseline target, MSVC): the plain loop software-pipelined over blocks of
 *   FASTNN_ACT_BLOCK elements: one pass computes the exp part of block k + 1 into an L1 buffer
 *   while it finishes block k, two short dependency chains instead of one long one.
 * All compute the element functions' operations, hence the same results. */
#define FASTNN_ACT_BLOCK 256
#if defined(__GNUC__) && !defined(__clang__) && FASTNN_TARGET_ISA == FASTNN_ISA_AVX2
#define FASTNN_ACT_STEPPED 1
#elif defined(__clang__)
#define FASTNN_ACT_INTERLEAVE4 _Pragma("clang loop vectorize(assume_safety) interleave_count(4)")
#elif defined(__GNUC__) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
#define FASTNN_ACT_INTERLEAVE4 _Pragma("GCC ivdep") _Pragma("GCC unroll 4")
#endif

/* The element of out, by the scalar element functions. */
#define FASTNN_ACT_EXP_ELEMENT(name, i)                                                       \
    FASTNN_NAME(act_##name##_finish)(a[i], b2[i], FASTNN_NAME(act_##name##_exp)(a[i], b2[i], alpha), \
                                     alpha)

#if defined(FASTNN_ACT_STEPPED)
/* The vector kit V: 32-byte GCC vectors of FASTNN_T, with AVX intrinsics for the selects
 * (a comparison gives all-ones or zero lanes; gcc 12 compiles a select written on the bits
 * as three logic operations, vblendvps/vblendvpd is one) and sign operations on the bits. */
#include <immintrin.h>
typedef FASTNN_T FASTNN_NAME(act_v) __attribute__((vector_size(32)));
typedef FASTNN_UINT FASTNN_NAME(act_vu) __attribute__((vector_size(32)));
#define FASTNN_ACT_INT_F32 int32_t
#define FASTNN_ACT_INT_F64 int64_t
typedef FASTNN_MACRO(FASTNN_ACT_INT) FASTNN_NAME(act_vm) __attribute__((vector_size(32)));
#define FASTNN_ACT_T_V FASTNN_NAME(act_v)
#define FASTNN_ACT_MASK_V FASTNN_NAME(act_vm)
#define FASTNN_ACT_LANES ((ptrdiff_t)(32 / sizeof(FASTNN_T)))
/* Vectors (chains) per iteration, per kernel: 4, tanh 6 (measured: docs/perf/isa_paths.md,
 * sessions 30 and 31). */
#define FASTNN_ACT_CHAINS_SIGMOID 4
#define FASTNN_ACT_CHAINS_TANH 6
#define FASTNN_ACT_CHAINS_ELU 4
#define FASTNN_ACT_CHAINS_ELU_BACKWARD 4
#define FASTNN_ACT_SIGN ((FASTNN_UINT)1 << (FASTNN_DTYPE - 1))
#define FASTNN_ACT_BITS(v) ((FASTNN_NAME(act_vu))(v))
#if FASTNN_DTYPE == 32
#define FASTNN_ACT_SEL_V(c, t, f) ((FASTNN_NAME(act_v))_mm256_blendv_ps((f), (t), (__m256)(c)))
/* max(lo, x): lo where x < lo, else x (NaN included): the clamp x < lo ? lo : x */
#define FASTNN_ACT_CLAMP_V(x, lo) ((FASTNN_NAME(act_v))_mm256_max_ps((lo), (x)))
#else
#define FASTNN_ACT_SEL_V(c, t, f) ((FASTNN_NAME(act_v))_mm256_blendv_pd((f), (t), (__m256d)(c)))
#define FASTNN_ACT_CLAMP_V(x, lo) ((FASTNN_NAME(act_v))_mm256_max_pd((lo), (x)))
#endif
#define FASTNN_ACT_AND_V(c, d) ((c) & (d))
#define FASTNN_ACT_ABS_V(x) ((FASTNN_NAME(act_v))(FASTNN_ACT_BITS(x) & ~FASTNN_ACT_SIGN))
#define FASTNN_ACT_NEGABS_V(x) ((FASTNN_NAME(act_v))(FASTNN_ACT_BITS(x) | FASTNN_ACT_SIGN))
#define FASTNN_ACT_COPYSIGN_V(x, s)                                                           \
    ((FASTNN_NAME(act_v))((FASTNN_ACT_BITS(x) & ~FASTNN_ACT_SIGN) |                           \
                          (FASTNN_ACT_BITS(s) & FASTNN_ACT_SIGN)))
#define FASTNN_ACT_C_V(c) ((FASTNN_NAME(act_v)){0} + (FASTNN_T)(c))

#define FASTNN_ACT_EXP_KERNEL(name, NAME, kind, KIND, second)                                 \
    FASTNN_ACT_EXP_ELEMENTS(name, NAME, kind)                                                 \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        enum { C = FASTNN_ACT_CHAINS_##NAME };                                                \
        const FASTNN_T *b2 = second;                                                          \
        const FASTNN_NAME(act_v) lo = FASTNN_ACT_C_V(FASTNN_MACRO(FASTNN_##KIND##_MIN));      \
        ptrdiff_t i = 0;                                                                      \
        (void)b;                                                                              \
        for (; i + C * FASTNN_ACT_LANES <= n; i += C * FASTNN_ACT_LANES) {                    \
            FASTNN_NAME(act_v) va[C], vb[C], arg[C], e[C];                                    \
            for (int j = 0; j < C; j++) {                                                     \
                va[j] = FASTNN_LOAD_VECTOR(FASTNN_NAME(act_v), a + i + j * FASTNN_ACT_LANES); \
                vb[j] = FASTNN_LOAD_VECTOR(FASTNN_NAME(act_v), b2 + i + j * FASTNN_ACT_LANES); \
                arg[j] = FASTNN_ACT_##NAME##_ARG(V, va[j], vb[j]);                            \
                arg[j] = FASTNN_ACT_CLAMP_V(arg[j], lo);                           \
            }                                                                                 \
            (void)vb;                                                                         \
            FASTNN_EXP_STEPS(FASTNN_NAME(act_v), FASTNN_NAME(act_vu), C, KIND, arg, e)        \
            for (int j = 0; j < C; j++) {                                                     \
                FASTNN_NAME(act_v) r;                                                         \
                FASTNN_ACT_##NAME##_FINISH(V, va[j], vb[j],                                   \
                                           FASTNN_ACT_##NAME##_PART(e[j], alpha), alpha, r)   \
                memcpy(out + i + j * FASTNN_ACT_LANES, &r, sizeof r);                         \
            }                                                                                 \
        }                                                                                     \
        FASTNN_IVDEP for (; i < n; i++) out[i] = FASTNN_ACT_EXP_ELEMENT(name, i);             \
    }
#elif defined(FASTNN_ACT_INTERLEAVE4)
#define FASTNN_ACT_EXP_KERNEL(name, NAME, kind, KIND, second)                                 \
    FASTNN_ACT_EXP_ELEMENTS(name, NAME, kind)                                                 \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        const FASTNN_T *b2 = second;                                                          \
        (void)b;                                                                              \
        FASTNN_ACT_INTERLEAVE4                                                                \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = FASTNN_ACT_EXP_ELEMENT(name, i);           \
    }
#else
#define FASTNN_ACT_EXP_KERNEL(name, NAME, kind, KIND, second)                                 \
    FASTNN_ACT_EXP_ELEMENTS(name, NAME, kind)                                                 \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        const FASTNN_T *b2 = second;                                                          \
        FASTNN_T buffers[2][FASTNN_ACT_BLOCK];                                                \
        FASTNN_T *part = buffers[0], *next_part = buffers[1];                                 \
        (void)b;                                                                              \
        ptrdiff_t first = n < FASTNN_ACT_BLOCK ? n : FASTNN_ACT_BLOCK;                        \
        FASTNN_IVDEP for (ptrdiff_t i = 0; i < first; i++)                                    \
            part[i] = FASTNN_NAME(act_##name##_exp)(a[i], b2[i], alpha);                      \
        for (ptrdiff_t lo = 0; lo < n; lo += FASTNN_ACT_BLOCK) {                              \
            ptrdiff_t m = n - lo < FASTNN_ACT_BLOCK ? n - lo : FASTNN_ACT_BLOCK;              \
            ptrdiff_t next_lo = lo + FASTNN_ACT_BLOCK;                                        \
            ptrdiff_t m_next = n <= next_lo ? 0 : n - next_lo < m ? n - next_lo : m;          \
            FASTNN_IVDEP for (ptrdiff_t i = 0; i < m_next; i++) {                             \
                next_part[i] = FASTNN_NAME(act_##name##_exp)(a[next_lo + i],                  \
                                                             b2[next_lo + i], alpha);         \
                out[lo + i] = FASTNN_NAME(act_##name##_finish)(a[lo + i], b2[lo + i],         \
                                                               part[i], alpha);               \
            }                                                                                 \
            FASTNN_IVDEP for (ptrdiff_t i = m_next; i < m; i++)                               \
                out[lo + i] = FASTNN_NAME(act_##name##_finish)(a[lo + i], b2[lo + i],         \
                                                               part[i], alpha);               \
            FASTNN_T *done = part;                                                            \
            part = next_part;                                                                 \
            next_part = done;                                                                 \
        }                                                                                     \
    }
#endif

FASTNN_ACT_EXP_KERNEL(sigmoid, SIGMOID, exp_scaled, EXP_SCALED, a)
FASTNN_ACT_EXP_KERNEL(tanh, TANH, expm1, EXPM1, a)
FASTNN_ACT_EXP_KERNEL(elu, ELU, expm1, EXPM1, a)
FASTNN_ACT_EXP_KERNEL(elu_backward, ELU_BACKWARD, exp, EXP, b)

FASTNN_CONTRACT_OFF

/* y[i] = max_j z[i, j], idx[i] = the first j reaching it (the first NaN wins, like
 * np.argmax), for z of shape (m, k) with k >= 1.  The row loop is written once; with k a
 * compile-time constant (the common 2, 3, 4) gcc unrolls the j loop and vectorises across
 * rows with strided loads, which the general-k loop cannot do. */
FASTNN_INLINE void FASTNN_NAME(act_maxout_rows)(const FASTNN_T *z, FASTNN_T *y, ptrdiff_t *idx,
                                                ptrdiff_t m, ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < m; i++) {
        const FASTNN_T *row = z + i * k;
        FASTNN_T best = row[0];
        ptrdiff_t bi = 0;
        for (ptrdiff_t j = 1; j < k; j++) {
            /* take v if v > best or v is NaN, unless best is already NaN; written as plain
             * selects (a combined (a > b) | (c != c) mask stops gcc from vectorising) */
            FASTNN_T v = row[j];
            int keep = best != best;
            FASTNN_T nb = v <= best ? best : v;
            ptrdiff_t ni = v <= best ? bi : j;
            bi = keep ? bi : ni;
            best = keep ? best : nb;
        }
        y[i] = best;
        idx[i] = bi;
    }
}

static void FASTNN_NAME(act_maxout)(const FASTNN_T *z, FASTNN_T *y, ptrdiff_t *idx, ptrdiff_t m,
                                    ptrdiff_t k) {
    switch (k) {
    case 2: FASTNN_NAME(act_maxout_rows)(z, y, idx, m, 2); break;
    case 3: FASTNN_NAME(act_maxout_rows)(z, y, idx, m, 3); break;
    case 4: FASTNN_NAME(act_maxout_rows)(z, y, idx, m, 4); break;
    default: FASTNN_NAME(act_maxout_rows)(z, y, idx, m, k);
    }
}

/* dz[i, j] = dout[i] if j == idx[i] else 0, for dz of shape (m, k): every element is written
 * in one streaming pass (no zero-fill pass first); idx already checked to be in [0, k).
 * Constant k (2, 3, 4: the usual maxout widths) lets gcc vectorise the row. */
FASTNN_INLINE void FASTNN_NAME(act_maxout_backward_rows)(const FASTNN_T *dout,
                                                         const ptrdiff_t *idx, FASTNN_T *dz,
                                                         ptrdiff_t m, ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < m; i++) {
        FASTNN_T *row = dz + i * k;
        for (ptrdiff_t j = 0; j < k; j++) row[j] = (FASTNN_T)0;
        row[idx[i]] = dout[i];
    }
}

static void FASTNN_NAME(act_maxout_backward)(const FASTNN_T *dout, const ptrdiff_t *idx,
                                             FASTNN_T *dz, ptrdiff_t m, ptrdiff_t k) {
    switch (k) {
    case 2: FASTNN_NAME(act_maxout_backward_rows)(dout, idx, dz, m, 2); break;
    case 3: FASTNN_NAME(act_maxout_backward_rows)(dout, idx, dz, m, 3); break;
    case 4: FASTNN_NAME(act_maxout_backward_rows)(dout, idx, dz, m, 4); break;
    default: FASTNN_NAME(act_maxout_backward_rows)(dout, idx, dz, m, k);
    }
}

#undef FASTNN_ACT_UNARY_LOOP
#undef FASTNN_ACT_BINARY_LOOP
#undef FASTNN_ACT_EXP_KERNEL
#undef FASTNN_ACT_EXP_ELEMENTS
#undef FASTNN_ACT_EXP_ELEMENT
#undef FASTNN_ACT_BLOCK
#undef FASTNN_ACT_INTERLEAVE4
#undef FASTNN_ACT_STEPPED
#undef FASTNN_ACT_LANES
#undef FASTNN_ACT_CHAINS_SIGMOID
#undef FASTNN_ACT_CHAINS_TANH
#undef FASTNN_ACT_CHAINS_ELU
#undef FASTNN_ACT_CHAINS_ELU_BACKWARD
#undef FASTNN_ACT_SIGN
#undef FASTNN_ACT_BITS
#undef FASTNN_ACT_SEL_V
#undef FASTNN_ACT_CLAMP_V
#undef FASTNN_ACT_AND_V
#undef FASTNN_ACT_ABS_V
#undef FASTNN_ACT_NEGABS_V
#undef FASTNN_ACT_COPYSIGN_V
#undef FASTNN_ACT_C_V
#undef FASTNN_ACT_T_V
#undef FASTNN_ACT_MASK_V
#undef FASTNN_ACT_T_S
#undef FASTNN_ACT_MASK_S
#undef FASTNN_ACT_SEL_S
#undef FASTNN_ACT_AND_S
#undef FASTNN_ACT_ABS_S
#undef FASTNN_ACT_NEGABS_S
#undef FASTNN_ACT_COPYSIGN_S
#undef FASTNN_ACT_C_S
#undef FASTNN_ACT_SIGMOID_ARG
#undef FASTNN_ACT_SIGMOID_FINISH
#undef FASTNN_ACT_TANH_ARG
#undef FASTNN_ACT_TANH_FINISH
#undef FASTNN_ACT_ELU_ARG
#undef FASTNN_ACT_ELU_FINISH
#undef FASTNN_ACT_ELU_BACKWARD_ARG
#undef FASTNN_ACT_ELU_BACKWARD_FINISH
#undef FASTNN_ACT_ELU_BACKWARD_PART
#undef FASTNN_ACT_ELU_PART
#undef FASTNN_ACT_TANH_PART
#undef FASTNN_ACT_SIGMOID_PART

#include "fastnn_dtype_end.h"
