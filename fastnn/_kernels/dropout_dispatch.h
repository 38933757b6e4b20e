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
    void (*apply_bits_f32)(const float *x, float *out, uint32_t *bits, fastnn_index lo,
                           fastnn_index hi, uint64_t key, uint64_t threshold, float scale);
    void (*apply_bits_f64)(const double *x, double *out, uint32_t *bits, fastnn_index lo,
                           fastnn_index hi, uint64_t key, uint64_t threshold, double scale);
    void (*from_bits_f32)(const float *x, float *out, const uint32_t *bits, fastnn_index lo,
                          fastnn_index hi, float scale);
    void (*from_bits_f64)(const double *x, double *out, const uint32_t *bits, fastnn_index lo,
                          fastnn_index hi, double scale);
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

/* The same, also writing the keep bits of [lo, hi) to bits[lo / 32 ..] (lo a multiple of 32;
 * dropout_bits.h: FASTNN_DROPOUT_GROUP). */
static inline void fastnn_dropout_apply_bits_f32(const float *x, float *out, uint32_t *bits,
                                                 fastnn_index lo, fastnn_index hi, uint64_t key,
                                                 uint64_t threshold, float scale) {
    fastnn_dropout_active->apply_bits_f32(x, out, bits, lo, hi, key, threshold, scale);
}
static inline void fastnn_dropout_apply_bits_f64(const double *x, double *out, uint32_t *bits,
                                                 fastnn_index lo, fastnn_index hi, uint64_t key,
                                                 uint64_t threshold, double scale) {
    fastnn_dropout_active->apply_bits_f64(x, out, bits, lo, hi, key, threshold, scale);
}

/* out[i] = x[i] * (bit i of bits set ? scale : 0) for i in [lo, hi), lo a multiple of 32. */
static inline void fastnn_dropout_from_bits_f32(const float *x, float *out,
                                                const uint32_t *bits, fastnn_index lo,
                                                fastnn_index hi, float scale) {
    fastnn_dropout_active->from_bits_f32(x, out, bits, lo, hi, scale);
}
static inline void fastnn_dropout_from_bits_f64(const double *x, double *out,
                                                const uint32_t *bits, fastnn_index lo,
                                                fastnn_index hi, double scale) {
    fastnn_dropout_active->from_bits_f64(x, out, bits, lo, hi, scale);
}

#endif /* FASTNN_DROPOUT_DISPATCH_H */
