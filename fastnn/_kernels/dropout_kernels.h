/* The dropout kernels: dropout_template.h instantiated for float and double.  Included by
 * dropout_target.c (once per ISA target). */
#ifndef FASTNN_DROPOUT_KERNELS_H
#define FASTNN_DROPOUT_KERNELS_H

#define FASTNN_DTYPE 32
#include "dropout_template.h"
#define FASTNN_DTYPE 64
#include "dropout_template.h"

#endif /* FASTNN_DROPOUT_KERNELS_H */
