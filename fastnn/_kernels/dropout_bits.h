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

#include "fastnn_cpu.h"
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

/* z = the SplitMix64 output of state z, for a uint64_t or a GCC vector of them (the same
 * operations in every lane). */
#define FASTNN_DROPOUT_MIX(z)                                                                \
    do {                                                                                     \
        (z) = ((z) ^ ((z) >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);                           \
        (z) = ((z) ^ ((z) >> 27)) * UINT64_C(0x94D049BB133111EB);                           \
        (z) ^= (z) >> 31;                                                                    \
    } while (0)

/* On the SSE2 target (gcc, clang), four pairs at a time: two in the two lanes of a vector
 * (three-pmuludq products), two in general registers (imul), so that the vector and the
 * integer units work at once: 1.36-1.41x the speed of the vector loop alone (standalone C,
 * gcc 12 and clang 14, Zen 4).  The AVX2 and AVX-512 targets have lanes enough. */
#if defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA == FASTNN_ISA_BASELINE &&                 \
    defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__)) && FASTNN_DROPOUT_LITTLE_ENDIAN
#define FASTNN_DROPOUT_SPLIT_UNITS 1
#if FASTNN_DROPOUT_BLOCK % 8 != 0
#error "the SSE2 word loop takes four pairs (eight words) at a time"
#endif
typedef uint64_t fastnn_dropout_u64x2 __attribute__((vector_size(16)));
#else
#define FASTNN_DROPOUT_SPLIT_UNITS 0
#endif

/* The words of elements 2 * first_pair .. 2 * first_pair + FASTNN_DROPOUT_BLOCK - 1. */
FASTNN_WIDE_FUNCTION
static inline void fastnn_dropout_words(uint64_t key, uint64_t first_pair, uint32_t *words) {
    /* the Weyl sequence key + (pair + 1) * gamma, stepped by additions */
    uint64_t state = key + (first_pair + 1) * FASTNN_DROPOUT_GAMMA;
#if FASTNN_DROPOUT_SPLIT_UNITS
    fastnn_dropout_u64x2 lanes = {state, state + FASTNN_DROPOUT_GAMMA};
    for (int k = 0; k < FASTNN_DROPOUT_BLOCK / 2; k += 4) {
        fastnn_dropout_u64x2 v = lanes;
        uint64_t a = state + 2 * FASTNN_DROPOUT_GAMMA, b = state + 3 * FASTNN_DROPOUT_GAMMA;
        lanes += 4 * FASTNN_DROPOUT_GAMMA;
        state += 4 * FASTNN_DROPOUT_GAMMA;
        FASTNN_DROPOUT_MIX(v);
        FASTNN_DROPOUT_MIX(a);
        FASTNN_DROPOUT_MIX(b);
        memcpy(words + 2 * k, &v, sizeof v); /* pairs k, k + 1: their words in order */
        memcpy(words + 2 * k + 4, &a, sizeof a);
        memcpy(words + 2 * k + 6, &b, sizeof b);
    }
#else
    /* a simd loop: gcc's cost model keeps it scalar on the SSE2 target (no 64-bit vector
     * multiply); 512-bit vpmullq on clang's AVX-512 target too (FASTNN_WIDE_LOOP) */
    FASTNN_OMP_SIMD FASTNN_WIDE_LOOP(8)
    for (int k = 0; k < FASTNN_DROPOUT_BLOCK / 2; k++) {
        uint64_t z = state;
        state += FASTNN_DROPOUT_GAMMA;
        FASTNN_DROPOUT_MIX(z);
#if FASTNN_DROPOUT_LITTLE_ENDIAN
        memcpy(words + 2 * k, &z, sizeof z); /* the same two words, stored as one */
#else
        words[2 * k] = (uint32_t)z;
        words[2 * k + 1] = (uint32_t)(z >> 32);
#endif
    }
#endif
}

#endif /* FASTNN_DROPOUT_BITS_H */
