/* The SVM loss kernel of one ISA target (setup.py compiles this file once per target): its
 * table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "svm_dispatch.h"
#include "svm_kernels.h"

const struct fastnn_svm_table FASTNN_TARGET_NAME(fastnn_svm) = {
    fastnn_svm_hinge_rows_f32,
    fastnn_svm_hinge_rows_f64,
};
