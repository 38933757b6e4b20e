/* Vectorisable element-wise activation loops for fastnn._kernels.activations.
 *
 * Why hand-written maths: gcc does not vectorise libm's exp/expm1/tanh, so every loop here
 * calls only the inline exp/expm1 of fastnn_math.h (a Cody-Waite range reduction and a
 * polynomial), which compilers turn into SIMD code at -O3 without -ffast-math.
 *
 * Accuracy (measured in tests/test_activations.py): sigmoid, tanh and ELU are within 4 ulp of
 * a float64 (for float32) or long-double (for float64) evaluation over the whole real line,
 * subnormal results included; relu, leaky ReLU and maxout are exact.
 *
 * activations_template.h, instantiated once per dtype below (fastnn_dtype_begin.h), holds
 * every loop (written once).
 *
 * Stores are ordinary stores: non-temporal (streaming) stores through an L1 block buffer were
 * measured slower on the development machine at 8M elements (1.1-1.7x), so they are not used.
 *
 * activations_target.c compiles these loops once per ISA target (baseline, AVX2+FMA,
 * AVX-512) and exports them as a table (activations_dispatch.h); FMA contraction happens only
 * in the targets that have FMA, so the tests also run the baseline table on machines that
 * dispatch to a wider one.
 */
#ifndef FASTNN_ACTIVATIONS_SIMD_H
#define FASTNN_ACTIVATIONS_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "activations_dispatch.h"
#include "fastnn_math.h"
#include "fastnn_simd.h"

#define FASTNN_DTYPE 32
#include "activations_template.h"
#define FASTNN_DTYPE 64
#include "activations_template.h"

#endif /* FASTNN_ACTIVATIONS_SIMD_H */
