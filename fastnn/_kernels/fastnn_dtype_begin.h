/* The one templating idiom of the kernels' dtype-generic C.  A template header
 * (<family>_template.h) holds loops written once; its includer instantiates it per dtype:
 *
 *     #define FASTNN_DTYPE 32      (float; 64 for double)
 *     #include "activations_template.h"
 *
 * The template includes this file first and fastnn_dtype_end.h last (which undefines all
 * of it, FASTNN_DTYPE included), so neither this file nor a template has an include guard.
 * Only the family's header (activations_simd.h, batchnorm_kernels.h, dropout_kernels.h,
 * layernorm_kernels.h, optim_kernels.h, softmax_simd.h, svm_kernels.h) instantiates a
 * template; other code includes that header.
 * Inside a template:
 *   FASTNN_T     the element type (float or double)
 *   FASTNN_T_MAX its largest finite value (FLT_MAX or DBL_MAX)
 *   FASTNN_NAME(n)  fastnn_<n>_f32 or fastnn_<n>_f64: the dtype's copy of n, for the names
 *                   the template defines and for the per-dtype functions it calls (for
 *                   example FASTNN_NAME(exp_nonpos) of fastnn_math.h).
 */
#include <float.h>

#if !defined(FASTNN_DTYPE)
#error "define FASTNN_DTYPE (32 or 64) before including a *_template.h"
#elif FASTNN_DTYPE == 32
#define FASTNN_T float
#define FASTNN_T_MAX FLT_MAX
#define FASTNN_NAME(name) fastnn_##name##_f32
#elif FASTNN_DTYPE == 64
#define FASTNN_T double
#define FASTNN_T_MAX DBL_MAX
#define FASTNN_NAME(name) fastnn_##name##_f64
#else
#error "FASTNN_DTYPE must be 32 (float) or 64 (double)"
#endif
