/* The interface of the multiclass SVM loss kernel between its per-target objects and svm.pyx:
 * the table each target exports (svm_target.c) and the entry points that call through the
 * table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_SVM_DISPATCH_H
#define FASTNN_SVM_DISPATCH_H

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

struct fastnn_svm_table {
    double (*loss_rows_f32)(const float *x, const fastnn_index *y, float *dx, fastnn_index r0,
                            fastnn_index r1, fastnn_index C, double n);
    double (*loss_rows_f64)(const double *x, const fastnn_index *y, double *dx,
                            fastnn_index r0, fastnn_index r1, fastnn_index C, double n);
};

FASTNN_DISPATCH_TABLES(struct fastnn_svm_table, fastnn_svm)

/* Hinge loss and gradient of rows [r0, r1) of n (see svm_template.h): the sum of their
 * losses; dx of those rows is written. */
static inline double fastnn_svm_loss_rows_f32(const float *x, const fastnn_index *y, float *dx,
                                              fastnn_index r0, fastnn_index r1, fastnn_index C,
                                              double n) {
    return fastnn_svm_active->loss_rows_f32(x, y, dx, r0, r1, C, n);
}
static inline double fastnn_svm_loss_rows_f64(const double *x, const fastnn_index *y,
                                              double *dx, fastnn_index r0, fastnn_index r1,
                                              fastnn_index C, double n) {
    return fastnn_svm_active->loss_rows_f64(x, y, dx, r0, r1, C, n);
}

#endif /* FASTNN_SVM_DISPATCH_H */
