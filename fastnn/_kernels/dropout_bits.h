/* The dropout mask's random bits: a counter-based generator, so that element i's bit depends
 * only on (key, i), whatever the thread count and chunking.
 *
 * Pair j (elements 2j and 2j + 1) takes the 64-bit SplitMix64 output number j + 1 of the
 * stream seeded with `key`: mix64(key + (j + 1) * golden gamma), the finaliser of Steele,
 * Lea and Flood (2014) with Stafford's "Mix13" constants.  Element 2j keeps its low 32 bits,
 * element 2j + 1 its high 32 bits; an element is kept when its 32-bit word is below
 * threshold = round(p * 2^32) (2^32 for p = 1: always).  fastnn/reference/dropout.py
 * computes the same words with NumPy uint64 arithmetic (wrapping multiplication).
 */
#ifndef FASTNN_DROPOUT_BITS_H
#define FASTNN_DROPOUT_BITS_H

#include <stdint.h>
#include <string.h>

#include "fastnn_simd.h"

/* On little-endian machines z's low 32 bits come first in memory, so a pair's two words are
 * stored with one 64-bit store (clang otherwise interleaves the halves with permutes). */
#if (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_MSC_VER)
#define FASTNN_DROPOUT_LITTLE_ENDIAN 1
#else
#define FASTNN_DROPOUT_LITTLE_ENDIAN 0
#endif

#define FASTNN_DROPOUT_GAMMA UINT64_C(0x9E3779B97F4A7C15)

/* Elements per block of words: the block is generated in one vectorisable loop (64-bit
 * multiplications in vector lanes), then applied in another. */
#define FASTNN_DROPOUT_BLOCK 256

/* The words of elements 2 * first_pair .. 2 * first_pair + FASTNN_DROPOUT_BLOCK - 1. */
FASTNN_WIDE_FUNCTION
static inline void fastnn_dropout_words(uint64_t key, uint64_t first_pair, uint32_t *words) {
    /* the Weyl sequence key + (pair + 1) * gamma, stepped by additions */
    uint64_t state = key + (first_pair + 1) * FASTNN_DROPOUT_GAMMA;
    /* a simd loop: gcc's cost model keeps it scalar on the SSE2 target (no 64-bit vector
     * multiply), where its three-pmuludq products run 1.1x faster than scalar imul; 512-bit
     * vpmullq on clang's AVX-512 target too (FASTNN_WIDE_LOOP) */
    FASTNN_OMP_SIMD FASTNN_WIDE_LOOP(8)
    for (int k = 0; k < FASTNN_DROPOUT_BLOCK / 2; k++) {
        uint64_t z = state;
        state += FASTNN_DROPOUT_GAMMA;
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        z ^= z >> 31;
#if FASTNN_DROPOUT_LITTLE_ENDIAN
        memcpy(words + 2 * k, &z, sizeof z); /* the same two words, stored as one */
#else
        words[2 * k] = (uint32_t)z;
        words[2 * k + 1] = (uint32_t)(z >> 32);
#endif
    }
}

#endif /* FASTNN_DROPOUT_BITS_H */
