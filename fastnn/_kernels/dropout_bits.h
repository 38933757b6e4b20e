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

/* The stored form of the mask where a target stores one (dropout.pyx: STORES_MASK_BITS): one
 * bit per element, bit t of uint32_t word g set when element 32 * g + t is kept (the bits of
 * elements past the array's end are 0).  A group of 32 elements is one word, so chunks of a
 * thread team start at multiples of 32 elements and never share a word. */
#define FASTNN_DROPOUT_GROUP 32
#if FASTNN_DROPOUT_BLOCK % FASTNN_DROPOUT_GROUP != 0
#error "a block of words holds whole groups of mask bits"
#endif

/* On the SSE2 baseline target, the one that stores bits, a group's comparisons run in SSE2
 * intrinsics (dropout_template.h: dropout_group), so that the drop masks that select the
 * products also give the bits: two saturating packs to bytes and a pmovmskb per 16 elements,
 * 11 instructions per word.  The portable loop ANDs each mask with the bit table and ORs the
 * lanes together, about 20 per word: the forward that stores bits took 1.07x the time of the
 * one that does not with it, 0.97-1.04x with the intrinsics (kernel alone, 4M elements,
 * gcc 12, Zen 4; docs/perf/isa_paths.md).  Other targets run the portable loop (only tests
 * call it there); MSVC has the same intrinsics. */
#if defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA == FASTNN_ISA_BASELINE && FASTNN_CPU_X86 && \
    (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#define FASTNN_DROPOUT_SSE2_BITS 1
#include <emmintrin.h>

/* The drop masks (all ones where word > limit) of the four words at w. */
FASTNN_INLINE __m128i fastnn_dropout_drop4(const uint32_t *w, __m128i sign, __m128i limit_signed) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)w);
    return _mm_cmpgt_epi32(_mm_xor_si128(v, sign), limit_signed); /* unsigned > as signed */
}

/* The 32 lanes' sign bits of m[0..7], lane t of m[v] at bit 4 * v + t. */
FASTNN_INLINE uint32_t fastnn_dropout_movemask32(const __m128i m[8]) {
    const __m128i lo = _mm_packs_epi16(_mm_packs_epi32(m[0], m[1]), _mm_packs_epi32(m[2], m[3]));
    const __m128i hi = _mm_packs_epi16(_mm_packs_epi32(m[4], m[5]), _mm_packs_epi32(m[6], m[7]));
    return (uint32_t)_mm_movemask_epi8(lo) | (uint32_t)_mm_movemask_epi8(hi) << 16;
}
#else
#define FASTNN_DROPOUT_SSE2_BITS 0
#endif

/* bit[t] = 1 << t: packing and unpacking a word against this table vectorises (an AND and a
 * compare per lane), where a shift by the lane's own count would not (SSE2 has no per-lane
 * variable shift). */
static const uint32_t fastnn_dropout_bit[FASTNN_DROPOUT_GROUP] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15,
    1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21, 1u << 22, 1u << 23,
    1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};

#endif /* FASTNN_DROPOUT_BITS_H */
