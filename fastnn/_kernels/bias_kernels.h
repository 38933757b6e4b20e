/* The bias kernels: bias_template.h instantiated for float and double.  Included by
 * bias_target.c (once per ISA target). */
#ifndef FASTNN_BIAS_KERNELS_H
#define FASTNN_BIAS_KERNELS_H

/* Columns summed at once by the bias gradient: their double sums (8 KB) stay in L1 while
 * the rows stream past, each row read in segments of up to 4 KB (float) or 8 KB (double).
 * With 64 columns the loop read 256-512 bytes of every row in turn, a stride of a whole row,
 * which the prefetchers followed poorly: 1.4-2.0x the time at (4096, 1024) on every path
 * (docs/perf/isa_paths.md). */
#define FASTNN_BIAS_BLOCK 1024

#define FASTNN_DTYPE 32
#include "bias_template.h"
#define FASTNN_DTYPE 64
#include "bias_template.h"

#endif /* FASTNN_BIAS_KERNELS_H */
