/* The in-place parameter updates of the training loop (the minibatch row gather is in
 * optim_take_rows.h).  optim_target.c compiles them once per ISA target (fastnn_cpu.h).
 *
 * - The updates are one pass over the parameter and its state arrays, in the exact operation
 *   order of the NumPy twins (fastnn/reference/optim.py), and scalars are rounded to the
 *   array's dtype first, as NumPy does with a Python float; -std=c11 keeps floating-point
 *   contraction off, so the results are bitwise those of the twins.  The arrays never overlap
 *   (the caller takes the NumPy path when they might), hence FASTNN_RESTRICT.
 */
#ifndef FASTNN_OPTIM_KERNELS_H
#define FASTNN_OPTIM_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"
#include "optim_dispatch.h"

/* One definition per dtype: T the element type, SUF the name suffix, SQRT its sqrt. */
#define FASTNN_OPTIM_DEFINE(T, SUF, SQRT)                                                   \
static void fastnn_sgd_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,             \
                                           fastnn_index n, T lr) {                          \
    for (fastnn_index i = 0; i < n; i++) p[i] -= g[i] * lr;                                 \
}                                                                                           \
static void fastnn_momentum_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,        \
                                                T *FASTNN_RESTRICT v, fastnn_index n, T lr, T mu) { \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T vi = v[i] * mu - g[i] * lr;                                                       \
        v[i] = vi;                                                                          \
        p[i] += vi;                                                                         \
    }                                                                                       \
}                                                                                           \
/* p += mu*mu * v - (1 + mu) * lr * g, then v = mu * v - lr * g (c1 = mu*mu,              \
 * c2 = (1 + mu) * lr, both rounded once by the caller). */                                \
static void fastnn_nesterov_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,        \
                                                T *FASTNN_RESTRICT v, fastnn_index n, T lr, T mu,  \
                                                T c1, T c2) {                               \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T pi = p[i] + v[i] * c1;                                                            \
        p[i] = pi - g[i] * c2;                                                              \
        v[i] = v[i] * mu - g[i] * lr;                                                       \
    }                                                                                       \
}                                                                                           \
static void fastnn_rmsprop_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,         \
                                               T *FASTNN_RESTRICT cache, fastnn_index n, T lr,     \
                                               T decay, T one_minus_decay, T eps) {         \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T c = cache[i] * decay + (g[i] * g[i]) * one_minus_decay;                           \
        cache[i] = c;                                                                       \
        p[i] -= (g[i] / SQRT(c + eps)) * lr;                                                \
    }                                                                                       \
}                                                                                           \
/* bc2 = 1 - beta2**t, step = lr / (1 - beta1**t). */                                      \
static void fastnn_adam_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,            \
                                            T *FASTNN_RESTRICT m, T *FASTNN_RESTRICT v, fastnn_index n,   \
                                            T beta1, T one_minus_beta1, T beta2,            \
                                            T one_minus_beta2, T bc2, T eps, T step) {      \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T mi = m[i] * beta1 + g[i] * one_minus_beta1;                                       \
        T vi = v[i] * beta2 + (g[i] * g[i]) * one_minus_beta2;                              \
        m[i] = mi;                                                                          \
        v[i] = vi;                                                                          \
        p[i] -= (mi / (SQRT(vi / bc2) + eps)) * step;                                       \
    }                                                                                       \
}

FASTNN_OPTIM_DEFINE(float, f32, sqrtf)
FASTNN_OPTIM_DEFINE(double, f64, sqrt)

/* One entry point per dtype (the table's, optim_dispatch.h): rule over elements
 * [lo, lo + n) of a[0] (the parameter), a[1] (the gradient) and a[2], a[3] (the state the
 * rule keeps), with the scalars s (the orders of the functions above) rounded once to T. */

#define FASTNN_UPDATE_DEFINE(T, SUF)                                                        \
static void fastnn_update_rule_##SUF(int rule, void **a, fastnn_index lo, fastnn_index n,   \
                                const double *s) {                                          \
    T *p = (T *)a[0] + lo;                                                                  \
    const T *g = (const T *)a[1] + lo;                                                      \
    switch (rule) {                                                                         \
    case FASTNN_SGD:                                                                        \
        fastnn_sgd_##SUF(p, g, n, (T)s[0]);                                                 \
        break;                                                                              \
    case FASTNN_MOMENTUM:                                                                   \
        fastnn_momentum_##SUF(p, g, (T *)a[2] + lo, n, (T)s[0], (T)s[1]);                   \
        break;                                                                              \
    case FASTNN_NESTEROV:                                                                   \
        fastnn_nesterov_##SUF(p, g, (T *)a[2] + lo, n, (T)s[0], (T)s[1], (T)s[2], (T)s[3]); \
        break;                                                                              \
    case FASTNN_RMSPROP:                                                                    \
        fastnn_rmsprop_##SUF(p, g, (T *)a[2] + lo, n, (T)s[0], (T)s[1], (T)s[2], (T)s[3]);  \
        break;                                                                              \
    default:                                                                                \
        fastnn_adam_##SUF(p, g, (T *)a[2] + lo, (T *)a[3] + lo, n, (T)s[0], (T)s[1],        \
                          (T)s[2], (T)s[3], (T)s[4], (T)s[5], (T)s[6]);                     \
    }                                                                                       \
}

FASTNN_UPDATE_DEFINE(float, f32)
FASTNN_UPDATE_DEFINE(double, f64)

#endif /* FASTNN_OPTIM_KERNELS_H */
