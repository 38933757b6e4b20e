/* The interface of the softmax kernels between their per-target objects and softmax.pyx:
 * the table each target exports (softmax_target.c) and the entry points that call through
 * the table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_SOFTMAX_DISPATCH_H
#define FASTNN_SOFTMAX_DISPATCH_H

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

struct fastnn_softmax_table {
    double (*loss_rows_f32)(const float *x, const fastnn_index *y, float *out, fastnn_index r0,
                            fastnn_index r1, fastnn_index C, double inv_n);
    double (*loss_rows_f64)(const double *x, const fastnn_index *y, double *out,
                            fastnn_index r0, fastnn_index r1, fastnn_index C, double inv_n);
    void (*rows_f32)(const float *x, float *out, fastnn_index r0, fastnn_index r1,
                     fastnn_index C, int log);
    void (*rows_f64)(const double *x, double *out, fastnn_index r0, fastnn_index r1,
                     fastnn_index C, int log);
};

FASTNN_DISPATCH_TABLES(struct fastnn_softmax_table, fastnn_softmax)

/* Loss and gradient of rows [r0, r1) (see softmax_simd.h): the sum of their losses. */
static inline double fastnn_softmax_loss_rows_f32(const float *x, const fastnn_index *y,
                                                  float *out, fastnn_index r0, fastnn_index r1,
                                                  fastnn_index C, double inv_n) {
    return fastnn_softmax_active->loss_rows_f32(x, y, out, r0, r1, C, inv_n);
}
static inline double fastnn_softmax_loss_rows_f64(const double *x, const fastnn_index *y,
                                                  double *out, fastnn_index r0,
                                                  fastnn_index r1, fastnn_index C,
                                                  double inv_n) {
    return fastnn_softmax_active->loss_rows_f64(x, y, out, r0, r1, C, inv_n);
}
/* softmax (log = 0) or log_softmax (log = 1) of rows [r0, r1). */
static inline void fastnn_softmax_rows_f32(const float *x, float *out, fastnn_index r0,
                                           fastnn_index r1, fastnn_index C, int log) {
    fastnn_softmax_active->rows_f32(x, out, r0, r1, C, log);
}
static inline void fastnn_softmax_rows_f64(const double *x, double *out, fastnn_index r0,
                                           fastnn_index r1, fastnn_index C, int log) {
    fastnn_softmax_active->rows_f64(x, out, r0, r1, C, log);
}

#endif /* FASTNN_SOFTMAX_DISPATCH_H */
