/* The interface of the layer normalization kernels between their per-target objects and
 * layernorm.pyx: the table each target exports (layernorm_target.c) and the entry points
 * that call through the table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_LAYERNORM_DISPATCH_H
#define FASTNN_LAYERNORM_DISPATCH_H

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

struct fastnn_layernorm_table {
    void (*forward_f32)(const float *x, float *out, const float *gamma, const float *beta,
                        double *mean, double *rstd, fastnn_index r0, fastnn_index r1,
                        fastnn_index D, double eps);
    void (*forward_f64)(const double *x, double *out, const double *gamma, const double *beta,
                        double *mean, double *rstd, fastnn_index r0, fastnn_index r1,
                        fastnn_index D, double eps);
    void (*backward_f32)(const float *dout, const float *x, float *dx, const float *gamma,
                         const double *mean, const double *rstd, double *dgamma,
                         double *dbeta, float *block, fastnn_index r0, fastnn_index r1,
                         fastnn_index D);
    void (*backward_f64)(const double *dout, const double *x, double *dx, const double *gamma,
                         const double *mean, const double *rstd, double *dgamma,
                         double *dbeta, double *block, fastnn_index r0, fastnn_index r1,
                         fastnn_index D);
};

FASTNN_DISPATCH_TABLES(struct fastnn_layernorm_table, fastnn_layernorm)

/* Rows [r0, r1) of the forward: out, and each row's mean and 1/std (layernorm_template.h). */
static inline void fastnn_layernorm_forward_f32(const float *x, float *out, const float *gamma,
                                                const float *beta, double *mean, double *rstd,
                                                fastnn_index r0, fastnn_index r1,
                                                fastnn_index D, double eps) {
    fastnn_layernorm_active->forward_f32(x, out, gamma, beta, mean, rstd, r0, r1, D, eps);
}
static inline void fastnn_layernorm_forward_f64(const double *x, double *out,
                                                const double *gamma, const double *beta,
                                                double *mean, double *rstd, fastnn_index r0,
                                                fastnn_index r1, fastnn_index D, double eps) {
    fastnn_layernorm_active->forward_f64(x, out, gamma, beta, mean, rstd, r0, r1, D, eps);
}
/* Rows [r0, r1) of the backward: dx, and their dgamma, dbeta column sums ADDED to the
 * double accumulators dgamma, dbeta (D,); block: 2 * D elements of scratch. */
static inline void fastnn_layernorm_backward_f32(const float *dout, const float *x, float *dx,
                                                 const float *gamma, const double *mean,
                                                 const double *rstd, double *dgamma,
                                                 double *dbeta, float *block, fastnn_index r0,
                                                 fastnn_index r1, fastnn_index D) {
    fastnn_layernorm_active->backward_f32(dout, x, dx, gamma, mean, rstd, dgamma, dbeta, block,
                                          r0, r1, D);
}
static inline void fastnn_layernorm_backward_f64(const double *dout, const double *x,
                                                 double *dx, const double *gamma,
                                                 const double *mean, const double *rstd,
                                                 double *dgamma, double *dbeta,
                                                 double *block, fastnn_index r0,
                                                 fastnn_index r1, fastnn_index D) {
    fastnn_layernorm_active->backward_f64(dout, x, dx, gamma, mean, rstd, dgamma, dbeta, block,
                                          r0, r1, D);
}

#endif /* FASTNN_LAYERNORM_DISPATCH_H */
