/* The bias kernels for one dtype, written once: bias_kernels.h instantiates them per dtype
 * (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * Forward, in place on an affine layer's output z (N, M): z = z + b, or max(z + b, 0) with
 * ReLU, in one pass over z.  The sum is rounded to the dtype before the ReLU compares it with
 * 0, so the result equals ``z += b`` followed by fastnn.relu bit for bit (NaN propagates,
 * ``s < 0`` is false for it).
 *
 * Backward, the bias gradient db = dz.sum(axis=0) with dz = dout, or dz = dout where the
 * ReLU's output is > 0 (else 0): one pass over dout (and out), dz written as it is formed.
 * Each column's sum is formed in double, and rounded to the dtype once at the end: four rows'
 * values are added pairwise, then to the running sum, rows in order; columns are independent,
 * so threads split the columns and the result does not depend on the number of threads.
 */

#include "bias_dispatch.h"
#include "fastnn_simd.h"

#include "fastnn_dtype_begin.h"

static void FASTNN_NAME(bias_add_rows_impl)(FASTNN_T *z, const FASTNN_T *b, fastnn_index r0,
                                            fastnn_index r1, fastnn_index M, int relu) {
    for (fastnn_index r = r0; r < r1; r++) {
        FASTNN_T *FASTNN_RESTRICT row = z + r * M;
        const FASTNN_T *FASTNN_RESTRICT bias = b;
        if (relu) {
            FASTNN_OMP_SIMD
            for (fastnn_index j = 0; j < M; j++) {
                const FASTNN_T s = row[j] + bias[j];
                row[j] = s < (FASTNN_T)0 ? (FASTNN_T)0 : s;
            }
        } else {
            FASTNN_OMP_SIMD
            for (fastnn_index j = 0; j < M; j++) {
                row[j] = row[j] + bias[j];
            }
        }
    }
}

/* dout where out > 0, else 0: a function of the two loaded values, so that both loads are
 * unconditional.  Written as a ?: over the elements (a[i] > 0 ? g[i] : 0), gcc loads g[i]
 * only in the branch, cannot if-convert it on the SSE2 target (no masked loads) and leaves
 * the loop scalar, with a mispredicted branch per element (7x the AVX-512 time). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(bias_relu_grad)(FASTNN_T dout, FASTNN_T out) {
    return out > (FASTNN_T)0 ? dout : (FASTNN_T)0;
}

/* The value dz[i] of element i: dout, or dout where out > 0 (else 0), also stored in dz. */
#define FASTNN_BIAS_PLAIN(i) ((double)g[i])
#define FASTNN_BIAS_MASKED(i) ((double)FASTNN_NAME(bias_relu_grad)(g[i], a[i]))
#define FASTNN_BIAS_STORED(i) ((double)(d[i] = FASTNN_NAME(bias_relu_grad)(g[i], a[i])))

/* g, a, d: row r of dout, out and dz from column j0 (a and d NULL when absent). */
#define FASTNN_BIAS_ROW_POINTERS(r)                                                          \
    const FASTNN_T *FASTNN_RESTRICT g = dout + (r) * M + j0;                                 \
    const FASTNN_T *FASTNN_RESTRICT a = out == NULL ? NULL : out + (r) * M + j0;             \
    FASTNN_T *FASTNN_RESTRICT d = dz == NULL ? NULL : dz + (r) * M + j0;                     \
    (void)a;                                                                                 \
    (void)d;

/* The pairwise sum of the values of four rows, from column j of the first. */
#define FASTNN_BIAS_QUAD(VALUE, j) \
    ((VALUE(j) + VALUE((j) + M)) + (VALUE((j) + 2 * M) + VALUE((j) + 3 * M)))

/* sum[j] += the values of rows [0, N) of columns [j0, j0 + width): four rows at a time
 * (their values added pairwise, then to the sum), then one at a time.  With EIGHT, the main
 * loop takes two groups of four per pass, sum[j] = (sum[j] + quad) + next quad (the same
 * additions in the same order): eight row streams read at once and one load and store of the
 * sums per eight rows.  dout alone needs it: a pass per group left the SSE2 loop at 0.7x
 * NumPy's row-at-a-time sum in float64.  With out (and dz) it would be 16-24 streams, and
 * those variants ran 1.4-1.9x slower so (docs/perf/isa_paths.md).  (Written quad + sum: so
 * gcc gives a column whose sum is NaN the same sign bit on every path.)  The row loops are
 * simd loops: every column keeps its own sum, so the lanes do not change any result. */
#define FASTNN_BIAS_SUM_ROWS(VALUE, EIGHT)                                                   \
    do {                                                                                     \
        fastnn_index r = 0;                                                                  \
        for (; (EIGHT) && r + 8 <= N; r += 8) {                                              \
            FASTNN_BIAS_ROW_POINTERS(r)                                                      \
            FASTNN_OMP_SIMD                                                                  \
            for (fastnn_index j = 0; j < width; j++) {                                       \
                sum[j] = FASTNN_BIAS_QUAD(VALUE, j + 4 * M) +                                \
                         (FASTNN_BIAS_QUAD(VALUE, j) + sum[j]);                              \
            }                                                                                \
        }                                                                                    \
        for (; r + 4 <= N; r += 4) {                                                         \
            FASTNN_BIAS_ROW_POINTERS(r)                                                      \
            FASTNN_OMP_SIMD                                                                  \
            for (fastnn_index j = 0; j < width; j++) {                                       \
                sum[j] += FASTNN_BIAS_QUAD(VALUE, j);                                        \
            }                                                                                \
        }                                                                                    \
        for (; r < N; r++) {                                                                 \
            FASTNN_BIAS_ROW_POINTERS(r)                                                      \
            FASTNN_OMP_SIMD                                                                  \
            for (fastnn_index j = 0; j < width; j++) {                                       \
                sum[j] += VALUE(j);                                                          \
            }                                                                                \
        }                                                                                    \
    } while (0)

/* Columns [j0, j0 + width) with width <= FASTNN_BIAS_BLOCK. */
static void FASTNN_NAME(bias_grad_block)(const FASTNN_T *dout, const FASTNN_T *out,
                                         FASTNN_T *dz, FASTNN_T *db, fastnn_index N,
                                         fastnn_index M, fastnn_index j0, fastnn_index width) {
    double sum[FASTNN_BIAS_BLOCK];
    for (fastnn_index j = 0; j < width; j++) {
        sum[j] = 0.0;
    }
    if (out == NULL) {
        FASTNN_BIAS_SUM_ROWS(FASTNN_BIAS_PLAIN, 1);
    } else if (dz == NULL) {
        FASTNN_BIAS_SUM_ROWS(FASTNN_BIAS_MASKED, 0);
    } else {
        FASTNN_BIAS_SUM_ROWS(FASTNN_BIAS_STORED, 0);
    }
    for (fastnn_index j = 0; j < width; j++) {
        db[j0 + j] = (FASTNN_T)sum[j];
    }
}

#undef FASTNN_BIAS_PLAIN
#undef FASTNN_BIAS_MASKED
#undef FASTNN_BIAS_STORED
#undef FASTNN_BIAS_SUM_ROWS
#undef FASTNN_BIAS_QUAD
#undef FASTNN_BIAS_ROW_POINTERS

static void FASTNN_NAME(bias_grad_cols_impl)(const FASTNN_T *dout, const FASTNN_T *out,
                                             FASTNN_T *dz, FASTNN_T *db, fastnn_index N,
                                             fastnn_index M, fastnn_index c0, fastnn_index c1) {
    for (fastnn_index j0 = c0; j0 < c1; j0 += FASTNN_BIAS_BLOCK) {
        const fastnn_index width = c1 - j0 < FASTNN_BIAS_BLOCK ? c1 - j0 : FASTNN_BIAS_BLOCK;
        FASTNN_NAME(bias_grad_block)(dout, out, dz, db, N, M, j0, width);
    }
}

#include "fastnn_dtype_end.h"
