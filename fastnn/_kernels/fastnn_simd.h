/* Shared C helpers for fastnn's kernels: the index type, restrict/inline spellings for
 * GCC, Clang and MSVC, the FMA-contraction regions, the index bounds check and the OpenMP
 * status.  Run-time CPU dispatch is in fastnn_cpu.h (the selector) and fastnn_target.h (the
 * per-target compilation units); we never compile for the build machine (-march=native).
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

/* Polynomials and reductions are written as a*b + c; this region lets the compiler contract
 * them into FMA instructions in the ISA targets that have FMA (-ffp-contract=off, on the
 * command line, keeps the simple element-wise kernels bit-identical to NumPy elsewhere).
 * gcc: per-function optimize options; clang: the contraction pragma, which applies to the
 * expressions written inside the region (also once inlined elsewhere).  MSVC contracts
 * nothing without /fp:contract, so its FMA targets evaluate the same polynomials unfused. */
#if defined(__clang__)
#define FASTNN_CONTRACT_ON _Pragma("clang fp contract(fast)")
#define FASTNN_CONTRACT_OFF _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define FASTNN_CONTRACT_ON _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=fast\")")
#define FASTNN_CONTRACT_OFF _Pragma("GCC pop_options")
#else
#define FASTNN_CONTRACT_ON
#define FASTNN_CONTRACT_OFF
#endif

/* Before a loop whose iterations are independent (its output never overlaps an input it
 * reads later): lets the compiler vectorise without run-time overlap checks. */
#if defined(__clang__)
#define FASTNN_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define FASTNN_IVDEP _Pragma("GCC ivdep")
#elif defined(_MSC_VER)
#define FASTNN_IVDEP __pragma(loop(ivdep))
#else
#define FASTNN_IVDEP
#endif

/* Before a loop whose iterations are independent and that should run in vector lanes even
 * where the compiler's cost model would keep it scalar: an OpenMP simd loop (gcc then
 * vectorises it whatever its cost estimate).  MSVC's OpenMP 2.0 has no simd construct, and a
 * build without OpenMP leaves the choice to the cost model. */
#define FASTNN_PRAGMA(text) _Pragma(#text)
/* FASTNN_OMP_SIMD_WITH(clauses): the same with OpenMP simd clauses (a reduction, simdlen). */
#if defined(_OPENMP) && !defined(_MSC_VER)
#define FASTNN_OMP_SIMD_WITH(clauses) FASTNN_PRAGMA(omp simd clauses)
#else
#define FASTNN_OMP_SIMD_WITH(clauses)
#endif
#define FASTNN_OMP_SIMD FASTNN_OMP_SIMD_WITH()

/* clang (14) vectorises the loops of the AVX-512 target for 256-bit vectors (its
 * x86-64-v4 tuning prefers them, and it splits wider vector types in two); gcc uses 512-bit
 * ones.  Where the 512-bit form is measurably faster (dropout's 64-bit multiplies, vpmullq),
 * FASTNN_WIDE_FUNCTION before a function lets it use 512-bit vectors and FASTNN_WIDE_LOOP(n)
 * before one of its loops asks for n elements per vector (n times the element's bits = 512).
 * Empty for other compilers and targets. */
#if defined(__clang__) && defined(__AVX512F__)
#define FASTNN_WIDE_FUNCTION __attribute__((min_vector_width(512)))
#define FASTNN_WIDE_LOOP(lanes) FASTNN_PRAGMA(clang loop vectorize_width(lanes))
#else
#define FASTNN_WIDE_FUNCTION
#define FASTNN_WIDE_LOOP(lanes)
#endif

/* Set where loops over an array of independent accumulators (acc[k] += ..., k < 16) also
 * get a version on explicit 32-byte vectors, the same lanes in the same order (same sums):
 * clang (14) vectorised such loops only in part on the AVX-512 target, half the lanes scalar;
 * gcc vectorises the scalar loops whole, faster than on the explicit vectors. */
#if defined(__clang__)
#define FASTNN_LANE_VECTORS 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#include <string.h>
/* The vector of type VT (a vector_size type) stored at p, whatever p's alignment. */
#define FASTNN_LOAD_VECTOR(VT, p) (__extension__({ VT v_; memcpy(&v_, (p), sizeof v_); v_; }))
#endif

/* Before a loop of a few iterations: clang would vectorise it anyway, and its vector prologue
 * costs more than the loop (gcc does not vectorise such loops). */
#if defined(__clang__)
#define FASTNN_NO_VECTORIZE _Pragma("clang loop vectorize(disable)")
#else
#define FASTNN_NO_VECTORIZE
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


#endif /* FASTNN_SIMD_H */
