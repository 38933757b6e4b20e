/* The bias kernels of one ISA target (setup.py compiles this file once per target): their
 * table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "bias_dispatch.h"
#include "bias_kernels.h"

const struct fastnn_bias_table FASTNN_TARGET_NAME(fastnn_bias) = {
    fastnn_bias_add_rows_impl_f32,
    fastnn_bias_add_rows_impl_f64,
    fastnn_bias_grad_cols_impl_f32,
    fastnn_bias_grad_cols_impl_f64,
};
