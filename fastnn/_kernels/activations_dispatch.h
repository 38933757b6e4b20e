/* The interface of the activation kernels between their per-target objects and
 * activations.pyx: kernel ids, the table each target exports (activations_target.c), and
 * the entry points that call through the table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_ACTIVATIONS_DISPATCH_H
#define FASTNN_ACTIVATIONS_DISPATCH_H

#include <stddef.h>

#include "fastnn_cpu.h"

/* Kernel ids; backward kernels (two inputs) have odd ids. */
enum {
    FASTNN_OP_RELU, FASTNN_OP_RELU_BACKWARD,
    FASTNN_OP_SIGMOID, FASTNN_OP_SIGMOID_BACKWARD,
    FASTNN_OP_TANH, FASTNN_OP_TANH_BACKWARD,
    FASTNN_OP_LEAKY_RELU, FASTNN_OP_LEAKY_RELU_BACKWARD,
    FASTNN_OP_ELU, FASTNN_OP_ELU_BACKWARD,
    FASTNN_N_OPS
};

/* out[0:n] = kernel(a[0:n]) or kernel(a[0:n], b[0:n]), alpha the kernel's scalar. */
typedef void (*fastnn_activation_f32_fn)(const float *a, const float *b, float *out,
                                         ptrdiff_t n, float alpha);
typedef void (*fastnn_activation_f64_fn)(const double *a, const double *b, double *out,
                                         ptrdiff_t n, double alpha);

struct fastnn_activations_table {
    fastnn_activation_f32_fn f32[FASTNN_N_OPS]; /* indexed by FASTNN_OP_* */
    fastnn_activation_f64_fn f64[FASTNN_N_OPS];
    void (*maxout_f32)(const float *z, float *y, ptrdiff_t *idx, ptrdiff_t m, ptrdiff_t k);
    void (*maxout_f64)(const double *z, double *y, ptrdiff_t *idx, ptrdiff_t m, ptrdiff_t k);
    void (*maxout_backward_f32)(const float *dout, const ptrdiff_t *idx, float *dz,
                                ptrdiff_t m, ptrdiff_t k);
    void (*maxout_backward_f64)(const double *dout, const ptrdiff_t *idx, double *dz,
                                ptrdiff_t m, ptrdiff_t k);
};

FASTNN_DISPATCH_TABLES(struct fastnn_activations_table, fastnn_activations)

/* Run kernel `op` on out[0:n] (b may be NULL for forward kernels) on the selected path, or
 * on the baseline one if `baseline` (the tests compare the two). */
static inline void fastnn_activation_f32(int op, int baseline, const float *a,
                                         const float *b, float *out, ptrdiff_t n, float alpha) {
    const struct fastnn_activations_table *t =
        baseline ? &fastnn_activations_baseline : fastnn_activations_active;
    t->f32[op](a, b, out, n, alpha);
}
static inline void fastnn_activation_f64(int op, int baseline, const double *a,
                                         const double *b, double *out, ptrdiff_t n,
                                         double alpha) {
    const struct fastnn_activations_table *t =
        baseline ? &fastnn_activations_baseline : fastnn_activations_active;
    t->f64[op](a, b, out, n, alpha);
}
static inline void fastnn_maxout_f32(const float *z, float *y, ptrdiff_t *idx, ptrdiff_t m,
                                     ptrdiff_t k) {
    fastnn_activations_active->maxout_f32(z, y, idx, m, k);
}
static inline void fastnn_maxout_f64(const double *z, double *y, ptrdiff_t *idx, ptrdiff_t m,
                                     ptrdiff_t k) {
    fastnn_activations_active->maxout_f64(z, y, idx, m, k);
}
static inline void fastnn_maxout_backward_f32(const float *dout, const ptrdiff_t *idx,
                                              float *dz, ptrdiff_t m, ptrdiff_t k) {
    fastnn_activations_active->maxout_backward_f32(dout, idx, dz, m, k);
}
static inline void fastnn_maxout_backward_f64(const double *dout, const ptrdiff_t *idx,
                                              double *dz, ptrdiff_t m, ptrdiff_t k) {
    fastnn_activations_active->maxout_backward_f64(dout, idx, dz, m, k);
}

#endif /* FASTNN_ACTIVATIONS_DISPATCH_H */
