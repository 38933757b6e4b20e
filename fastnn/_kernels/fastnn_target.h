/* Included first by every <family>_target.c, the translation units that setup.py compiles
 * once per ISA target with -DFASTNN_TARGET_ISA=<FASTNN_ISA_*> and that target's compiler
 * flags (see fastnn_cpu.h).  FASTNN_TARGET_NAME(name) is the name of this target's copy of a
 * table (name_baseline, name_avx2, name_avx512); everything else in a target unit is static,
 * so the copies never clash when they are linked into one extension.
 *
 * The kernels may test FASTNN_TARGET_ISA at compile time (for example to pick a vector
 * comparison width or a streaming-store intrinsic); they never ask the CPU, which the
 * dispatcher already did.
 */
#ifndef FASTNN_TARGET_H
#define FASTNN_TARGET_H

#include "fastnn_cpu.h"

#ifndef FASTNN_TARGET_ISA
#error "compile a *_target.c file with -DFASTNN_TARGET_ISA=0, 1 or 2 (setup.py does)"
#endif

/* The target's flags must match its name: an AVX2 table built without AVX2 code (or a
 * baseline one built with it, which would run AVX2 instructions on any CPU) is a build bug. */
#if FASTNN_TARGET_ISA == FASTNN_ISA_AVX512
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) ||              \
    !defined(__AVX512VL__) || (!defined(__FMA__) && !defined(_MSC_VER))
#error "the AVX-512 target needs -march=x86-64-v4 (or /arch:AVX512)"
#endif
#define FASTNN_TARGET_NAME(name) name##_avx512
#elif FASTNN_TARGET_ISA == FASTNN_ISA_AVX2
#if !defined(__AVX2__) || defined(__AVX512F__) || (!defined(__FMA__) && !defined(_MSC_VER))
#error "the AVX2 target needs -march=x86-64-v3 (or /arch:AVX2) and no AVX-512"
#endif
#define FASTNN_TARGET_NAME(name) name##_avx2
#elif FASTNN_TARGET_ISA == FASTNN_ISA_BASELINE
#if defined(__AVX__)
#error "the baseline target must be compiled without AVX flags"
#endif
#define FASTNN_TARGET_NAME(name) name##_baseline
#else
#error "unknown FASTNN_TARGET_ISA"
#endif

#endif /* FASTNN_TARGET_H */
