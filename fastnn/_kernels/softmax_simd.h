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
 * - softmax_template.h holds the row kernels and the wide rows' vector exp (written once,
 *   instantiated below per dtype); this file the helpers and vector types they share.
 * - Rows of C >= FASTNN_SM_WIDE (where FASTNN_SM_WIDE_ROWS_<sfx>) go one at a time through
 *   three fused passes instead (max; exp written out with the sum accumulated on the fly;
 *   scaling), on 64-byte vectors, with the next row prefetched: 1.45-1.6x faster than the
 *   block scheme at C = 1000 (it does two fewer passes and no float -> double copy).
 * - exp is fastnn_math.h's exp for arguments <= 0 (always the case after the max shift):
 *   branch-free selects and a bit-level 2^n, so compilers vectorise it in every ISA target
 *   (softmax_target.c) without -ffast-math; the wide rows expand the same exp macro on GCC
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

/* exp of the shifted scores (x - max <= 0, or NaN) is fastnn_exp_nonpos_<sfx> and the
 * log-sum-exp's log1p fastnn_log1p_nonneg: the one math layer (fastnn_math.h). */

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
typedef float fastnn_sm_v16_f32 __attribute__((vector_size(16)));
typedef int32_t fastnn_sm_v16i_f32 __attribute__((vector_size(16)));
typedef double fastnn_sm_v16_f64 __attribute__((vector_size(16)));
typedef int64_t fastnn_sm_v16i_f64 __attribute__((vector_size(16)));
/* The block scheme's per-row passes (sm_row_apply): one AVX register where there is one. */
#if defined(__AVX__)
#define FASTNN_SM_ROW_BYTES 32
#else
#define FASTNN_SM_ROW_BYTES 16
#endif
typedef float fastnn_sm_row_f32 __attribute__((vector_size(FASTNN_SM_ROW_BYTES)));
typedef double fastnn_sm_row_f64 __attribute__((vector_size(FASTNN_SM_ROW_BYTES)));

#define FASTNN_SM_VMAX(VT, VI, acc, v)                                                       \
    do {                                                                                     \
        VI gt_ = (v) > (acc);                                                                \
        (acc) = (VT)(((VI)(v) & gt_) | ((VI)(acc) & ~gt_));                                  \
    } while (0)

/* Sum of a row of doubles. */
FASTNN_INLINE double fastnn_sm_rowsum(const double *e, fastnn_index C) {
    fastnn_index j = 0;
    double s = 0.0;
    if (C >= 8) {
        fastnn_sm_v16_f64 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, v0, v1, v2, v3;
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
FASTNN_INLINE double fastnn_sm_rowsum(const double *e, fastnn_index C) {
    double s = 0.0;
    for (fastnn_index j = 0; j < C; j++) s += e[j];
    return s;
}
#endif

/* Defined per dtype in softmax_template.h (after the shared helpers that call them). */
static inline double fastnn_sm_sum_minus_one_f64(const double *x, double m, fastnn_index C,
                                                 int exps);
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

/* The wide-row scheme below only where it measured faster than the block scheme, per dtype
 * (FASTNN_SM_WIDE_ROWS_<sfx>): AVX-512 targets, AVX2 targets (on 32-byte vectors, see
 * FASTNN_SM_WIDE_BYTES), and float32 in clang's baseline target.  gcc 12 compiles 64-byte
 * vector code for AVX2 and SSE2 into shuffles through the stack, and clang's float64 wide
 * rows on 64-byte vectors were slower than its block scheme (see docs/perf/dispatch.md). */
#if defined(FASTNN_SM_VECTOR) && defined(FASTNN_TARGET_ISA) &&                               \
    FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
#define FASTNN_SM_WIDE_ROWS_f32 1
#define FASTNN_SM_WIDE_ROWS_f64 1
#define FASTNN_SM_WIDE_BYTES 64
#elif defined(FASTNN_SM_VECTOR) && defined(FASTNN_TARGET_ISA) &&                             \
    FASTNN_TARGET_ISA == FASTNN_ISA_AVX2
#define FASTNN_SM_WIDE_ROWS_f32 1
#define FASTNN_SM_WIDE_ROWS_f64 1
#define FASTNN_SM_WIDE_BYTES 32
#elif defined(FASTNN_SM_VECTOR) && defined(__clang__)
#define FASTNN_SM_WIDE_ROWS_f32 1
#define FASTNN_SM_WIDE_ROWS_f64 0
#define FASTNN_SM_WIDE_BYTES 64
#else
#define FASTNN_SM_WIDE_ROWS_f32 0
#define FASTNN_SM_WIDE_ROWS_f64 0
#endif
#if FASTNN_SM_WIDE_ROWS_f32 || FASTNN_SM_WIDE_ROWS_f64
#define FASTNN_SM_WIDE_ROWS 1
#endif

/* The block exps (softmax_template.h: sm_exp_block).  clang 14 vectorises their scalar loop
 * one vector per iteration with every constant of the exp re-broadcast from memory inside the
 * loop (one load instruction each, more than the arithmetic).  So clang runs the block exps
 * on the wide rows' vector exp, four vectors per step, where its target has wide rows for the
 * dtype: each constant is then loaded once per four vectors.  The rest of a block, and gcc,
 * use the scalar loop, which clang sizes by its double stores for float (4 lanes on AVX2,
 * half the float width): it is told 8 lanes, as gcc uses. */
#if defined(__clang__) && defined(FASTNN_SM_WIDE_ROWS)
#define FASTNN_SM_BLOCK_EXP_VECTORS 1
#endif
#if defined(__clang__)
#define FASTNN_SM_EXP_F32_LOOP _Pragma("clang loop vectorize(assume_safety) vectorize_width(8)")
#else
#define FASTNN_SM_EXP_F32_LOOP FASTNN_IVDEP
#endif

#ifdef FASTNN_SM_WIDE_ROWS
/* Wide rows (C >= FASTNN_SM_WIDE, vector extensions only): one row at a time in three
 * passes, the row staying in L1 after the first: (1) the max, (2) e = exp(x - m) written to
 * out with the sum accumulated in double on the fly, (3) the scaling.  The loops work on
 * vectors of FASTNN_SM_WIDE_BYTES: 64 (one AVX-512 register; clang's baseline target splits
 * them well) or 32 (one AVX2 register: gcc splits 64-byte vectors through the stack, and
 * clang's AVX2 code is faster on 32 too).  A step is two vectors of float64 or one of float32; every reduction combines
 * its lanes in a fixed order for a given vector width (the exp itself uses FMA in the
 * targets that have it).  While a row is being worked on, the next row of x is prefetched so
 * that memory streams under the arithmetic. */
#define FASTNN_SM_WIDE 128

typedef float fastnn_sm_wide_f32 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
typedef int32_t fastnn_sm_widei_f32 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
typedef double fastnn_sm_wide_f64 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
typedef int64_t fastnn_sm_widei_f64 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
typedef uint32_t fastnn_sm_wideu_f32 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
typedef uint64_t fastnn_sm_wideu_f64 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES)));
/* lanes of a wide vector of float32 and of float64 */
#define FASTNN_SM_LANES_f32 (FASTNN_SM_WIDE_BYTES / 4)
#define FASTNN_SM_LANES_f64 (FASTNN_SM_WIDE_BYTES / 8)

/* mask ? a : b, lane-wise, for a mask of all-ones / all-zeros lanes */
#define FASTNN_SM_SELECT(VT, VI, mask, a, b) ((VT)(((VI)(a) & (mask)) | ((VI)(b) & ~(mask))))

/* a > b lane-wise (all-ones / all-zeros lanes), compared in two 32-byte halves.  gcc 12 turns
 * a 64-byte vector comparison into scalar code in targets without AVX-512 (the AVX2 wide
 * softmax ran at about NumPy's speed); compared in halves it is one AVX2 comparison each.  On
 * AVX-512 the halves are slower than whole comparisons, so each target compiles the form that
 * suits it (see docs/perf/dispatch.md for the measurements). */
#if (defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512) ||                \
    FASTNN_SM_WIDE_BYTES == 32
#define FASTNN_SM_COMPARE_IN_HALVES 0
#else
#define FASTNN_SM_COMPARE_IN_HALVES 1
#endif
typedef float fastnn_sm_half_f32 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES / 2)));
typedef int32_t fastnn_sm_halfi_f32 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES / 2)));
typedef double fastnn_sm_half_f64 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES / 2)));
typedef int64_t fastnn_sm_halfi_f64 __attribute__((vector_size(FASTNN_SM_WIDE_BYTES / 2)));
FASTNN_INLINE void fastnn_sm_prefetch_row(const void *row, size_t bytes) {
    for (size_t k = 0; k < bytes; k += 64) __builtin_prefetch((const char *)row + k, 0, 3);
}

#endif

#define FASTNN_DTYPE 32
#include "softmax_template.h"
#define FASTNN_DTYPE 64
#include "softmax_template.h"

FASTNN_CONTRACT_OFF

#endif /* FASTNN_SOFTMAX_SIMD_H */
