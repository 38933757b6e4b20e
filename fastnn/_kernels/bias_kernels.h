/* The bias kernels: bias_template.h instantiated for float and double.  Included by
 * bias_target.c (once per ISA target). */
#ifndef FASTNN_BIAS_KERNELS_H
#define FASTNN_BIAS_KERNELS_H

/* Columns summed at once by the bias gradient: their double sums stay in registers and
 * L1 while the rows stream past. */
#define FASTNN_BIAS_BLOCK 64

#define FASTNN_DTYPE 32
#include "bias_template.h"
#define FASTNN_DTYPE 64
#include "bias_template.h"

#endif /* FASTNN_BIAS_KERNELS_H */
