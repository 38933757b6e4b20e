/* The SVM loss kernels: svm_template.h instantiated for float and double.  Included by
 * svm_target.c (once per ISA target). */
#ifndef FASTNN_SVM_KERNELS_H
#define FASTNN_SVM_KERNELS_H

#include "fastnn_simd.h"

/* The row sums of a template are an OpenMP simd reduction.  A short row's loop asks for 8
 * lanes: float32 rows otherwise get 16 float lanes (twice the double accumulators' width),
 * and a row of 10 never enters the vector loop. */
#define FASTNN_SVM_SIMD_SUM FASTNN_OMP_SIMD_WITH(reduction(+ : total, positive))
#define FASTNN_SVM_SIMD_SUM_SHORT FASTNN_OMP_SIMD_WITH(simdlen(8) reduction(+ : total, positive))

/* Rows of at most this many classes run svm_hinge_short: the crossovers measured per target
 * (docs/perf/kernels.md).  The baseline target never does: SSE2 has no 64-bit integer
 * compare for the column mask. */
#ifndef FASTNN_SVM_SHORT_ROW
#if FASTNN_TARGET_ISA == FASTNN_ISA_AVX512
#define FASTNN_SVM_SHORT_ROW 64
#elif FASTNN_TARGET_ISA == FASTNN_ISA_AVX2
#define FASTNN_SVM_SHORT_ROW 32
#else
#define FASTNN_SVM_SHORT_ROW 0
#endif
#endif

#define FASTNN_DTYPE 32
#include "svm_template.h"
#define FASTNN_DTYPE 64
#include "svm_template.h"

#endif /* FASTNN_SVM_KERNELS_H */
