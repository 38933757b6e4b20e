/* The batch-normalization kernels of one ISA target (setup.py compiles this file once per
 * target): their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "batchnorm_dispatch.h"
#include "batchnorm_kernels.h"

const struct fastnn_batchnorm_table FASTNN_TARGET_NAME(fastnn_batchnorm) = {
    bn_forward_train_f, bn_forward_test_f, bn_backward_f,
    bn_forward_train_d, bn_forward_test_d, bn_backward_d,
};
