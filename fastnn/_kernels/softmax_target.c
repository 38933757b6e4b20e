/* The softmax kernels of one ISA target (setup.py compiles this file once per target):
 * their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "softmax_dispatch.h"
#include "softmax_simd.h"

const struct fastnn_softmax_table FASTNN_TARGET_NAME(fastnn_softmax) = {
    fastnn_sm_loss_rows_f32,
    fastnn_sm_loss_rows_f64,
    fastnn_sm_rows_f32,
    fastnn_sm_rows_f64,
};
