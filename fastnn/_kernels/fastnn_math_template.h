/* The scalar exp and expm1 of fastnn_math.h for one dtype (fastnn_dtype_begin.h), written
 * once over the value-type-generic macros there: FASTNN_NAME(exp_nonpos),
 * FASTNN_NAME(exp_scaled_nonpos) and FASTNN_NAME(expm1_nonpos), for x <= 0 or NaN (NaN
 * propagates: the clamp's comparison is false).  fastnn_math.h instantiates this file per
 * dtype inside its contraction region.
 */
#include "fastnn_dtype_begin.h"

/* exp(x) for x <= 0 (or NaN), subnormal results included. */
FASTNN_INLINE FASTNN_T FASTNN_NAME(exp_nonpos)(FASTNN_T x) {
    x = x < FASTNN_MACRO(FASTNN_EXP_MIN) ? FASTNN_MACRO(FASTNN_EXP_MIN) : x;
    FASTNN_EXP_NONPOS_CLAMPED(FASTNN_T, FASTNN_UINT, x, e)
    return e;
}

/* 2**K * exp(x) for x <= 0 (or NaN): exp before its last multiplication (fastnn_math.h). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(exp_scaled_nonpos)(FASTNN_T x) {
    x = x < FASTNN_MACRO(FASTNN_EXP_SCALED_MIN) ? FASTNN_MACRO(FASTNN_EXP_SCALED_MIN) : x;
    FASTNN_EXP_SCALED_NONPOS_CLAMPED(FASTNN_T, FASTNN_UINT, x, e)
    return e;
}

/* expm1(x) for x <= 0 (or NaN). */
FASTNN_INLINE FASTNN_T FASTNN_NAME(expm1_nonpos)(FASTNN_T x) {
    x = x < FASTNN_MACRO(FASTNN_EXPM1_MIN) ? FASTNN_MACRO(FASTNN_EXPM1_MIN) : x;
    FASTNN_EXPM1_NONPOS_CLAMPED(FASTNN_T, FASTNN_UINT, x, t)
    return t;
}

#include "fastnn_dtype_end.h"
