/* The layer normalization kernels of one ISA target (setup.py compiles this file once per
 * target): their table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include <float.h>
#include <math.h>

#include "layernorm_dispatch.h"

#define LN_T float
#define LN_SFX f32
#define LN_MAX FLT_MAX
#include "layernorm_template.h"
#undef LN_T
#undef LN_SFX
#undef LN_MAX

#define LN_T double
#define LN_SFX f64
#define LN_MAX DBL_MAX
#include "layernorm_template.h"
#undef LN_T
#undef LN_SFX
#undef LN_MAX

const struct fastnn_layernorm_table FASTNN_TARGET_NAME(fastnn_layernorm) = {
    ln_forward_f32,
    ln_forward_f64,
    ln_backward_f32,
    ln_backward_f64,
};
