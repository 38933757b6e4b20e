/* The interface of the batch-normalization kernels between their per-target objects and
 * batchnorm.pyx: the table each target exports (batchnorm_target.c) and the entry points
 * that call through the table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_BATCHNORM_DISPATCH_H
#define FASTNN_BATCHNORM_DISPATCH_H

#include <stddef.h>

#include "fastnn_cpu.h"

/* One dtype's drivers (batchnorm_template.h: forward_train, forward_test, backward), T the
 * element type; they return 0, or -1 when a scratch allocation fails. */
#define FASTNN_BN_DRIVERS(T, SFX)                                                              \
    int (*forward_train_##SFX)(const T *x, T *out, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s,      \
                               const T *gamma, const T *beta, double eps, double momentum,     \
                               const T *rm_in, const T *rv_in, T *rm_out, T *rv_out,           \
                               double *mean, double *inv_std, int nt);                         \
    int (*forward_test_##SFX)(const T *x, T *out, ptrdiff_t n, ptrdiff_t c, ptrdiff_t s,       \
                              const T *gamma, const T *beta, double eps, const T *rm,          \
                              const T *rv, double *mean, double *inv_std, int nt);             \
    int (*backward_##SFX)(const T *dout, const T *x, T *dx, ptrdiff_t n, ptrdiff_t c,          \
                          ptrdiff_t s, const T *gamma, const double *mean,                     \
                          const double *inv_std, double eps, int train, T *dgamma, T *dbeta,   \
                          int nt);

struct fastnn_batchnorm_table {
    FASTNN_BN_DRIVERS(float, f32)
    FASTNN_BN_DRIVERS(double, f64)
};

FASTNN_DISPATCH_TABLES(struct fastnn_batchnorm_table, fastnn_batchnorm)

/* Entry points for batchnorm.pyx: the element arrays come as void pointers and f64 picks
 * the dtype, so the Cython side writes each call once for both dtypes. */
static inline int fastnn_bn_forward_train(int f64, const void *x, void *out, ptrdiff_t n,
                                          ptrdiff_t c,
                                   ptrdiff_t s, const void *gamma, const void *beta, double eps,
                                   double momentum, const void *rm_in, const void *rv_in,
                                   void *rm_out, void *rv_out, void *mean, void *inv_std,
                                   int nt) {
    const struct fastnn_batchnorm_table *t = fastnn_batchnorm_active;
    return f64 ? t->forward_train_f64(x, out, n, c, s, gamma, beta, eps, momentum, rm_in, rv_in,
                                    rm_out, rv_out, mean, inv_std, nt)
               : t->forward_train_f32(x, out, n, c, s, gamma, beta, eps, momentum, rm_in, rv_in,
                                    rm_out, rv_out, mean, inv_std, nt);
}
static inline int fastnn_bn_forward_test(int f64, const void *x, void *out, ptrdiff_t n,
                                         ptrdiff_t c,
                                  ptrdiff_t s, const void *gamma, const void *beta, double eps,
                                  const void *rm, const void *rv, void *mean, void *inv_std,
                                  int nt) {
    const struct fastnn_batchnorm_table *t = fastnn_batchnorm_active;
    return f64 ? t->forward_test_f64(x, out, n, c, s, gamma, beta, eps, rm, rv, mean, inv_std, nt)
               : t->forward_test_f32(x, out, n, c, s, gamma, beta, eps, rm, rv, mean, inv_std,
                                   nt);
}
static inline int fastnn_bn_backward(int f64, const void *dout, const void *x, void *dx,
                                     ptrdiff_t n,
                              ptrdiff_t c, ptrdiff_t s, const void *gamma, const void *mean,
                              const void *inv_std, double eps, int train, void *dgamma,
                              void *dbeta, int nt) {
    const struct fastnn_batchnorm_table *t = fastnn_batchnorm_active;
    return f64 ? t->backward_f64(dout, x, dx, n, c, s, gamma, mean, inv_std, eps, train, dgamma,
                               dbeta, nt)
               : t->backward_f32(dout, x, dx, n, c, s, gamma, mean, inv_std, eps, train, dgamma,
                               dbeta, nt);
}

#endif /* FASTNN_BATCHNORM_DISPATCH_H */
