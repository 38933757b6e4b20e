/* The minibatch row gather of the training loop (not dispatched per ISA: its work is
 * memcpy, which the C library already picks per CPU).
 *
 * take_rows copies whole rows with memcpy when rows are contiguous (the trainer's case) and
 * falls back to an element loop for strided rows.  It works on bytes, so every fixed-size
 * dtype is handled by one function.  Indices were checked by the caller to lie in [-n, n).
 */
#ifndef FASTNN_OPTIM_TAKE_ROWS_H
#define FASTNN_OPTIM_TAKE_ROWS_H

#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"

#define FASTNN_STRIDED_COPY(T)                                                  \
    for (fastnn_index c = 0; c < ncols; c++)                                    \
        *(T *)(d + c * d_col) = *(const T *)(s + c * s_col);

/* dst rows r0..r1-1 = src rows idx[r0..r1-1]; strides in bytes. */
static void fastnn_take_rows(const char *src, char *dst, const fastnn_index *idx,
                             fastnn_index r0, fastnn_index r1, fastnn_index n,
                             fastnn_index ncols, fastnn_index s_row, fastnn_index s_col,
                             fastnn_index d_row, fastnn_index d_col, fastnn_index itemsize) {
    if (s_col == itemsize && d_col == itemsize) {
        size_t row_bytes = (size_t)(ncols * itemsize);
        for (fastnn_index r = r0; r < r1; r++) {
            fastnn_index i = idx[r] < 0 ? idx[r] + n : idx[r];
            memcpy(dst + r * d_row, src + i * s_row, row_bytes);
        }
        return;
    }
    for (fastnn_index r = r0; r < r1; r++) {
        fastnn_index i = idx[r] < 0 ? idx[r] + n : idx[r];
        const char *s = src + i * s_row;
        char *d = dst + r * d_row;
        switch (itemsize) {
        case 4: FASTNN_STRIDED_COPY(uint32_t) break;
        case 8: FASTNN_STRIDED_COPY(uint64_t) break;
        case 2: FASTNN_STRIDED_COPY(uint16_t) break;
        case 1: FASTNN_STRIDED_COPY(uint8_t) break;
        default:
            for (fastnn_index c = 0; c < ncols; c++)
                memcpy(d + c * d_col, s + c * s_col, (size_t)itemsize);
        }
    }
}

#endif /* FASTNN_OPTIM_TAKE_ROWS_H */
