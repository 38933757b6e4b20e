/* The multiclass SVM (hinge) loss rows, written once and included by svm_target.c once per
 * dtype with SVM_T (float or double) and SVM_SFX (f32 or f64) defined.  No include guard on
 * purpose.
 *
 * Row i with label y: margin_j = x_j - x_y + 1 for j != y, loss_i = sum_j max(0, margin_j),
 * dx_j = [margin_j > 0] / n, dx_y = -(number of positive margins) / n.  One pass over the
 * row: the margin is formed in double (so dx equals the float64 twin's bit for bit), the
 * loss summed in double, the count in an integer.  The label's column is skipped (two
 * ranges), not subtracted afterwards, so an infinite x_y gives the course's value.
 * max(0, NaN) is NaN (the comparison m <= 0 is false), as np.maximum gives.
 */

#define SVM_CAT_(a, b) a##_##b
#define SVM_CAT(a, b) SVM_CAT_(a, b)
#define SVM(name) SVM_CAT(name, SVM_SFX)

/* Margins of columns [j0, j1) of one row: adds their hinge losses to *loss, writes dx and
 * returns the number of positive margins.  Four independent loss partials let the
 * compiler keep several additions in flight (no -ffast-math reassociation). */
static fastnn_index SVM(svm_range)(const SVM_T *FASTNN_RESTRICT row, SVM_T *FASTNN_RESTRICT drow,
                                   fastnn_index j0, fastnn_index j1, double xy, SVM_T step,
                                   double *loss) {
    double part[4] = {0.0, 0.0, 0.0, 0.0};
    fastnn_index count = 0, j = j0;
    for (; j + 4 <= j1; j += 4) {
        for (int k = 0; k < 4; k++) {
            const double m = (double)row[j + k] - xy + 1.0;
            const int positive = m > 0.0;
            part[k] += m <= 0.0 ? 0.0 : m;
            drow[j + k] = positive ? step : (SVM_T)0;
            count += positive;
        }
    }
    for (; j < j1; j++) {
        const double m = (double)row[j] - xy + 1.0;
        const int positive = m > 0.0;
        part[0] += m <= 0.0 ? 0.0 : m;
        drow[j] = positive ? step : (SVM_T)0;
        count += positive;
    }
    *loss += (part[0] + part[1]) + (part[2] + part[3]);
    return count;
}

static double SVM(svm_loss_rows)(const SVM_T *x, const fastnn_index *y, SVM_T *dx,
                                 fastnn_index r0, fastnn_index r1, fastnn_index C, double n) {
    const SVM_T step = (SVM_T)(1.0 / n);
    double total = 0.0;
    for (fastnn_index r = r0; r < r1; r++) {
        const SVM_T *row = x + r * C;
        SVM_T *drow = dx + r * C;
        const fastnn_index label = y[r];
        const double xy = (double)row[label];
        double loss = 0.0;
        fastnn_index count = SVM(svm_range)(row, drow, 0, label, xy, step, &loss);
        count += SVM(svm_range)(row, drow, label + 1, C, xy, step, &loss);
        drow[label] = (SVM_T)(-(double)count / n);
        total += loss;
    }
    return total;
}

#undef SVM
#undef SVM_CAT
#undef SVM_CAT_
