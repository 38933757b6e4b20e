/* The batch-normalization kernels of one ISA target (setup.py compiles this file once per
 * target): their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "batchnorm_dispatch.h"
#include "batchnorm_kernels.h"

const struct fastnn_batchnorm_table FASTNN_TARGET_NAME(fastnn_batchnorm) = {
    fastnn_bn_forward_train_f32, fastnn_bn_forward_test_f32, fastnn_bn_backward_f32,
    fastnn_bn_forward_train_f64, fastnn_bn_forward_test_f64, fastnn_bn_backward_f64,
};
