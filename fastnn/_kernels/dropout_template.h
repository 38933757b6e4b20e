/* The dropout loops for one dtype, written once: dropout_kernels.h instantiates them per dtype
 * (fastnn_dtype_begin.h: FASTNN_T, FASTNN_NAME).
 *
 * out = x * m with m = scale (1/p in the dtype) for a kept element and 0 for a dropped one:
 * the course's x * mask, so a dropped NaN or inf still gives NaN, as there.  The forward
 * and the regenerating backward are the same loop (x = dout in the backward), the mask
 * computed from the key.  Where the mask is stored (dropout.pyx: STORES_MASK_BITS), the
 * forward also packs it into bits (dropout_bits.h) and the backward reads them
 * (dropout_bits_rows): the same mask, the same products.
 */

#include <stdint.h>
#include <string.h>

#include "dropout_bits.h"
#include "fastnn_simd.h"

#include "fastnn_dtype_begin.h"

/* out = x * (kept ? scale : 0) over one group of 32 elements (words ws, x xg, out og), and
 * the group's keep bits. */
FASTNN_INLINE uint32_t FASTNN_NAME(dropout_group)(const uint32_t *FASTNN_RESTRICT ws,
                                                  const FASTNN_T *FASTNN_RESTRICT xg,
                                                  FASTNN_T *FASTNN_RESTRICT og, uint32_t limit,
                                                  FASTNN_T scale) {
#if FASTNN_DROPOUT_SSE2_BITS
    const __m128i sign = _mm_set1_epi32(INT32_MIN);
    const __m128i limit_signed = _mm_xor_si128(_mm_set1_epi32((int)limit), sign);
    __m128i drop[FASTNN_DROPOUT_GROUP / 4];
    for (int v = 0; v < FASTNN_DROPOUT_GROUP / 4; v++) {
        drop[v] = fastnn_dropout_drop4(ws + 4 * v, sign, limit_signed);
#if FASTNN_DTYPE == 32
        const __m128 m = _mm_andnot_ps(_mm_castsi128_ps(drop[v]), _mm_set1_ps(scale));
        _mm_storeu_ps(og + 4 * v, _mm_mul_ps(_mm_loadu_ps(xg + 4 * v), m));
#else
        const __m128d s = _mm_set1_pd(scale);
        const __m128d m0 = _mm_andnot_pd(_mm_castsi128_pd(_mm_unpacklo_epi32(drop[v], drop[v])), s);
        const __m128d m1 = _mm_andnot_pd(_mm_castsi128_pd(_mm_unpackhi_epi32(drop[v], drop[v])), s);
        _mm_storeu_pd(og + 4 * v, _mm_mul_pd(_mm_loadu_pd(xg + 4 * v), m0));
        _mm_storeu_pd(og + 4 * v + 2, _mm_mul_pd(_mm_loadu_pd(xg + 4 * v + 2), m1));
#endif
    }
    return ~fastnn_dropout_movemask32(drop);
#else
    /* the bit ANDed with the drop mask's complement, not selected by a `kept ? bit[t] : 0`:
     * gcc 12 did not if-convert that (a table load under a condition) and kept the loop
     * scalar, a mispredicted branch per element */
    uint32_t w = 0;
    FASTNN_OMP_SIMD_WITH(reduction(| : w))
    for (int t = 0; t < FASTNN_DROPOUT_GROUP; t++) {
        const uint32_t drop = 0u - (uint32_t)(ws[t] > limit);
        og[t] = xg[t] * (drop ? (FASTNN_T)0 : scale);
        w |= fastnn_dropout_bit[t] & ~drop;
    }
    return w;
#endif
}

/* The mask loop over [lo, hi), lo even; with bits (lo a multiple of 32) it also writes the
 * keep bits of those elements to bits[lo / 32 ..].  Inlined into its two entry points, so
 * the one without bits (bits a constant NULL) has no trace of the packing. */
FASTNN_INLINE FASTNN_WIDE_FUNCTION void FASTNN_NAME(dropout_mask_body)(
    const FASTNN_T *FASTNN_RESTRICT x, FASTNN_T *FASTNN_RESTRICT out,
    uint32_t *FASTNN_RESTRICT bits, fastnn_index lo, fastnn_index hi, uint64_t key,
    uint64_t threshold, FASTNN_T scale) {
    /* threshold 0 (p < 2^-33) keeps nothing: every element is multiplied by 0, as a dropped
     * one is.  Its own loop: as a `kept = threshold ? scale : 0` in the loop below, clang
     * folded that ?: into the loop's select, two more mask operations per vector. */
    if (threshold == 0) {
        FASTNN_IVDEP for (fastnn_index i = lo; i < hi; i++) out[i] = x[i] * (FASTNN_T)0;
        if (bits && hi > lo)
            memset(bits + lo / FASTNN_DROPOUT_GROUP, 0,
                   (size_t)((hi - lo + FASTNN_DROPOUT_GROUP - 1) / FASTNN_DROPOUT_GROUP) *
                       sizeof *bits);
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
        if (!bits) {
            FASTNN_IVDEP FASTNN_WIDE_LOOP(512 / FASTNN_DTYPE)
            for (fastnn_index i = 0; i < len; i++)
                os[i] = xs[i] * (words[i] <= limit ? scale : (FASTNN_T)0);
            continue;
        }
        uint32_t *FASTNN_RESTRICT bs = bits + start / FASTNN_DROPOUT_GROUP;
        fastnn_index g = 0;
        for (; (g + 1) * FASTNN_DROPOUT_GROUP <= len; g++) {
            const uint32_t *FASTNN_RESTRICT ws = words + g * FASTNN_DROPOUT_GROUP;
            const FASTNN_T *FASTNN_RESTRICT xg = xs + g * FASTNN_DROPOUT_GROUP;
            FASTNN_T *FASTNN_RESTRICT og = os + g * FASTNN_DROPOUT_GROUP;
            bs[g] = FASTNN_NAME(dropout_group)(ws, xg, og, limit, scale);
        }
        if (g * FASTNN_DROPOUT_GROUP < len) {
            const fastnn_index base = g * FASTNN_DROPOUT_GROUP;
            uint32_t w = 0;
            for (fastnn_index i = base; i < len; i++) {
                const uint32_t keep = 0u - (uint32_t)(words[i] <= limit);
                os[i] = xs[i] * (keep ? scale : (FASTNN_T)0);
                w |= fastnn_dropout_bit[i - base] & keep;
            }
            bs[g] = w;
        }
    }
}

FASTNN_WIDE_FUNCTION
static void FASTNN_NAME(dropout_mask_rows)(const FASTNN_T *FASTNN_RESTRICT x,
                                           FASTNN_T *FASTNN_RESTRICT out,
                                           fastnn_index lo, fastnn_index hi, uint64_t key,
                                           uint64_t threshold, FASTNN_T scale) {
    FASTNN_NAME(dropout_mask_body)(x, out, NULL, lo, hi, key, threshold, scale);
}

FASTNN_WIDE_FUNCTION
static void FASTNN_NAME(dropout_mask_rows_bits)(const FASTNN_T *FASTNN_RESTRICT x,
                                                FASTNN_T *FASTNN_RESTRICT out,
                                                uint32_t *FASTNN_RESTRICT bits,
                                                fastnn_index lo, fastnn_index hi, uint64_t key,
                                                uint64_t threshold, FASTNN_T scale) {
    FASTNN_NAME(dropout_mask_body)(x, out, bits, lo, hi, key, threshold, scale);
}

/* out[i] = x[i] * (bit i of bits set ? scale : 0) for i in [lo, hi), lo a multiple of 32:
 * the backward from stored bits.  A word's 32 elements in one loop of constant length (the
 * word broadcast, ANDed with the bit table, compared with 0: the select of the mask loop). */
FASTNN_WIDE_FUNCTION
static void FASTNN_NAME(dropout_bits_rows)(const FASTNN_T *FASTNN_RESTRICT x,
                                           FASTNN_T *FASTNN_RESTRICT out,
                                           const uint32_t *FASTNN_RESTRICT bits,
                                           fastnn_index lo, fastnn_index hi, FASTNN_T scale) {
    const uint32_t *FASTNN_RESTRICT word = bits + lo / FASTNN_DROPOUT_GROUP;
    fastnn_index start = lo;
    for (; hi - start >= FASTNN_DROPOUT_GROUP; start += FASTNN_DROPOUT_GROUP, word++) {
        const uint32_t w = *word;
        const FASTNN_T *FASTNN_RESTRICT xs = x + start;
        FASTNN_T *FASTNN_RESTRICT os = out + start;
        FASTNN_IVDEP FASTNN_WIDE_LOOP(512 / FASTNN_DTYPE)
        for (int t = 0; t < FASTNN_DROPOUT_GROUP; t++)
            os[t] = xs[t] * ((w & fastnn_dropout_bit[t]) != 0 ? scale : (FASTNN_T)0);
    }
    if (start < hi) { /* the last, partial group */
        const uint32_t w = *word;
        for (fastnn_index i = start; i < hi; i++)
            out[i] = x[i] * ((w & fastnn_dropout_bit[i - start]) != 0 ? scale : (FASTNN_T)0);
    }
}

#include "fastnn_dtype_end.h"
