/* The interface of the bias kernels between their per-target objects and bias.pyx: the table
 * each target exports (bias_target.c) and the entry points that call through the table chosen
 * at import (fastnn_cpu.h).
 */
#ifndef FASTNN_BIAS_DISPATCH_H
#define FASTNN_BIAS_DISPATCH_H

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

struct fastnn_bias_table {
    void (*add_rows_f32)(float *z, const float *b, fastnn_index r0, fastnn_index r1,
                         fastnn_index M, int relu);
    void (*add_rows_f64)(double *z, const double *b, fastnn_index r0, fastnn_index r1,
                         fastnn_index M, int relu);
    void (*grad_cols_f32)(const float *dout, const float *out, float *dz, float *db,
                          fastnn_index N, fastnn_index M, fastnn_index c0, fastnn_index c1);
    void (*grad_cols_f64)(const double *dout, const double *out, double *dz, double *db,
                          fastnn_index N, fastnn_index M, fastnn_index c0, fastnn_index c1);
};

FASTNN_DISPATCH_TABLES(struct fastnn_bias_table, fastnn_bias)

/* Rows [r0, r1) of z (N, M): z += b, then max(z, 0) when relu (see bias_template.h). */
static inline void fastnn_bias_add_rows_f32(float *z, const float *b, fastnn_index r0,
                                            fastnn_index r1, fastnn_index M, int relu) {
    fastnn_bias_active->add_rows_f32(z, b, r0, r1, M, relu);
}
static inline void fastnn_bias_add_rows_f64(double *z, const double *b, fastnn_index r0,
                                            fastnn_index r1, fastnn_index M, int relu) {
    fastnn_bias_active->add_rows_f64(z, b, r0, r1, M, relu);
}

/* Columns [c0, c1) of the bias gradient db of dout (N, M), masked by out > 0 when out is not
 * NULL (then dz, if not NULL, receives the masked dout). */
static inline void fastnn_bias_grad_cols_f32(const float *dout, const float *out, float *dz,
                                             float *db, fastnn_index N, fastnn_index M,
                                             fastnn_index c0, fastnn_index c1) {
    fastnn_bias_active->grad_cols_f32(dout, out, dz, db, N, M, c0, c1);
}
static inline void fastnn_bias_grad_cols_f64(const double *dout, const double *out, double *dz,
                                             double *db, fastnn_index N, fastnn_index M,
                                             fastnn_index c0, fastnn_index c1) {
    fastnn_bias_active->grad_cols_f64(dout, out, dz, db, N, M, c0, c1);
}

#endif /* FASTNN_BIAS_DISPATCH_H */
