/* The update rules for one dtype, written once: optim_kernels.h instantiates them per dtype
 * (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).  Each is one pass in the operation order of
 * its NumPy twin (fastnn/reference/optim.py), without contraction, so the bits are NumPy's.
 */
#include "fastnn_math.h"
#include "fastnn_simd.h"
#include "optim_dispatch.h"

#include "fastnn_dtype_begin.h"

static void FASTNN_NAME(sgd)(FASTNN_T *FASTNN_RESTRICT p, const FASTNN_T *FASTNN_RESTRICT g,
                             fastnn_index n, FASTNN_T lr) {
    for (fastnn_index i = 0; i < n; i++) p[i] -= g[i] * lr;
}
static void FASTNN_NAME(momentum)(FASTNN_T *FASTNN_RESTRICT p, const FASTNN_T *FASTNN_RESTRICT g,
                                  FASTNN_T *FASTNN_RESTRICT v, fastnn_index n, FASTNN_T lr,
                                  FASTNN_T mu) {
    for (fastnn_index i = 0; i < n; i++) {
        FASTNN_T vi = v[i] * mu - g[i] * lr;
        v[i] = vi;
        p[i] += vi;
    }
}
/* p += mu*mu * v - (1 + mu) * lr * g, then v = mu * v - lr * g (c1 = mu*mu,
 * c2 = (1 + mu) * lr, both rounded once by the caller). */
static void FASTNN_NAME(nesterov)(FASTNN_T *FASTNN_RESTRICT p, const FASTNN_T *FASTNN_RESTRICT g,
                                  FASTNN_T *FASTNN_RESTRICT v, fastnn_index n, FASTNN_T lr,
                                  FASTNN_T mu, FASTNN_T c1, FASTNN_T c2) {
    for (fastnn_index i = 0; i < n; i++) {
        FASTNN_T pi = p[i] + v[i] * c1;
        p[i] = pi - g[i] * c2;
        v[i] = v[i] * mu - g[i] * lr;
    }
}
static void FASTNN_NAME(rmsprop)(FASTNN_T *FASTNN_RESTRICT p, const FASTNN_T *FASTNN_RESTRICT g,
                                 FASTNN_T *FASTNN_RESTRICT cache, fastnn_index n, FASTNN_T lr,
                                 FASTNN_T decay, FASTNN_T one_minus_decay, FASTNN_T eps_in,
                                 FASTNN_T eps_out) {
    /* eps inside the root (the lecture's trainer) or outside (the course's optim.py): the
     * other one is 0, and adding +0 changes no bit of a non-negative sum */
    for (fastnn_index i = 0; i < n; i++) {
        FASTNN_T c = cache[i] * decay + (g[i] * g[i]) * one_minus_decay;
        cache[i] = c;
        p[i] -= (g[i] / (FASTNN_NAME(sqrt)(c + eps_in) + eps_out)) * lr;
    }
}
/* One adam pass; by_recip (a constant at each call) divides v by bc2 as v * r in double, r =
 * 1 / (double)bc2, rounded once to float32: the same bits as the float32 division for
 * 0 < |bc2| <= 1 (the proof and its exhaustive check: docs/perf/solver.md, bench/
 * div_by_scalar_exhaustive.c), a multiply in place of the divider's slowest operation. */
FASTNN_INLINE void FASTNN_NAME(adam_pass)(FASTNN_T *FASTNN_RESTRICT p,
                                         const FASTNN_T *FASTNN_RESTRICT g,
                                         FASTNN_T *FASTNN_RESTRICT m, FASTNN_T *FASTNN_RESTRICT v,
                                         fastnn_index n, FASTNN_T beta1,
                                         FASTNN_T one_minus_beta1, FASTNN_T beta2,
                                         FASTNN_T one_minus_beta2, FASTNN_T bc2, FASTNN_T eps,
                                         FASTNN_T step, int by_recip) {
    const double r = 1.0 / (double)bc2;
    for (fastnn_index i = 0; i < n; i++) {
        FASTNN_T mi = m[i] * beta1 + g[i] * one_minus_beta1;
        FASTNN_T vi = v[i] * beta2 + (g[i] * g[i]) * one_minus_beta2;
        m[i] = mi;
        v[i] = vi;
        FASTNN_T vhat = by_recip ? (FASTNN_T)((double)vi * r) : vi / bc2;
        p[i] -= (mi / (FASTNN_NAME(sqrt)(vhat) + eps)) * step;
    }
}
/* bc2 = 1 - beta2**t, step = lr / (1 - beta1**t).  float64 keeps the division (its
 * reciprocal form needs an FMA correction, and the x86-64 baseline has no FMA). */
static void FASTNN_NAME(adam)(FASTNN_T *FASTNN_RESTRICT p, const FASTNN_T *FASTNN_RESTRICT g,
                              FASTNN_T *FASTNN_RESTRICT m, FASTNN_T *FASTNN_RESTRICT v,
                              fastnn_index n, FASTNN_T beta1, FASTNN_T one_minus_beta1,
                              FASTNN_T beta2, FASTNN_T one_minus_beta2, FASTNN_T bc2,
                              FASTNN_T eps, FASTNN_T step) {
    if (FASTNN_DTYPE == 32 && FASTNN_ADAM_RECIPROCAL && bc2 != 0 && bc2 >= -1 && bc2 <= 1)
        FASTNN_NAME(adam_pass)(p, g, m, v, n, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2,
                               eps, step, 1);
    else
        FASTNN_NAME(adam_pass)(p, g, m, v, n, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2,
                               eps, step, 0);
}

/* The table's entry point (optim_dispatch.h): rule over elements [lo, lo + n) of a[0] (the
 * parameter), a[1] (the gradient) and a[2], a[3] (the state the rule keeps), with the
 * scalars s (in the order of the functions above) rounded once to the dtype. */
static void FASTNN_NAME(update_rule)(int rule, void **a, fastnn_index lo, fastnn_index n,
                                     const double *s) {
    FASTNN_T *p = (FASTNN_T *)a[0] + lo;
    const FASTNN_T *g = (const FASTNN_T *)a[1] + lo;
    FASTNN_T *state = rule == FASTNN_SGD ? NULL : (FASTNN_T *)a[2] + lo;
    switch (rule) {
    case FASTNN_SGD:
        FASTNN_NAME(sgd)(p, g, n, (FASTNN_T)s[0]);
        break;
    case FASTNN_MOMENTUM:
        FASTNN_NAME(momentum)(p, g, state, n, (FASTNN_T)s[0], (FASTNN_T)s[1]);
        break;
    case FASTNN_NESTEROV:
        FASTNN_NAME(nesterov)(p, g, state, n, (FASTNN_T)s[0], (FASTNN_T)s[1], (FASTNN_T)s[2],
                              (FASTNN_T)s[3]);
        break;
    case FASTNN_RMSPROP:
        FASTNN_NAME(rmsprop)(p, g, state, n, (FASTNN_T)s[0], (FASTNN_T)s[1], (FASTNN_T)s[2],
                             (FASTNN_T)s[3], (FASTNN_T)s[4]);
        break;
    default:
        FASTNN_NAME(adam)(p, g, state, (FASTNN_T *)a[3] + lo, n, (FASTNN_T)s[0], (FASTNN_T)s[1],
                          (FASTNN_T)s[2], (FASTNN_T)s[3], (FASTNN_T)s[4], (FASTNN_T)s[5],
                          (FASTNN_T)s[6]);
    }
}

#include "fastnn_dtype_end.h"
