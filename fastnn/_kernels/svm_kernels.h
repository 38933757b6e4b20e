/* The SVM loss kernels: svm_template.h instantiated for float and double.  Included by
 * svm_target.c (once per ISA target). */
#ifndef FASTNN_SVM_KERNELS_H
#define FASTNN_SVM_KERNELS_H

/* The row sums of a template are an OpenMP simd reduction (MSVC's OpenMP 2.0 has no simd
 * construct). */
#if defined(_OPENMP) && !defined(_MSC_VER)
#define FASTNN_SVM_SIMD_SUM _Pragma("omp simd reduction(+ : total, positive)")
#else
#define FASTNN_SVM_SIMD_SUM
#endif

#define FASTNN_DTYPE 32
#include "svm_template.h"
#define FASTNN_DTYPE 64
#include "svm_template.h"

#endif /* FASTNN_SVM_KERNELS_H */
