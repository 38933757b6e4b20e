/* The dropout loop for one dtype, written once: dropout_kernels.h instantiates it per dtype
 * (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * out = x * m with m = scale (1/p in the dtype) for a kept element and 0 for a dropped one:
 * the course's x * mask, so a dropped NaN or inf still gives NaN, as there.  The forward
 * and the backward are the same loop (x = dout in the backward), the mask recomputed from
 * the key instead of stored.
 */

#include <stdint.h>

#include "dropout_bits.h"
#include "fastnn_simd.h"

#include "fastnn_dtype_begin.h"

FASTNN_WIDE_FUNCTION
static void FASTNN_NAME(dropout_mask_rows)(const FASTNN_T *FASTNN_RESTRICT x,
                                           FASTNN_T *FASTNN_RESTRICT out,
                                           fastnn_index lo, fastnn_index hi, uint64_t key,
                                           uint64_t threshold, FASTNN_T scale) {
    /* threshold 0 (p < 2^-33) keeps nothing: every element is multiplied by 0, as a dropped
     * one is.  Its own loop: as a `kept = threshold ? scale : 0` in the loop below, clang
     * folded that ?: into the loop's select, two more mask operations per vector. */
    if (threshold == 0) {
        FASTNN_IVDEP for (fastnn_index i = lo; i < hi; i++) out[i] = x[i] * (FASTNN_T)0;
        return;
    }
    /* keep(i) = word(i) < threshold = word(i) <= limit */
    const uint32_t limit = (uint32_t)(threshold - 1);
    uint32_t words[FASTNN_DROPOUT_BLOCK];
    for (fastnn_index start = lo; start < hi; start += FASTNN_DROPOUT_BLOCK) {
        const fastnn_index len =
            hi - start < FASTNN_DROPOUT_BLOCK ? hi - start : FASTNN_DROPOUT_BLOCK;
        fastnn_dropout_words(key, (uint64_t)(start >> 1), words);
        const FASTNN_T *FASTNN_RESTRICT xs = x + start;
        FASTNN_T *FASTNN_RESTRICT os = out + start;
        FASTNN_IVDEP FASTNN_WIDE_LOOP(512 / FASTNN_DTYPE)
        for (fastnn_index i = 0; i < len; i++)
            os[i] = xs[i] * (words[i] <= limit ? scale : (FASTNN_T)0);
    }
}

#include "fastnn_dtype_end.h"
