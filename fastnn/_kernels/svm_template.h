/* The multiclass SVM (hinge) loss rows for one dtype, written once: svm_kernels.h
 * instantiates them per dtype (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * Row i with label y: margin_j = x_j - x_y + 1 for j != y, loss_i = sum_j max(0, margin_j),
 * dx_j = [margin_j > 0] / n, dx_y = -(number of positive margins) / n.  One pass over the
 * row: the margin is formed in double (so dx equals the float64 twin's bit for bit), the
 * loss and the count summed in double.  The label's column is skipped (two ranges, or a
 * select in a short row), not subtracted afterwards, so an infinite x_y gives the course's
 * value.
 * max(0, NaN) is NaN (the comparison m <= 0 is false), as np.maximum gives.
 */

#include "fastnn_simd.h"
#include "svm_dispatch.h"

#include "fastnn_dtype_begin.h"

/* The hinge loop over columns [J0, J1) of one row, in a function returning the number of
 * positive margins (counted in double, exact below 2^53) with their losses added to *loss and
 * dx written; OTHER(j) is false for a column left out.  The sums are an OpenMP simd reduction
 * (SIMD): the compiler may split them into vector lanes (an order fixed at compile time)
 * without -ffast-math; the selects are branch-free. */
#define FASTNN_SVM_HINGE_LOOP(SIMD, J0, J1, OTHER)                                            \
    double total = 0.0, positive = 0.0;                                                      \
    SIMD                                                                                     \
    for (fastnn_index j = (J0); j < (J1); j++) {                                             \
        const double m = (double)row[j] - xy + 1.0;                                          \
        total += OTHER(j) && !(m <= 0.0) ? m : 0.0;                                          \
        positive += OTHER(j) && m > 0.0 ? 1.0 : 0.0;                                         \
        drow[j] = m > 0.0 ? step : (FASTNN_T)0;                                              \
    }                                                                                        \
    *loss += total;                                                                          \
    return (fastnn_index)positive;
#define FASTNN_SVM_EVERY(j) 1
#define FASTNN_SVM_NOT_LABEL(j) ((j) != label)

/* Columns [j0, j1) of one row, every one counted. */
static fastnn_index FASTNN_NAME(svm_hinge_range)(const FASTNN_T *FASTNN_RESTRICT row,
                                                 FASTNN_T *FASTNN_RESTRICT drow,
                                                 fastnn_index j0, fastnn_index j1, double xy,
                                                 FASTNN_T step, double *loss) {
    FASTNN_SVM_HINGE_LOOP(FASTNN_SVM_SIMD_SUM, j0, j1, FASTNN_SVM_EVERY)
}

/* A whole short row (C <= FASTNN_SVM_SHORT_ROW) in one loop, the label's column masked out by
 * a select: two ranges of a few columns each would run mostly as scalar remainders; a long
 * row is faster as two ranges, without the per-column mask. */
static fastnn_index FASTNN_NAME(svm_hinge_short)(const FASTNN_T *FASTNN_RESTRICT row,
                                                 FASTNN_T *FASTNN_RESTRICT drow,
                                                 fastnn_index C, fastnn_index label, double xy,
                                                 FASTNN_T step, double *loss) {
    FASTNN_SVM_HINGE_LOOP(FASTNN_SVM_SIMD_SUM_SHORT, 0, C, FASTNN_SVM_NOT_LABEL)
}

static double FASTNN_NAME(svm_hinge_rows)(const FASTNN_T *x, const fastnn_index *y, FASTNN_T *dx,
                                          fastnn_index r0, fastnn_index r1, fastnn_index C,
                                          double n) {
    const FASTNN_T step = (FASTNN_T)(1.0 / n);
    double total = 0.0;
    for (fastnn_index r = r0; r < r1; r++) {
        const FASTNN_T *row = x + r * C;
        FASTNN_T *drow = dx + r * C;
        const fastnn_index label = y[r];
        const double xy = (double)row[label];
        double loss = 0.0;
        fastnn_index count;
        if (C <= FASTNN_SVM_SHORT_ROW) {
            count = FASTNN_NAME(svm_hinge_short)(row, drow, C, label, xy, step, &loss);
        } else {
            count = FASTNN_NAME(svm_hinge_range)(row, drow, 0, label, xy, step, &loss);
            count += FASTNN_NAME(svm_hinge_range)(row, drow, label + 1, C, xy, step, &loss);
        }
        drow[label] = (FASTNN_T)(-(double)count / n);
        total += loss;
    }
    return total;
}

#undef FASTNN_SVM_HINGE_LOOP
#undef FASTNN_SVM_EVERY
#undef FASTNN_SVM_NOT_LABEL

#include "fastnn_dtype_end.h"
