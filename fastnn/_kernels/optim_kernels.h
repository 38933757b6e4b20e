/* Kernels of the training loop: the minibatch row gather and the in-place parameter updates.
 *
 * - take_rows copies whole rows with memcpy when rows are contiguous (the trainer's case) and
 *   falls back to an element loop for strided rows.  It works on bytes, so every fixed-size
 *   dtype is handled by one function.  Indices were checked by the caller to lie in [-n, n).
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

#define FASTNN_STRIDED_COPY(T)                                                  \
    for (fastnn_index c = 0; c < ncols; c++)                                    \
        *(T *)(d + c * d_col) = *(const T *)(s + c * s_col);

/* dst rows r0..r1-1 = src rows idx[r0..r1-1]; strides in bytes. */
static void fastnn_take_rows(const char *src, char *dst, const fastnn_index *idx,
                             fastnn_index r0, fastnn_index r1, fastnn_index n,
                             fastnn_index ncols, fastnn_index s_row, fastnn_index s_col,
                             fastnn_index d_row, fastnn_index d_col, fastnn_index itemsize) {
    if (s_col == itemsize && d_col == itemsize) {
        size_t row_bytes = (size_t)(ncols * itemsize);
        for (fastnn_index r = r0; r < r1; r++) {
            fastnn_index i = idx[r] < 0 ? idx[r] + n : idx[r];
            memcpy(dst + r * d_row, src + i * s_row, row_bytes);
        }
        return;
    }
    for (fastnn_index r = r0; r < r1; r++) {
        fastnn_index i = idx[r] < 0 ? idx[r] + n : idx[r];
        const char *s = src + i * s_row;
        char *d = dst + r * d_row;
        switch (itemsize) {
        case 4: FASTNN_STRIDED_COPY(uint32_t) break;
        case 8: FASTNN_STRIDED_COPY(uint64_t) break;
        case 2: FASTNN_STRIDED_COPY(uint16_t) break;
        case 1: FASTNN_STRIDED_COPY(uint8_t) break;
        default:
            for (fastnn_index c = 0; c < ncols; c++)
                memcpy(d + c * d_col, s + c * s_col, (size_t)itemsize);
        }
    }
}

/* One definition per dtype: T the element type, SUF the name suffix, SQRT its sqrt. */
#define FASTNN_OPTIM_DEFINE(T, SUF, SQRT)                                                   \
FASTNN_CLONES static void fastnn_sgd_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,             \
                                           fastnn_index n, T lr) {                          \
    for (fastnn_index i = 0; i < n; i++) p[i] -= g[i] * lr;                                 \
}                                                                                           \
FASTNN_CLONES static void fastnn_momentum_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,        \
                                                T *FASTNN_RESTRICT v, fastnn_index n, T lr, T mu) { \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T vi = v[i] * mu - g[i] * lr;                                                       \
        v[i] = vi;                                                                          \
        p[i] += vi;                                                                         \
    }                                                                                       \
}                                                                                           \
/* p += mu*mu * v - (1 + mu) * lr * g, then v = mu * v - lr * g (c1 = mu*mu,              \
 * c2 = (1 + mu) * lr, both rounded once by the caller). */                                \
FASTNN_CLONES static void fastnn_nesterov_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,        \
                                                T *FASTNN_RESTRICT v, fastnn_index n, T lr, T mu,  \
                                                T c1, T c2) {                               \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T pi = p[i] + v[i] * c1;                                                            \
        p[i] = pi - g[i] * c2;                                                              \
        v[i] = v[i] * mu - g[i] * lr;                                                       \
    }                                                                                       \
}                                                                                           \
FASTNN_CLONES static void fastnn_rmsprop_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,         \
                                               T *FASTNN_RESTRICT cache, fastnn_index n, T lr,     \
                                               T decay, T one_minus_decay, T eps) {         \
    for (fastnn_index i = 0; i < n; i++) {                                                  \
        T c = cache[i] * decay + (g[i] * g[i]) * one_minus_decay;                           \
        cache[i] = c;                                                                       \
        p[i] -= (g[i] / SQRT(c + eps)) * lr;                                                \
    }                                                                                       \
}                                                                                           \
/* bc2 = 1 - beta2**t, step = lr / (1 - beta1**t). */                                      \
FASTNN_CLONES static void fastnn_adam_##SUF(T *FASTNN_RESTRICT p, const T *FASTNN_RESTRICT g,            \
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

/* The update rules, and one entry point per dtype for optim.pyx: rule over elements
 * [lo, lo + n) of a[0] (the parameter), a[1] (the gradient) and a[2], a[3] (the state the
 * rule keeps), with the scalars s (the orders of the functions above) rounded once to T. */
enum fastnn_rule { FASTNN_SGD, FASTNN_MOMENTUM, FASTNN_NESTEROV, FASTNN_RMSPROP, FASTNN_ADAM };

#define FASTNN_UPDATE_DEFINE(T, SUF)                                                        \
static void fastnn_update_##SUF(int rule, void **a, fastnn_index lo, fastnn_index n,        \
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

#define fastnn_update(f64, ...) \
    ((f64) ? fastnn_update_f64(__VA_ARGS__) : fastnn_update_f32(__VA_ARGS__))

#endif /* FASTNN_OPTIM_KERNELS_H */
