/* The dropout kernel of one ISA target (setup.py compiles this file once per target): its
 * table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "dropout_dispatch.h"
#include "dropout_kernels.h"

const struct fastnn_dropout_table FASTNN_TARGET_NAME(fastnn_dropout) = {
    fastnn_dropout_mask_rows_f32,
    fastnn_dropout_mask_rows_f64,
    fastnn_dropout_mask_rows_bits_f32,
    fastnn_dropout_mask_rows_bits_f64,
    fastnn_dropout_bits_rows_f32,
    fastnn_dropout_bits_rows_f64,
};
