/* The minibatch row gather of the training loop (not dispatched per ISA: its work is
 * memcpy, which the C library already picks per CPU).
 *
 * take_rows copies whole rows with memcpy when rows are contiguous (the trainer's case), four
 * rows interleaved, and falls back to an element loop for strided rows.  It works on bytes, so every fixed-size
 * dtype is handled by one function.  Indices were checked by the caller to lie in [-n, n).
 */
#ifndef FASTNN_OPTIM_TAKE_ROWS_H
#define FASTNN_OPTIM_TAKE_ROWS_H

#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"

/* Streaming (non-temporal) stores, SSE2's, so every x86-64 build has them: the copied lines
 * go to memory past this core's caches.  Elsewhere a request for them copies as usual. */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define FASTNN_STREAM_STORES 1
#else
#define FASTNN_STREAM_STORES 0
#endif

#define FASTNN_STRIDED_COPY(T)                                                  \
    for (fastnn_index c = 0; c < ncols; c++)                                    \
        *(T *)(d + c * d_col) = *(const T *)(s + c * s_col);

/* Whole rows, FASTNN_GATHER_STREAMS at a time: their cache lines are copied in turn, so the
 * CPU's prefetchers follow that many streams from memory at once rather than one (a row at a
 * time waits for each new row's first lines).  Rows that do not fill a group, and the bytes
 * past the last whole line, are copied by memcpy. */
#define FASTNN_GATHER_STREAMS 4
#define FASTNN_GATHER_LINE 64

/* One 64-byte line of a row: stored past the caches when `stream` (d 16-byte aligned). */
static inline void fastnn_copy_line(char *d, const char *s, int stream) {
#if FASTNN_STREAM_STORES
    if (stream) {
        for (int b = 0; b < FASTNN_GATHER_LINE; b += 16)
            _mm_stream_si128((__m128i *)(d + b), _mm_loadu_si128((const __m128i *)(s + b)));
        return;
    }
#else
    (void)stream;
#endif
    memcpy(d, s, FASTNN_GATHER_LINE);
}

static void fastnn_copy_rows(const char *src, char *dst, const fastnn_index *idx,
                             fastnn_index r0, fastnn_index r1, fastnn_index n,
                             fastnn_index s_row, fastnn_index d_row, size_t row_bytes,
                             int stream) {
    const char *s[FASTNN_GATHER_STREAMS];
    size_t body = row_bytes - row_bytes % FASTNN_GATHER_LINE;
    fastnn_index r = r0;
    /* streaming stores need 16-byte aligned destinations: every row's, so the row stride too */
    stream = stream && FASTNN_STREAM_STORES && (uintptr_t)dst % 16 == 0 && d_row % 16 == 0;
    for (; r + FASTNN_GATHER_STREAMS <= r1; r += FASTNN_GATHER_STREAMS) {
        for (int k = 0; k < FASTNN_GATHER_STREAMS; k++) {
            fastnn_index i = idx[r + k] < 0 ? idx[r + k] + n : idx[r + k];
            s[k] = src + i * s_row;
        }
        char *d = dst + r * d_row;
        for (size_t c = 0; c < body; c += FASTNN_GATHER_LINE)
            for (int k = 0; k < FASTNN_GATHER_STREAMS; k++)
                fastnn_copy_line(d + k * d_row + c, s[k] + c, stream);
        for (int k = 0; k < FASTNN_GATHER_STREAMS; k++)
            memcpy(d + k * d_row + body, s[k] + body, row_bytes - body);
    }
    for (; r < r1; r++) {
        fastnn_index i = idx[r] < 0 ? idx[r] + n : idx[r];
        memcpy(dst + r * d_row, src + i * s_row, row_bytes);
    }
#if FASTNN_STREAM_STORES
    if (stream)
        _mm_sfence(); /* the streamed lines are seen before anything this thread stores next */
#endif
}

/* dst rows r0..r1-1 = src rows idx[r0..r1-1]; strides in bytes.  `stream`: store whole rows'
 * lines past the caches where the platform can (the same bytes either way). */
static void fastnn_take_rows(const char *src, char *dst, const fastnn_index *idx,
                             fastnn_index r0, fastnn_index r1, fastnn_index n,
                             fastnn_index ncols, fastnn_index s_row, fastnn_index s_col,
                             fastnn_index d_row, fastnn_index d_col, fastnn_index itemsize,
                             int stream) {
    if (s_col == itemsize && d_col == itemsize) {
        fastnn_copy_rows(src, dst, idx, r0, r1, n, s_row, d_row, (size_t)(ncols * itemsize),
                         stream);
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
