/* The one templating idiom of the kernels' dtype-generic C.  A template header
 * (<family>_template.h) holds loops written once; its includer instantiates it per dtype:
 *
 *     #define FASTNN_DTYPE 32      (float; 64 for double)
 *     #include "activations_template.h"
 *
 * The template includes this file first and fastnn_dtype_end.h last (which undefines all
 * of it, FASTNN_DTYPE included), so neither this file nor a template has an include guard.
 * Only the family's header (activations_simd.h, batchnorm_kernels.h, dropout_kernels.h,
 * layernorm_kernels.h, optim_kernels.h, softmax_simd.h, svm_kernels.h, and fastnn_math.h for
 * fastnn_math_template.h) instantiates a template; other code includes that header.
 * Inside a template:
 *   FASTNN_T     the element type (float or double)
 *   FASTNN_T_MAX its largest finite value (FLT_MAX or DBL_MAX)
 *   FASTNN_NAME(n)  fastnn_<n>_f32 or fastnn_<n>_f64: the dtype's copy of n, for the names
 *                   the template defines and for the per-dtype functions it calls (for
 *                   example FASTNN_NAME(exp_nonpos) of fastnn_math.h).
 *   FASTNN_MACRO(N) N_F32 or N_F64: the dtype's copy of a per-dtype macro N (for example
 *                   FASTNN_MACRO(FASTNN_EXP_MIN) of fastnn_math.h).
 *   FASTNN_UINT  the unsigned integer of the element's width (uint32_t or uint64_t: its bits)
 *   FASTNN_T_MANT_BITS, FASTNN_T_EXP_BIAS  the stored fraction bits (23 or 52) and the
 *                   exponent bias (127 or 1023) of the element's IEEE format
 */
#include <float.h>
#include <stdint.h>

#if !defined(FASTNN_DTYPE)
#error "define FASTNN_DTYPE (32 or 64) before including a *_template.h"
#elif FASTNN_DTYPE == 32
#define FASTNN_T float
#define FASTNN_T_MAX FLT_MAX
#define FASTNN_NAME(name) fastnn_##name##_f32
#define FASTNN_MACRO(name) name##_F32
#define FASTNN_UINT uint32_t
#define FASTNN_T_MANT_BITS (FLT_MANT_DIG - 1)
#define FASTNN_T_EXP_BIAS (FLT_MAX_EXP - 1)
#elif FASTNN_DTYPE == 64
#define FASTNN_T double
#define FASTNN_T_MAX DBL_MAX
#define FASTNN_NAME(name) fastnn_##name##_f64
#define FASTNN_MACRO(name) name##_F64
#define FASTNN_UINT uint64_t
#define FASTNN_T_MANT_BITS (DBL_MANT_DIG - 1)
#define FASTNN_T_EXP_BIAS (DBL_MAX_EXP - 1)
#else
#error "FASTNN_DTYPE must be 32 (float) or 64 (double)"
#endif
