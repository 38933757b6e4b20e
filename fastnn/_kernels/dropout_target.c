/* The dropout kernel of one ISA target (setup.py compiles this file once per target): its
 * table, named by FASTNN_TARGET_NAME. */
#include "fastnn_target.h"

#include "dropout_bits.h"
#include "dropout_dispatch.h"

#define DROP_T float
#define DROP_SFX f32
#include "dropout_template.h"
#undef DROP_T
#undef DROP_SFX

#define DROP_T double
#define DROP_SFX f64
#include "dropout_template.h"
#undef DROP_T
#undef DROP_SFX

const struct fastnn_dropout_table FASTNN_TARGET_NAME(fastnn_dropout) = {
    dropout_apply_f32,
    dropout_apply_f64,
};
