/* The scalar exp and expm1 of fastnn_math.h for one dtype (fastnn_dtype_begin.h), written
 * once over the value-type-generic macros there: FASTNN_NAME(exp_nonpos),
 * FASTNN_NAME(exp_scaled_nonpos) and FASTNN_NAME(expm1_nonpos), for x <= 0 or NaN (NaN
 * propagates: the clamp's comparison is false).  fastnn_math.h instantiates this file per
 * dtype inside its contraction region.
 */
#include "fastnn_dtype_begin.h"

/* name_nonpos(x) for x <= 0 (or NaN): KIND's function of fastnn_math.h, x clamped to its
 * range first. */
#define FASTNN_MATH_NONPOS(name, KIND)                                                        \
    FASTNN_INLINE FASTNN_T FASTNN_NAME(name##_nonpos)(FASTNN_T x) {                           \
        x = x < FASTNN_MACRO(FASTNN_##KIND##_MIN) ? FASTNN_MACRO(FASTNN_##KIND##_MIN) : x;    \
        FASTNN_NONPOS_CLAMPED(KIND, FASTNN_T, FASTNN_UINT, x, r)                              \
        return r;                                                                             \
    }

FASTNN_MATH_NONPOS(exp, EXP)                /* exp(x), subnormal results included */
FASTNN_MATH_NONPOS(exp_scaled, EXP_SCALED)  /* 2**K * exp(x): exp before its last product */
FASTNN_MATH_NONPOS(expm1, EXPM1)            /* expm1(x) */

#undef FASTNN_MATH_NONPOS

#include "fastnn_dtype_end.h"
