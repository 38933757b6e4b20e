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

/* Each exp kernel is two element functions of (a[i], b[i]): <name>_exp, the exp/expm1 part,
 * and <name>_finish, the rest (a division, a select) given that part.  Their loop is
 * software-pipelined over blocks of FASTNN_ACT_BLOCK elements: one pass computes the exp part
 * of block k + 1 into an L1 buffer while it finishes block k.  A pass then holds two short
 * dependency chains instead of one long one, so the out-of-order core keeps more elements in
 * flight (the plain loop is latency-bound: the chain from load to store is longer than the
 * reorder buffer covers).  The element operations, hence the results, are the plain loop's.
 * A unary kernel passes `a` again as its second input. */
#define FASTNN_ACT_BLOCK 256

/* Where the pipelined loop does not pay, the plain loop over the same element functions (same
 * results), interleaved four vectors deep: four independent chains per iteration keep more
 * elements in flight, and each constant serves four vectors.
 * - clang (14) keeps the two parts' constants as scalars and re-broadcasts each one inside the
 *   pipelined loop, which then runs slower than its plain loop; its default plain loop (one
 *   vector per iteration) was slower than gcc's pipelined loop.
 * - gcc's AVX-512 target: 32 vector registers hold the constants and four chains, and the
 *   buffer's extra stores and loads cost more than they hide.
 * (Timings: docs/perf/dispatch.md and docs/perf/isa_paths.md.) */
#if defined(__clang__)
#define FASTNN_ACT_INTERLEAVE4 _Pragma("clang loop vectorize(assume_safety) interleave_count(4)")
#elif defined(__GNUC__) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
#define FASTNN_ACT_INTERLEAVE4 _Pragma("GCC ivdep") _Pragma("GCC unroll 4")
#endif
#if defined(FASTNN_ACT_INTERLEAVE4)
#define FASTNN_ACT_EXP_LOOP(name, second)                                                       \
    static void FASTNN_NAME(act_##name)(const FASTNN_T *a, const FASTNN_T *b, FASTNN_T *out, \
                                        ptrdiff_t n, FASTNN_T alpha) {                        \
        const FASTNN_T *b2 = second;                                                          \
        (void)b;                                                                              \
        FASTNN_ACT_INTERLEAVE4                                                                \
        for (ptrdiff_t i = 0; i < n; i++) out[i] =                                            \
            FASTNN_NAME(act_##name##_finish)(a[i], b2[i],                                     \
                                             FASTNN_NAME(act_##name##_exp)(a[i], b2[i], alpha), \
                                             alpha);                                          \
    }
#else
#define FASTNN_ACT_EXP_LOOP(name, second)                                                       \
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

/* sigma(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|) <= 1: exp never
 * overflows, sigma(-1000) = 0 and sigma(1000) = 1 exactly, and for x < 0 the result keeps
 * exp's relative accuracy (subnormal results included). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_sigmoid_exp)(FASTNN_T x, FASTNN_T x_again,
                                                    FASTNN_T alpha) {
    (void)x_again;
    (void)alpha;
    return FASTNN_NAME(exp_nonpos)(-FASTNN_NAME(abs)(x));
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_sigmoid_finish)(FASTNN_T x, FASTNN_T x_again, FASTNN_T e,
                                                       FASTNN_T alpha) {
    (void)x_again;
    (void)alpha;
    return (x < 0 ? e : (FASTNN_T)1) / (1 + e);
}

/* tanh|x| = -t / (2 + t) with t = expm1(-2|x|) in (-1, 0]: accurate for tiny |x| (t is
 * accurate relative to itself), exactly 1 once t rounds to -1; the sign is copied back, so
 * tanh(-0.0) = -0.0 and NaN stays NaN. */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_tanh_exp)(FASTNN_T x, FASTNN_T x_again, FASTNN_T alpha) {
    (void)x_again;
    (void)alpha;
    return FASTNN_NAME(expm1_nonpos)(-2 * FASTNN_NAME(abs)(x));
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_tanh_finish)(FASTNN_T x, FASTNN_T x_again, FASTNN_T t,
                                                    FASTNN_T alpha) {
    (void)x_again;
    (void)alpha;
    return FASTNN_NAME(copysign)(-t / (2 + t), x);
}

/* x if x > 0 else alpha * expm1(x); expm1 keeps full relative accuracy near 0 (exp(x) - 1
 * would not).  The exp part takes -|x|: x itself where x <= 0 (expm1(-0) = +0, as for +0),
 * a value <= 0 whose result is discarded where x > 0 (no overflow), and NaN stays NaN (its
 * sign bit set).  One bit operation: the clamp min(x, 0) it replaces was a comparison and
 * selects that gcc carried through the whole exp (docs/perf/isa_paths.md). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_elu_exp)(FASTNN_T x, FASTNN_T x_again, FASTNN_T alpha) {
    (void)x_again;
    return alpha * FASTNN_NAME(expm1_nonpos)(-FASTNN_NAME(abs)(x));
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_elu_finish)(FASTNN_T x, FASTNN_T x_again, FASTNN_T neg,
                                                   FASTNN_T alpha) {
    (void)x_again;
    (void)alpha;
    return x > 0 ? x : neg;
}

/* dout if x > 0 else dout * (alpha * exp(x)), the exp part on -|x| as in ELU's forward.  Where
 * alpha * exp(x) underflows to 0 for a finite x (x below about -87 in float32, -708 in
 * float64), the true factor is still > 0, so
 * an infinite dout gives dout * alpha (an infinity), not inf * 0 = NaN; finite douts keep
 * dout * 0 (the product rounds to 0 anyway). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_elu_backward_exp)(FASTNN_T dout, FASTNN_T x,
                                                         FASTNN_T alpha) {
    (void)dout;
    return alpha * FASTNN_NAME(exp_nonpos)(-FASTNN_NAME(abs)(x));
}
FASTNN_INLINE FASTNN_T FASTNN_NAME(act_elu_backward_finish)(FASTNN_T dout, FASTNN_T x,
                                                            FASTNN_T g, FASTNN_T alpha) {
    int inf_times_underflow = g == 0 && x > -(FASTNN_T)INFINITY &&
                              FASTNN_NAME(abs)(dout) == (FASTNN_T)INFINITY;
    FASTNN_T neg = inf_times_underflow ? dout * alpha : dout * g;
    return x > 0 ? dout : neg;
}

FASTNN_ACT_EXP_LOOP(sigmoid, a)
FASTNN_ACT_EXP_LOOP(tanh, a)
FASTNN_ACT_EXP_LOOP(elu, a)
FASTNN_ACT_EXP_LOOP(elu_backward, b)

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
#undef FASTNN_ACT_EXP_LOOP
#undef FASTNN_ACT_BLOCK
#undef FASTNN_ACT_INTERLEAVE4

#include "fastnn_dtype_end.h"
