/* The SVM loss kernel of one ISA target (setup.py compiles this file once per target): its
 * table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "svm_dispatch.h"

#define SVM_T float
#define SVM_SFX f32
#include "svm_template.h"
#undef SVM_T
#undef SVM_SFX

#define SVM_T double
#define SVM_SFX f64
#include "svm_template.h"
#undef SVM_T
#undef SVM_SFX

const struct fastnn_svm_table FASTNN_TARGET_NAME(fastnn_svm) = {
    svm_loss_rows_f32,
    svm_loss_rows_f64,
};
