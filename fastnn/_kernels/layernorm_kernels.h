/* The layer normalization kernels: layernorm_template.h instantiated for float and double.
 * Included by layernorm_target.c (once per ISA target). */
#ifndef FASTNN_LAYERNORM_KERNELS_H
#define FASTNN_LAYERNORM_KERNELS_H

/* independent partial sums of a row (kept in vector registers) */
#define FASTNN_LN_LANES 16
/* rows whose column sums (dgamma, dbeta) are added in the dtype before going to double */
#define FASTNN_LN_FLUSH 16

#define FASTNN_DTYPE 32
#include "layernorm_template.h"
#define FASTNN_DTYPE 64
#include "layernorm_template.h"

#endif /* FASTNN_LAYERNORM_KERNELS_H */
