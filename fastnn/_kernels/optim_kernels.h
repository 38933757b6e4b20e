/* The in-place parameter updates of the training loop (the minibatch row gather is in
 * optim_take_rows.h).  optim_target.c compiles them once per ISA target (fastnn_cpu.h).
 *
 * - The updates are one pass over the parameter and its state arrays, in the exact operation
 *   order of the NumPy twins (fastnn/reference/optim.py), and scalars are rounded to the
 *   array's dtype first, as NumPy does with a Python float; -std=c11 keeps floating-point
 *   contraction off, so the results are bitwise those of the twins.  The arrays never overlap
 *   (the caller takes the NumPy path when they might), hence FASTNN_RESTRICT.
 */
#ifndef FASTNN_OPTIM_KERNELS_H
#define FASTNN_OPTIM_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"
#include "optim_dispatch.h"

/* Whether adam's float32 bias correction multiplies by the reciprocal in double (exact, see
 * optim_template.h): faster on the baseline and AVX-512 targets, slower on the AVX2 one (its
 * ymm conversions cost more than the division they replace; Zen 4, docs/perf/solver.md). */
#define FASTNN_ADAM_RECIPROCAL (FASTNN_TARGET_ISA != FASTNN_ISA_AVX2)

#define FASTNN_DTYPE 32
#include "optim_template.h"
#define FASTNN_DTYPE 64
#include "optim_template.h"

#endif /* FASTNN_OPTIM_KERNELS_H */
