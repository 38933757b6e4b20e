/* Shared C helpers for fastnn's Cython kernels.
 *
 * FASTNN_CLONES marks a hot loop for run-time CPU dispatch: with GCC's target_clones the
 * loader picks an AVX-512, an AVX2+FMA or the baseline (SSE2 on x86-64) copy of the
 * function once, at import.  Where the attribute is unavailable (MSVC, macOS, aarch64) the
 * macro is empty and the baseline build is used.  setup.py probes for support and defines
 * FASTNN_HAVE_TARGET_CLONES; we never compile for the build machine (-march=native).
 */
#ifndef FASTNN_SIMD_H
#define FASTNN_SIMD_H

#include <stddef.h>

/* Element index of the kernels (Py_ssize_t on the Cython side). */
typedef ptrdiff_t fastnn_index;

#if defined(_MSC_VER)
#define FASTNN_RESTRICT __restrict
#else
#define FASTNN_RESTRICT restrict
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FASTNN_INLINE static __forceinline
#else
#define FASTNN_INLINE static inline
#endif

/* Polynomials and reductions are written as a*b + c; this region lets gcc contract them into
 * FMA instructions in the clones whose ISA has FMA (-std=c11 turns contraction off by default,
 * which keeps the simple element-wise kernels bit-identical to NumPy). */
#if defined(__GNUC__) && !defined(__clang__)
#define FASTNN_CONTRACT_ON _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=fast\")")
#define FASTNN_CONTRACT_OFF _Pragma("GCC pop_options")
#else
#define FASTNN_CONTRACT_ON
#define FASTNN_CONTRACT_OFF
#endif

#if defined(FASTNN_HAVE_TARGET_CLONES) && defined(__x86_64__) && defined(__linux__)
#define FASTNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FASTNN_DISPATCH_ACTIVE 1
#else
#define FASTNN_CLONES
#define FASTNN_DISPATCH_ACTIVE 0
#endif

/* Index of the first idx[i] outside [lo, hi), or -1 (lo <= hi): the bounds check of every
 * index or label array.  One unsigned compare per entry (idx - lo wraps to a value >= the span
 * below lo); the OR-reduction vectorises, and the second loop only runs on bad input. */
static inline fastnn_index fastnn_first_outside(const fastnn_index *idx, fastnn_index m,
                                                fastnn_index lo, fastnn_index hi) {
    size_t span = (size_t)hi - (size_t)lo, bad = 0;
    for (fastnn_index i = 0; i < m; i++) bad |= (size_t)((size_t)idx[i] - (size_t)lo >= span);
    if (!bad) return -1;
    for (fastnn_index i = 0; i < m; i++)
        if ((size_t)idx[i] - (size_t)lo >= span) return i;
    return -1;
}

#ifdef _OPENMP
#include <omp.h>
#define FASTNN_OPENMP 1
static inline int fastnn_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define FASTNN_OPENMP 0
static inline int fastnn_omp_max_threads(void) { return 1; }
#endif


/* Bit mask of the CPU features our clones use, as seen by this process. */
enum { FASTNN_CPU_SSE42 = 1, FASTNN_CPU_AVX2 = 2, FASTNN_CPU_FMA = 4, FASTNN_CPU_AVX512F = 8 };

static inline int fastnn_cpu_features(void) {
    int mask = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) mask |= FASTNN_CPU_SSE42;
    if (__builtin_cpu_supports("avx2")) mask |= FASTNN_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) mask |= FASTNN_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) mask |= FASTNN_CPU_AVX512F;
#endif
    return mask;
}

#endif /* FASTNN_SIMD_H */
