/* The interface of the parameter updates between their per-target objects and optim.pyx:
 * the update rules, the table each target exports (optim_target.c) and the entry point that
 * calls through the table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_OPTIM_DISPATCH_H
#define FASTNN_OPTIM_DISPATCH_H

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

/* The update rules (optim_kernels.h). */
enum fastnn_rule { FASTNN_SGD, FASTNN_MOMENTUM, FASTNN_NESTEROV, FASTNN_RMSPROP, FASTNN_ADAM };

/* rule over elements [lo, lo + n) of a[0] (the parameter), a[1] (the gradient) and a[2],
 * a[3] (the rule's state), with the rule's scalars s. */
typedef void (*fastnn_update_fn)(int rule, void **a, fastnn_index lo, fastnn_index n,
                                 const double *s);

struct fastnn_optim_table {
    fastnn_update_fn update_f32;
    fastnn_update_fn update_f64;
};

FASTNN_DISPATCH_TABLES(struct fastnn_optim_table, fastnn_optim)

/* The update for the dtype f64 says (float64, else float32). */
static inline void fastnn_update(int f64, int rule, void **a, fastnn_index lo, fastnn_index n,
                                 const double *s) {
    (f64 ? fastnn_optim_active->update_f64 : fastnn_optim_active->update_f32)(rule, a, lo, n, s);
}

#endif /* FASTNN_OPTIM_DISPATCH_H */
