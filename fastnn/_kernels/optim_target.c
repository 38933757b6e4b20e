/* The parameter updates of one ISA target (setup.py compiles this file once per target):
 * their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "optim_dispatch.h"
#include "optim_kernels.h"

const struct fastnn_optim_table FASTNN_TARGET_NAME(fastnn_optim) = {
    fastnn_update_rule_f32,
    fastnn_update_rule_f64,
};
