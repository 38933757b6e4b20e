/* The interface of the dropout kernel between its per-target objects and dropout.pyx: the
 * table each target exports (dropout_target.c) and the entry points that call through the
 * table chosen at import (fastnn_cpu.h).
 */
#ifndef FASTNN_DROPOUT_DISPATCH_H
#define FASTNN_DROPOUT_DISPATCH_H

#include <stdint.h>

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

struct fastnn_dropout_table {
    void (*apply_f32)(const float *x, float *out, fastnn_index lo, fastnn_index hi, uint64_t key,
                      uint64_t threshold, float scale);
    void (*apply_f64)(const double *x, double *out, fastnn_index lo, fastnn_index hi,
                      uint64_t key, uint64_t threshold, double scale);
};

FASTNN_DISPATCH_TABLES(struct fastnn_dropout_table, fastnn_dropout)

/* out[i] = x[i] * (keep(i) ? scale : 0) for i in [lo, hi), lo even (dropout_template.h). */
static inline void fastnn_dropout_apply_f32(const float *x, float *out, fastnn_index lo,
                                            fastnn_index hi, uint64_t key, uint64_t threshold,
                                            float scale) {
    fastnn_dropout_active->apply_f32(x, out, lo, hi, key, threshold, scale);
}
static inline void fastnn_dropout_apply_f64(const double *x, double *out, fastnn_index lo,
                                            fastnn_index hi, uint64_t key, uint64_t threshold,
                                            double scale) {
    fastnn_dropout_active->apply_f64(x, out, lo, hi, key, threshold, scale);
}

#endif /* FASTNN_DROPOUT_DISPATCH_H */
