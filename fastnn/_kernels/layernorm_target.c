/* The layer normalization kernels of one ISA target (setup.py compiles this file once per
 * target): their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "layernorm_dispatch.h"
#include "layernorm_kernels.h"

const struct fastnn_layernorm_table FASTNN_TARGET_NAME(fastnn_layernorm) = {
    fastnn_ln_forward_f32,
    fastnn_ln_forward_f64,
    fastnn_ln_backward_f32,
    fastnn_ln_backward_f64,
};
