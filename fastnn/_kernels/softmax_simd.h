/* Row kernels for softmax, log-softmax and the fused softmax cross-entropy loss + gradient.
 *
 * Design (see fastnn/_kernels/softmax.pyx for the Python-facing side):
 *
 * - Rows are processed in blocks of about FASTNN_SM_BLOCK elements so that a block's
 *   intermediate values stay in L1.  Per block: (A) per row, the max m and x - m (written
 *   into the output), (B) one flat loop of exp over the whole block, (C) per row, the sum of
 *   the exps in double and the final scaling.  The flat exp loop (B) is what makes small C
 *   (the lecture notes' 10 classes) fast: it vectorises over rows instead of over a 10-wide
 *   row.
 * - Rows of C >= FASTNN_SM_WIDE (where FASTNN_SM_WIDE_ROWS_<sfx>) go one at a time through
 *   three fused passes instead (max; exp written out with the sum accumulated on the fly;
 *   scaling), on 64-byte vectors, with the next row prefetched: 1.45-1.6x faster than the
 *   block scheme at C = 1000 (it does two fewer passes and no float -> double copy).
 * - exp is fastnn_math.h's exp for arguments <= 0 (always the case after the max shift):
 *   branch-free selects and a bit-level 2^n, so compilers vectorise it in every ISA target
 *   (softmax_target.c) without -ffast-math; the wide rows run the same operations on GCC
 *   vectors.  Subnormal results are kept, as np.exp keeps them.
 * - Reductions (row max, row sums) are written over explicit vectors with independent
 *   accumulators and reduced in a fixed order (see below), so they vectorise without
 *   reassociation and do not depend on the CPU clone.  The per-row log1p is a branch-free
 *   polynomial evaluated over a block's rows at once (a libm call per row cost a third of the
 *   time at C = 10).
 * - Accuracy: row sums are in double for both dtypes (the loss too).  log(sum) is computed as
 *   log1p(sum - 1), and when sum - 1 is small it is recomputed as (count of entries equal to
 *   exactly 1, i.e. the max, minus 1) + (sum of the others), so that log(sum) and the label
 *   gradient p_y - 1 = ((e_y - 1) - (sum - 1)) / sum lose no digits when the correct class
 *   dominates (a loss of 1e-10 keeps full relative accuracy).
 * - Non-finite rows need no branch: NaN anywhere, +inf anywhere, or a row of only -inf all
 *   make the row sum NaN, hence an all-NaN row of outputs and a NaN loss (like the NumPy
 *   twin).  -inf entries in an otherwise finite row have probability 0 (log-prob -inf); a
 *   -inf score at the label gives loss +inf with a finite gradient.
 */
#ifndef FASTNN_SOFTMAX_SIMD_H
#define FASTNN_SOFTMAX_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastnn_cpu.h"
#include "fastnn_math.h"
#include "fastnn_simd.h"

/* The polynomials below are 20% faster with fused multiply-adds and no less accurate. */
FASTNN_CONTRACT_ON
/* The 64-byte vectors below stay inside always-inline functions of this file, so the ABI
 * note the compiler gives for passing them by value does not concern us. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Elements per block (float64: 16 KiB of exps, well inside L1 with the inputs streaming). */
#define FASTNN_SM_BLOCK 2048
/* At most this many rows per block (the per-row scratch arrays). */
#define FASTNN_SM_ROWS 512

/* exp of the shifted scores (x - max <= 0, or NaN) and the log-sum-exp's log1p: the one math
 * layer (fastnn_math.h). */
#define fastnn_sm_exp_f32 fastnn_exp_nonpos_f32
#define fastnn_sm_exp_f64 fastnn_exp_nonpos_f64

static inline fastnn_index fastnn_sm_block_rows(fastnn_index C) {
    fastnn_index rows = FASTNN_SM_BLOCK / C;
    return rows < 1 ? 1 : (rows > FASTNN_SM_ROWS ? FASTNN_SM_ROWS : rows);
}

/* Row reductions of the block scheme (C < FASTNN_SM_WIDE).  Floating-point reductions only
 * vectorise if the compiler may reorder them, which it may not without -ffast-math; so with
 * GCC/clang vector extensions they are written over 16-byte vectors with four independent
 * accumulators (one accumulator would be latency-bound), combined in a fixed order, so that
 * the result does not depend on the CPU clone's vector width (the wide-row path below uses
 * 64-byte vectors, which gcc splits for narrower clones).  Other compilers get scalar loops.
 *
 * The block scheme's row sums are taken over double copies of the exps (written by the exp
 * loop, where the float -> double conversion vectorises at the clone's full width).
 *
 * For small C (the lecture notes' 10 classes) a row is too short for vectors; the *4
 * variants reduce four consecutive rows in one interleaved scalar loop instead, so that four
 * independent dependency chains are in flight. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(FASTNN_SM_NO_VECTOR)
#define FASTNN_SM_VECTOR 1
#endif

#ifdef FASTNN_SM_VECTOR
typedef float fastnn_vf32 __attribute__((vector_size(16)));
typedef int32_t fastnn_vif32 __attribute__((vector_size(16)));
typedef double fastnn_vf64 __attribute__((vector_size(16)));
typedef int64_t fastnn_vif64 __attribute__((vector_size(16)));

#define FASTNN_SM_VMAX(VT, VI, acc, v)                                                       \
    do {                                                                                     \
        VI gt_ = (v) > (acc);                                                                \
        (acc) = (VT)(((VI)(v) & gt_) | ((VI)(acc) & ~gt_));                                  \
    } while (0)

#define FASTNN_SM_ROWMAX(T, SFX)                                                             \
FASTNN_INLINE T fastnn_sm_rowmax_##SFX(const T *x, fastnn_index C) {                      \
    typedef fastnn_v##SFX VT;                                                                \
    typedef fastnn_vi##SFX VI;                                                               \
    enum { W = 16 / sizeof(T) };                                                             \
    fastnn_index j = 0;                                                                      \
    T m = x[0];                                                                              \
    if (C >= 4 * W) {                                                                        \
        VT a0, a1, a2, a3, v0, v1, v2, v3;                                                   \
        memcpy(&a0, x, 16); memcpy(&a1, x + W, 16);                                          \
        memcpy(&a2, x + 2 * W, 16); memcpy(&a3, x + 3 * W, 16);                              \
        for (j = 4 * W; j + 4 * W <= C; j += 4 * W) {                                        \
            memcpy(&v0, x + j, 16); memcpy(&v1, x + j + W, 16);                              \
            memcpy(&v2, x + j + 2 * W, 16); memcpy(&v3, x + j + 3 * W, 16);                  \
            FASTNN_SM_VMAX(VT, VI, a0, v0); FASTNN_SM_VMAX(VT, VI, a1, v1);                  \
            FASTNN_SM_VMAX(VT, VI, a2, v2); FASTNN_SM_VMAX(VT, VI, a3, v3);                  \
        }                                                                                    \
        FASTNN_SM_VMAX(VT, VI, a0, a1); FASTNN_SM_VMAX(VT, VI, a2, a3);                      \
        FASTNN_SM_VMAX(VT, VI, a0, a2);                                                      \
        m = a0[0];                                                                           \
        for (int k = 1; k < W; k++) m = a0[k] > m ? a0[k] : m;                               \
    }                                                                                        \
    for (; j < C; j++) m = x[j] > m ? x[j] : m;                                              \
    return m;                                                                                \
}

/* Sum of a row of doubles. */
FASTNN_INLINE double fastnn_sm_rowsum(const double *e, fastnn_index C) {
    fastnn_index j = 0;
    double s = 0.0;
    if (C >= 8) {
        fastnn_vf64 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
        for (; j + 8 <= C; j += 8) {
            memcpy(&v0, e + j, 16); memcpy(&v1, e + j + 2, 16);
            memcpy(&v2, e + j + 4, 16); memcpy(&v3, e + j + 6, 16);
            a0 += v0; a1 += v1; a2 += v2; a3 += v3;
        }
        a0 += a1;
        a2 += a3;
        a0 += a2;
        s = a0[0] + a0[1];
    }
    for (; j < C; j++) s += e[j];
    return s;
}
#else
#define FASTNN_SM_ROWMAX(T, SFX)                                                             \
FASTNN_INLINE T fastnn_sm_rowmax_##SFX(const T *x, fastnn_index C) {                      \
    T m = x[0];                                                                              \
    for (fastnn_index j = 1; j < C; j++) m = x[j] > m ? x[j] : m;                            \
    return m;                                                                                \
}

FASTNN_INLINE double fastnn_sm_rowsum(const double *e, fastnn_index C) {
    double s = 0.0;
    for (fastnn_index j = 0; j < C; j++) s += e[j];
    return s;
}
#endif

/* sum(e) - 1 without cancellation, for rows whose max dominates (the max's exp is exactly 1,
 * so the count of ones minus 1 plus the sum of the other entries is exact to rounding).  The
 * entries e are x itself when exps is 1 (exps already computed), else exp(x - m) (the wide
 * log_softmax, which does not keep them). */
#define FASTNN_SM_SUM_MINUS_ONE(T, SFX)                                                      \
FASTNN_INLINE double fastnn_sm_sum_minus_one_##SFX(const T *x, T m, fastnn_index C,       \
                                                      int exps) {                            \
    double ones = 0.0, rest = 0.0;                                                           \
    for (fastnn_index j = 0; j < C; j++) {                                                   \
        double e = (double)(exps ? x[j] : fastnn_sm_exp_##SFX(x[j] - m));                    \
        if (e == 1.0) ones += 1.0;                                                           \
        else rest += e;                                                                      \
    }                                                                                        \
    return (ones - 1.0) + rest;                                                              \
}
FASTNN_SM_SUM_MINUS_ONE(float, f32)
FASTNN_SM_SUM_MINUS_ONE(double, f64)

/* Per-row sums of a block of rows of doubles; sm1 = sum - 1 computed without cancellation
 * when the sum is close to 1 (log1p(sm1) is the log-sum-exp after the max shift). */
FASTNN_INLINE void fastnn_sm_block_sums(const double *e, fastnn_index rows, fastnn_index C,
                                           double *sum, double *sm1) {
    fastnn_index i = 0;
    if (C < 8) {
        for (; i + 4 <= rows; i += 4) {
            const double *e0 = e + i * C, *e1 = e0 + C, *e2 = e1 + C, *e3 = e2 + C;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            for (fastnn_index j = 0; j < C; j++) {
                s0 += e0[j]; s1 += e1[j]; s2 += e2[j]; s3 += e3[j];
            }
            sum[i] = s0; sum[i + 1] = s1; sum[i + 2] = s2; sum[i + 3] = s3;
        }
    }
    for (; i < rows; i++) sum[i] = fastnn_sm_rowsum(e + i * C, C);
    for (i = 0; i < rows; i++) {
        double d = sum[i] - 1.0;
        /* below 1e-3 the rounding of sum (~C * 1e-16) would show in sm1's relative error */
        sm1[i] = d < 1e-3 ? fastnn_sm_sum_minus_one_f64(e + i * C, 0.0, C, 1) : d;
    }
}

/* Block exps: v[k] = exp(d[k]) for the n entries (v may be d: each iteration reads and writes
 * its own index only, hence FASTNN_IVDEP), and the double values that the row sums read (a
 * converted copy in wide for float, v itself for double). */
FASTNN_INLINE const double *fastnn_sm_exp_block_f32(const float *d, float *v, double *wide,
                                                       fastnn_index n) {
    FASTNN_IVDEP for (fastnn_index k = 0; k < n; k++) {
        float e = fastnn_sm_exp_f32(d[k]);
        v[k] = e;
        wide[k] = (double)e;
    }
    return wide;
}
FASTNN_INLINE const double *fastnn_sm_exp_block_f64(const double *d, double *v,
                                                       double *wide, fastnn_index n) {
    (void)wide;
    FASTNN_IVDEP for (fastnn_index k = 0; k < n; k++) v[k] = fastnn_sm_exp_f64(d[k]);
    return v;
}

/* Small C: the max of the four rows x, x + C, x + 2C, x + 3C at once. */
#define FASTNN_SM_ROWMAX4(T, SFX)                                                            \
FASTNN_INLINE void fastnn_sm_rowmax4_##SFX(const T *x, fastnn_index C, T *m) {            \
    const T *x1 = x + C, *x2 = x + 2 * C, *x3 = x + 3 * C;                                   \
    T m0 = x[0], m1 = x1[0], m2 = x2[0], m3 = x3[0];                                         \
    for (fastnn_index j = 1; j < C; j++) {                                                   \
        m0 = x[j] > m0 ? x[j] : m0;                                                          \
        m1 = x1[j] > m1 ? x1[j] : m1;                                                        \
        m2 = x2[j] > m2 ? x2[j] : m2;                                                        \
        m3 = x3[j] > m3 ? x3[j] : m3;                                                        \
    }                                                                                        \
    m[0] = m0; m[1] = m1; m[2] = m2; m[3] = m3;                                              \
}

/* The wide-row scheme below only where it measured faster than the block scheme, per dtype
 * (FASTNN_SM_WIDE_ROWS_<sfx>): AVX-512 targets, and float32 in clang's builds.  gcc 12
 * compiles its 64-byte vector code for AVX2 and SSE2 into shuffles through the stack (the
 * block scheme was about 2x faster there), and clang's float64 wide rows were slower than
 * its block scheme (see docs/perf/dispatch.md). */
#if defined(FASTNN_SM_VECTOR) && defined(FASTNN_TARGET_ISA) &&                               \
    FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
#define FASTNN_SM_WIDE_ROWS_f32 1
#define FASTNN_SM_WIDE_ROWS_f64 1
#elif defined(FASTNN_SM_VECTOR) && defined(__clang__)
#define FASTNN_SM_WIDE_ROWS_f32 1
#define FASTNN_SM_WIDE_ROWS_f64 0
#else
#define FASTNN_SM_WIDE_ROWS_f32 0
#define FASTNN_SM_WIDE_ROWS_f64 0
#endif
#if FASTNN_SM_WIDE_ROWS_f32 || FASTNN_SM_WIDE_ROWS_f64
#define FASTNN_SM_WIDE_ROWS 1
#endif

#ifdef FASTNN_SM_WIDE_ROWS
/* Wide rows (C >= FASTNN_SM_WIDE, vector extensions only): one row at a time in three
 * passes, the row staying in L1 after the first: (1) the max, (2) e = exp(x - m) written to
 * out with the sum accumulated in double on the fly, (3) the scaling.  The loops work on
 * 64-byte vectors (one AVX-512 register, two AVX2 or four SSE2 ones: gcc splits them for the
 * narrower clones), 16 lanes per step for both dtypes, and every reduction combines its lanes
 * in a fixed order, so the reductions do not depend on the clone's width (the exp itself
 * uses FMA in the clones that have it, so its last bit can).  While a row is being worked
 * on, the next row of x is prefetched so that memory streams under the arithmetic. */
#define FASTNN_SM_WIDE 128

typedef float fastnn_w16f __attribute__((vector_size(64)));
typedef int32_t fastnn_w16i __attribute__((vector_size(64)));
typedef double fastnn_w8d __attribute__((vector_size(64)));
typedef int64_t fastnn_w8l __attribute__((vector_size(64)));
typedef uint32_t fastnn_w16u __attribute__((vector_size(64)));
typedef uint64_t fastnn_w8u __attribute__((vector_size(64)));

/* mask ? a : b, lane-wise, for a mask of all-ones / all-zeros lanes */
#define FASTNN_SM_SELECT(VT, VI, mask, a, b) ((VT)(((VI)(a) & (mask)) | ((VI)(b) & ~(mask))))

/* a > b lane-wise (all-ones / all-zeros lanes), compared in two 32-byte halves.  gcc 12 turns
 * a 64-byte vector comparison into scalar code in targets without AVX-512 (the AVX2 wide
 * softmax ran at about NumPy's speed); compared in halves it is one AVX2 comparison each.  On
 * AVX-512 the halves are slower than whole comparisons, so each target compiles the form that
 * suits it (see docs/perf/dispatch.md for the measurements). */
#if defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
#define FASTNN_SM_COMPARE_IN_HALVES 0
#else
#define FASTNN_SM_COMPARE_IN_HALVES 1
#endif
#define FASTNN_SM_DEFINE_GT(SFX, VT, VI, HT, HI)                                             \
FASTNN_INLINE VI fastnn_sm_gt_##SFX(VT a, VT b) {                                            \
    HT a0, a1, b0, b1;                                                                       \
    memcpy(&a0, &a, 32); memcpy(&a1, (const char *)&a + 32, 32);                             \
    memcpy(&b0, &b, 32); memcpy(&b1, (const char *)&b + 32, 32);                             \
    HI m0 = a0 > b0, m1 = a1 > b1;                                                           \
    VI m;                                                                                    \
    memcpy(&m, &m0, 32); memcpy((char *)&m + 32, &m1, 32);                                   \
    return m;                                                                                \
}
typedef float fastnn_w8f __attribute__((vector_size(32)));
typedef int32_t fastnn_w8i __attribute__((vector_size(32)));
typedef double fastnn_w4d __attribute__((vector_size(32)));
typedef int64_t fastnn_w4l __attribute__((vector_size(32)));
FASTNN_SM_DEFINE_GT(f32, fastnn_w16f, fastnn_w16i, fastnn_w8f, fastnn_w8i)
FASTNN_SM_DEFINE_GT(f64, fastnn_w8d, fastnn_w8l, fastnn_w4d, fastnn_w4l)

/* fastnn_exp_nonpos_f32 on 16 lanes (the same operations, so the same results). */
FASTNN_INLINE fastnn_w16f fastnn_sm_vexp_f32(fastnn_w16f x, int halves) {
    const fastnn_w16f lo = (fastnn_w16f){0} + FASTNN_EXP_MIN_F32;
    fastnn_w16i below = halves ? fastnn_sm_gt_f32(lo, x) : x < lo;
    fastnn_w16f xc = FASTNN_SM_SELECT(fastnn_w16f, fastnn_w16i, below, lo, x);
    FASTNN_EXPM1_REDUCED_F32(fastnn_w16f, xc, kd, q)
    fastnn_w16f s = (fastnn_w16f)(((fastnn_w16u)kd - FASTNN_EXP_SHIFT_BITS_F32 + 127u + 32u)
                                  << 23); /* unsigned: wraps */
    return (s + s * q) * 0x1p-32f;
}

/* fastnn_exp_nonpos_f64 on 8 lanes. */
FASTNN_INLINE fastnn_w8d fastnn_sm_vexp_f64(fastnn_w8d x, int halves) {
    const fastnn_w8d lo = (fastnn_w8d){0} + FASTNN_EXP_MIN_F64;
    fastnn_w8l below = halves ? fastnn_sm_gt_f64(lo, x) : x < lo;
    fastnn_w8d xc = FASTNN_SM_SELECT(fastnn_w8d, fastnn_w8l, below, lo, x);
    FASTNN_EXPM1_REDUCED_F64(fastnn_w8d, xc, kd, q)
    fastnn_w8d s = (fastnn_w8d)(((fastnn_w8u)kd - FASTNN_EXP_SHIFT_BITS_F64 + 1023u + 64u)
                                << 52);
    return (s + s * q) * 0x1p-64;
}

/* The exp pass in steps of 16 elements: out[0:16] = exp(x[0:16] - m) (if store), with the
 * exps added in double to 16 lane accumulators (lo: lanes 0-7, hi: 8-15).  gcc's
 * float -> double vector conversion goes through 16-byte pieces (a quarter of the pass when
 * done every step), so float32 converts once per eight steps: the exps of lanes l of eight
 * consecutive steps (all in [0, 1]) are added in float first, pairwise.  That is three
 * roundings of at most half an ulp of a partial sum, comparable to the ~1 ulp of the exps
 * themselves (softmax of C = 1000 float32 logits: at most 1 ulp more than with a double
 * sum); the row sum, its log and the loss stay in double. */
FASTNN_INLINE fastnn_w16f fastnn_sm_exp16_f32(const float *x, float m, float *out,
                                                 int store, int halves) {
    fastnn_w16f v;
    memcpy(&v, x, sizeof v);
    fastnn_w16f e = fastnn_sm_vexp_f32(v - m, halves);
    if (store) memcpy(out, &e, sizeof e);
    return e;
}
FASTNN_INLINE void fastnn_sm_add16_f32(fastnn_w16f e, fastnn_w8d *lo, fastnn_w8d *hi) {
    fastnn_w8f half;
    memcpy(&half, &e, sizeof half);
    *lo += __builtin_convertvector(half, fastnn_w8d);
    memcpy(&half, (const char *)&e + sizeof half, sizeof half);
    *hi += __builtin_convertvector(half, fastnn_w8d);
}
/* Whole steps of 16 from j to C; returns the new j. */
FASTNN_INLINE fastnn_index fastnn_sm_exp_steps_f32(const float *x, float m, float *out,
                                                      fastnn_index j, fastnn_index C,
                                                      int store, int halves,
                                                      fastnn_w8d *lo, fastnn_w8d *hi) {
    for (; j + 128 <= C; j += 128) {
        fastnn_w16f e[8];
        for (int q = 0; q < 8; q++)
            e[q] = fastnn_sm_exp16_f32(x + j + 16 * q, m, out + j + 16 * q, store, halves);
        fastnn_sm_add16_f32(((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7])),
                            lo, hi);
    }
    for (; j + 16 <= C; j += 16)
        fastnn_sm_add16_f32(fastnn_sm_exp16_f32(x + j, m, out + j, store, halves), lo, hi);
    return j;
}
FASTNN_INLINE fastnn_index fastnn_sm_exp_steps_f64(const double *x, double m, double *out,
                                                      fastnn_index j, fastnn_index C,
                                                      int store, int halves,
                                                      fastnn_w8d *lo, fastnn_w8d *hi) {
    for (; j + 16 <= C; j += 16) {
        fastnn_w8d v0, v1;
        memcpy(&v0, x + j, sizeof v0);
        memcpy(&v1, x + j + 8, sizeof v1);
        fastnn_w8d e0 = fastnn_sm_vexp_f64(v0 - m, halves);
        fastnn_w8d e1 = fastnn_sm_vexp_f64(v1 - m, halves);
        if (store) {
            memcpy(out + j, &e0, sizeof e0);
            memcpy(out + j + 8, &e1, sizeof e1);
        }
        *lo += e0;
        *hi += e1;
    }
    return j;
}

FASTNN_INLINE void fastnn_sm_prefetch_row(const void *row, size_t bytes) {
    for (size_t k = 0; k < bytes; k += 64) __builtin_prefetch((const char *)row + k, 0, 3);
}

/* acc = max(acc, v) for 64-byte vectors (see fastnn_sm_gt_*) */
#define FASTNN_SM_WVMAX(SFX, VT, VI, acc, v)                                                 \
    do {                                                                                     \
        VI gt_ = halves ? fastnn_sm_gt_##SFX((v), (acc)) : (VI)((v) > (acc));                \
        (acc) = FASTNN_SM_SELECT(VT, VI, gt_, (v), (acc));                                   \
    } while (0)

/* acc = max(acc, the vector at p) */
#define FASTNN_SM_WMAX(SFX, VT, VI, acc, p)                                                  \
    do {                                                                                     \
        VT v_;                                                                               \
        memcpy(&v_, (p), sizeof v_);                                                         \
        FASTNN_SM_WVMAX(SFX, VT, VI, acc, v_);                                               \
    } while (0)

#define FASTNN_SM_DEFINE_WIDE(T, SFX, VT, VI)                                                \
FASTNN_INLINE T fastnn_sm_wide_max_##SFX(const T *x, fastnn_index C, int halves) {       \
    enum { W = 64 / sizeof(T) };                                                             \
    VT acc, a1, a2, a3;                                                                      \
    memcpy(&acc, x, sizeof acc);                                                             \
    fastnn_index j = W;                                                                      \
    if (C >= 4 * W) { /* four accumulators: one would be bound by the compare latency */    \
        memcpy(&a1, x + W, sizeof a1);                                                       \
        memcpy(&a2, x + 2 * W, sizeof a2);                                                   \
        memcpy(&a3, x + 3 * W, sizeof a3);                                                   \
        for (j = 4 * W; j + 4 * W <= C; j += 4 * W) {                                        \
            FASTNN_SM_WMAX(SFX, VT, VI, acc, x + j);                                              \
            FASTNN_SM_WMAX(SFX, VT, VI, a1, x + j + W);                                           \
            FASTNN_SM_WMAX(SFX, VT, VI, a2, x + j + 2 * W);                                       \
            FASTNN_SM_WMAX(SFX, VT, VI, a3, x + j + 3 * W);                                       \
        }                                                                                    \
        FASTNN_SM_WVMAX(SFX, VT, VI, acc, a1);                                                     \
        FASTNN_SM_WVMAX(SFX, VT, VI, a2, a3);                                                      \
        FASTNN_SM_WVMAX(SFX, VT, VI, acc, a2);                                                     \
    }                                                                                        \
    for (; j + W <= C; j += W) FASTNN_SM_WMAX(SFX, VT, VI, acc, x + j);                          \
    T m = acc[0];                                                                            \
    for (int l = 1; l < W; l++) m = acc[l] > m ? acc[l] : m;                                 \
    for (; j < C; j++) m = x[j] > m ? x[j] : m;                                              \
    return m;                                                                                \
}                                                                                            \
                                                                                             \
/* out[j] = exp(x[j] - m) (if store); returns the sum of the exps in double. */              \
FASTNN_INLINE double fastnn_sm_wide_exp_##SFX(const T *x, T m, T *out, fastnn_index C,    \
                                                 int store, int halves) {                    \
    fastnn_w8d lo = {0}, hi = {0};                                                           \
    fastnn_index j = fastnn_sm_exp_steps_##SFX(x, m, out, 0, C, store, halves, &lo, &hi);    \
    double tail = 0.0;                                                                       \
    for (; j < C; j++) {                                                                     \
        T e = fastnn_sm_exp_##SFX(x[j] - m);                                                 \
        if (store) out[j] = e;                                                               \
        tail += (double)e;                                                                   \
    }                                                                                        \
    fastnn_w8d a = lo + hi;                                                                  \
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;          \
}                                                                                            \
                                                                                             \
FASTNN_INLINE double fastnn_softmax_loss_wide_body_##SFX(                                    \
        const T *x, const fastnn_index *y, T *out, fastnn_index r0, fastnn_index r1,         \
        fastnn_index C, double inv_n, const int halves) {                                    \
    double total = 0.0;                                                                      \
    for (fastnn_index i = r0; i < r1; i++) {                                                 \
        const T *xi = x + i * C;                                                             \
        T *oi = out + i * C;                                                                 \
        fastnn_index yi = y[i];                                                              \
        T xy = xi[yi]; /* before out (which may be x) is written */                          \
        T m = fastnn_sm_wide_max_##SFX(xi, C, halves);                                       \
        if (i + 1 < r1) fastnn_sm_prefetch_row(xi + C, (size_t)C * sizeof(T));               \
        double sum = fastnn_sm_wide_exp_##SFX(xi, m, oi, C, 1, halves);                      \
        double sm1 = sum - 1.0;                                                              \
        /* below 1e-3 the rounding of sum would show in sm1's relative error */              \
        if (sm1 < 1e-3) sm1 = fastnn_sm_sum_minus_one_##SFX(oi, m, C, 1);                    \
        double inv = inv_n / sum;                                                            \
        double ey = (double)oi[yi];                                                          \
        T scale = (T)inv;                                                                    \
        for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;                                 \
        /* p_y - 1 = ((e_y - 1) - (sum - 1)) / sum: no cancellation when p_y ~ 1 */          \
        oi[yi] = (T)(((ey - 1.0) - sm1) * inv);                                              \
        total += fastnn_log1p_nonneg(sm1) + ((double)m - (double)xy);                            \
    }                                                                                        \
    return total;                                                                            \
}                                                                                            \
                                                                                             \
FASTNN_INLINE void fastnn_softmax_wide_body_##SFX(const T *x, T *out, fastnn_index r0,      \
                                                  fastnn_index r1, fastnn_index C, int log,  \
                                                  const int halves) {                        \
    for (fastnn_index i = r0; i < r1; i++) {                                                 \
        const T *xi = x + i * C;                                                             \
        T *oi = out + i * C;                                                                 \
        T m = fastnn_sm_wide_max_##SFX(xi, C, halves);                                       \
        if (i + 1 < r1) fastnn_sm_prefetch_row(xi + C, (size_t)C * sizeof(T));               \
        double sum = fastnn_sm_wide_exp_##SFX(xi, m, oi, C, !log, halves);                   \
        if (log) {                                                                           \
            double sm1 = sum - 1.0;                                                          \
            if (sm1 < 1e-3) sm1 = fastnn_sm_sum_minus_one_##SFX(xi, m, C, 0);                \
            T lse = (T)fastnn_log1p_nonneg(sm1);                                                 \
            for (fastnn_index j = 0; j < C; j++) oi[j] = (xi[j] - m) - lse;                  \
        } else {                                                                             \
            T scale = (T)(1.0 / sum);                                                        \
            for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;                             \
        }                                                                                    \
    }                                                                                        \
}                                                                                            \
                                                                                             \
static double fastnn_softmax_loss_wide_##SFX(                                                \
        const T *x, const fastnn_index *y, T *out, fastnn_index r0, fastnn_index r1,         \
        fastnn_index C, double inv_n) {                                                      \
    return fastnn_softmax_loss_wide_body_##SFX(x, y, out, r0, r1, C, inv_n,                  \
                                               FASTNN_SM_COMPARE_IN_HALVES);                 \
}                                                                                            \
static void fastnn_softmax_wide_##SFX(const T *x, T *out, fastnn_index r0, fastnn_index r1,  \
                                      fastnn_index C, int log) {                             \
    fastnn_softmax_wide_body_##SFX(x, out, r0, r1, C, log, FASTNN_SM_COMPARE_IN_HALVES);     \
}
#define FASTNN_SM_WIDE_DISPATCH(SFX, expr)                                                  \
    if (FASTNN_SM_WIDE_ROWS_##SFX && C >= FASTNN_SM_WIDE) { expr; }
#else
#define FASTNN_SM_DEFINE_WIDE(T, SFX, VT, VI)
#define FASTNN_SM_WIDE_DISPATCH(SFX, expr)
#endif

/* One body per dtype: T is the element type, SFX the name suffix. */
#define FASTNN_SM_DEFINE(T, SFX, VT, VI)                                                     \
FASTNN_SM_DEFINE_WIDE(T, SFX, VT, VI)                                                        \
FASTNN_SM_ROWMAX(T, SFX)                                                                     \
FASTNN_SM_ROWMAX4(T, SFX)                                                                    \
                                                                                             \
/* Step (A) of a block: per row the max (into m) and x - m (into d). */                       \
FASTNN_INLINE void fastnn_sm_shift_##SFX(const T *x, T *d, T *m, fastnn_index rows,       \
                                            fastnn_index C) {                                \
    fastnn_index i = 0;                                                                      \
    if (C < 64 / (fastnn_index)sizeof(T))                                                    \
        for (; i + 4 <= rows; i += 4) fastnn_sm_rowmax4_##SFX(x + i * C, C, m + i);          \
    for (; i < rows; i++) m[i] = fastnn_sm_rowmax_##SFX(x + i * C, C);                       \
    for (i = 0; i < rows; i++) {                                                             \
        const T *xi = x + i * C;                                                             \
        T *di = d + i * C, mi = m[i];                                                        \
        for (fastnn_index j = 0; j < C; j++) di[j] = xi[j] - mi;                             \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* Loss and gradient for rows [r0, r1): returns the sum of the rows' losses (not yet         \
 * divided by N) and writes dx = (softmax(x) - onehot(y)) * inv_n.  out may alias x. */      \
static double fastnn_sm_loss_rows_##SFX(                                                    \
        const T *x, const fastnn_index *y, T *out, fastnn_index r0, fastnn_index r1,         \
        fastnn_index C, double inv_n) {                                                      \
    T m[FASTNN_SM_ROWS], xy[FASTNN_SM_ROWS];                                                 \
    double sum[FASTNN_SM_ROWS], sm1[FASTNN_SM_ROWS], lse[FASTNN_SM_ROWS];                    \
    double wide[FASTNN_SM_BLOCK];                                                            \
    FASTNN_SM_WIDE_DISPATCH(SFX,                                                             \
        return fastnn_softmax_loss_wide_##SFX(x, y, out, r0, r1, C, inv_n))                  \
    fastnn_index rows = fastnn_sm_block_rows(C);                                             \
    double total = 0.0;                                                                      \
    for (fastnn_index b0 = r0; b0 < r1; b0 += rows) {                                        \
        fastnn_index nb = r1 - b0 < rows ? r1 - b0 : rows;                                   \
        const T *xb = x + b0 * C;                                                            \
        const fastnn_index *yb = y + b0;                                                     \
        T *ob = out + b0 * C;                                                                \
        for (fastnn_index i = 0; i < nb; i++) xy[i] = xb[i * C + yb[i]]; /* before aliasing */ \
        fastnn_sm_shift_##SFX(xb, ob, m, nb, C);                                             \
        if (C > FASTNN_SM_BLOCK) { /* one row longer than the scratch: exps in chunks */     \
            sum[0] = 0.0;                                                                    \
            for (fastnn_index j0 = 0; j0 < C; j0 += FASTNN_SM_BLOCK) {                       \
                fastnn_index len = C - j0 < FASTNN_SM_BLOCK ? C - j0 : FASTNN_SM_BLOCK;      \
                sum[0] += fastnn_sm_rowsum(                                                  \
                    fastnn_sm_exp_block_##SFX(ob + j0, ob + j0, wide, len), len);            \
            }                                                                                \
            sm1[0] = sum[0] - 1.0;                                                           \
        } else {                                                                             \
            const double *e = fastnn_sm_exp_block_##SFX(ob, ob, wide, nb * C);               \
            fastnn_sm_block_sums(e, nb, C, sum, sm1);                                        \
        }                                                                                    \
        for (fastnn_index i = 0; i < nb; i++) lse[i] = fastnn_log1p_nonneg(sm1[i]);              \
        for (fastnn_index i = 0; i < nb; i++) {                                              \
            T *oi = ob + i * C;                                                              \
            double inv = inv_n / sum[i];                                                     \
            double ey = (double)oi[yb[i]];                                                   \
            T scale = (T)inv;                                                                \
            for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;                             \
            /* p_y - 1 = ((e_y - 1) - (sum - 1)) / sum: no cancellation when p_y ~ 1 */      \
            oi[yb[i]] = (T)(((ey - 1.0) - sm1[i]) * inv);                                    \
            total += lse[i] + ((double)m[i] - (double)xy[i]);                               \
        }                                                                                    \
    }                                                                                        \
    return total;                                                                            \
}                                                                                            \
                                                                                             \
/* softmax (log = 0) or log_softmax (log = 1) of rows [r0, r1).  out may alias x. */         \
static void fastnn_sm_rows_##SFX(const T *x, T *out, fastnn_index r0, fastnn_index r1,      \
                                 fastnn_index C, int log) {                                  \
    T m[FASTNN_SM_ROWS], e[FASTNN_SM_BLOCK];                                                 \
    double sum[FASTNN_SM_ROWS], sm1[FASTNN_SM_ROWS], wide[FASTNN_SM_BLOCK];                  \
    FASTNN_SM_WIDE_DISPATCH(SFX, fastnn_softmax_wide_##SFX(x, out, r0, r1, C, log); return)  \
    fastnn_index rows = fastnn_sm_block_rows(C);                                             \
    for (fastnn_index b0 = r0; b0 < r1; b0 += rows) {                                        \
        fastnn_index nb = r1 - b0 < rows ? r1 - b0 : rows;                                   \
        T *ob = out + b0 * C;                                                                \
        /* softmax keeps the exps in out; log_softmax keeps x - max there */                 \
        T *eb = log ? e : ob;                                                                \
        fastnn_sm_shift_##SFX(x + b0 * C, ob, m, nb, C);                                     \
        if (C > FASTNN_SM_BLOCK) {                                                           \
            sum[0] = 0.0;                                                                    \
            for (fastnn_index j0 = 0; j0 < C; j0 += FASTNN_SM_BLOCK) {                       \
                fastnn_index len = C - j0 < FASTNN_SM_BLOCK ? C - j0 : FASTNN_SM_BLOCK;      \
                sum[0] += fastnn_sm_rowsum(                                                  \
                    fastnn_sm_exp_block_##SFX(ob + j0, log ? e : ob + j0, wide, len), len);  \
            }                                                                                \
            sm1[0] = sum[0] - 1.0;                                                           \
        } else {                                                                             \
            const double *ed = fastnn_sm_exp_block_##SFX(ob, eb, wide, nb * C);              \
            fastnn_sm_block_sums(ed, nb, C, sum, sm1);                                       \
        }                                                                                    \
        if (log)                                                                             \
            for (fastnn_index i = 0; i < nb; i++) sm1[i] = fastnn_log1p_nonneg(sm1[i]);          \
        for (fastnn_index i = 0; i < nb; i++) {                                              \
            T *oi = ob + i * C;                                                              \
            if (log) {                                                                       \
                T lse = (T)sm1[i];                                                           \
                for (fastnn_index j = 0; j < C; j++) oi[j] -= lse;                           \
            } else {                                                                         \
                T scale = (T)(1.0 / sum[i]);                                                 \
                for (fastnn_index j = 0; j < C; j++) oi[j] *= scale;                         \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
}

FASTNN_SM_DEFINE(float, f32, fastnn_w16f, fastnn_w16i)
FASTNN_SM_DEFINE(double, f64, fastnn_w8d, fastnn_w8l)

FASTNN_CONTRACT_OFF

#endif /* FASTNN_SOFTMAX_SIMD_H */
