/* Batch-normalization kernels in C (called from batchnorm.pyx).
 *
 * batchnorm_impl.h holds the loops once; it is included twice below to instantiate the
 * float (_f) and double (_d) versions.  The hot serial loops carry FASTNN_CLONES (run-time
 * CPU dispatch); the drivers own the OpenMP team, so no cloned function contains a
 * parallel region.
 */
#ifndef FASTNN_BATCHNORM_KERNELS_H
#define FASTNN_BATCHNORM_KERNELS_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "fastnn_simd.h"

#ifdef _OPENMP
#define BN_THREAD_NUM() omp_get_thread_num()
#define BN_NUM_THREADS() omp_get_num_threads()
#else
#define BN_THREAD_NUM() 0
#define BN_NUM_THREADS() 1
#endif

/* Rows per statistics tile = BN_TILE_ELEMS / D: a tile (256 KiB of float32, 512 KiB of
 * float64) stays in L2 when it needs two passes; larger tiles make the per-tile merge
 * negligible (16K-element tiles were 25% slower at (4096, 1024)). */
#define BN_TILE_ELEMS 65536

/* Doubles per thread for `arrays` arrays of c channels, rounded up to a cache line so that
 * threads never write to one line. */
static inline ptrdiff_t bn_stride(ptrdiff_t c, int arrays) {
    return (arrays * c + 7) / 8 * 8 + 8;
}

/* float32 element passes run in float when every |x - mean| is below this (else double). */
#define BN_WIDE_LIMIT 1e37

/* Independent accumulators per segment reduction (two AVX-512 registers of doubles). */
#define BN_LANES 16

static inline double bn_lanes_total(const double *acc) {
    double t = 0.0;
    for (int u = 0; u < BN_LANES; u++) t += acc[u];
    return t;
}

/* Chan, Golub & LeVeque (1979): merge block b (count nb, mean mb, sum of squared
 * deviations qb) into a.  Stable for any block sizes; an empty side is skipped. */
static inline void bn_merge(double *na, double *ma, double *qa, double nb, double mb,
                            double qb) {
    double n, delta;
    if (nb == 0.0) return;
    if (*na == 0.0) { *na = nb; *ma = mb; *qa = qb; return; }
    n = *na + nb;
    delta = mb - *ma;
    *ma += delta * (nb / n);
    *qa += qb + delta * delta * (*na * nb / n);
    *na = n;
}

/* Streaming (non-temporal) stores for the float32 train-mode normalise pass of a 2-d batch.
 * The forward reads x twice (statistics, then normalise) and writes out; with ordinary
 * stores every line of out is first read into the cache, where it also evicts x.  Streaming
 * stores write out straight to memory: the (4096, 1024) float32 train-mode forward took
 * 1.84 ms instead of 2.23-2.56 on 1 thread and 1.19-1.36 instead of 1.42 on 2 (warm x).
 * Only above BN_STREAM_BYTES of output, which the next layer would not find in L2 anyway
 * (test mode reads its output back for a check, so it never streams).  x86-64 with
 * run-time dispatch only: AVX-512F (16 lanes) or AVX (8 lanes), checked once. */
#define BN_STREAM_BYTES ((size_t)8 << 20)

#if FASTNN_DISPATCH_ACTIVE
#include <immintrin.h>
#include <stdint.h>

/* out = ((x - mhi) - mlo) * scale + shift for rows [r0, r1) of d floats, co = [mhi, mlo,
 * scale, shift] (4 arrays of d): the arithmetic of bn_rows_normalize_f, so the same bits.
 * Each row is peeled to the vector alignment that streaming stores need. */
#define BN_DEFINE_STREAM(NAME, TARGET, W, VT, P)                                             \
__attribute__((target(TARGET))) static void NAME(const float *x, float *out, ptrdiff_t d,   \
                                                 ptrdiff_t r0, ptrdiff_t r1,                \
                                                 const float *co)                           \
{                                                                                            \
    const float *mhi = co, *mlo = co + d, *sc = co + 2 * d, *sh = co + 3 * d;                \
    for (ptrdiff_t i = r0; i < r1; i++) {                                                    \
        const float *xr = x + i * d;                                                         \
        float *o = out + i * d;                                                              \
        ptrdiff_t j = 0;                                                                     \
        for (; j < d && ((uintptr_t)(o + j) & (W * sizeof(float) - 1)); j++)                 \
            o[j] = ((xr[j] - mhi[j]) - mlo[j]) * sc[j] + sh[j];                              \
        for (; j + W <= d; j += W) {                                                         \
            VT v = P##_sub_ps(P##_sub_ps(P##_loadu_ps(xr + j), P##_loadu_ps(mhi + j)),       \
                              P##_loadu_ps(mlo + j));                                        \
            v = P##_add_ps(P##_mul_ps(v, P##_loadu_ps(sc + j)), P##_loadu_ps(sh + j));       \
            P##_stream_ps(o + j, v);                                                         \
        }                                                                                    \
        for (; j < d; j++) o[j] = ((xr[j] - mhi[j]) - mlo[j]) * sc[j] + sh[j];               \
    }                                                                                        \
    _mm_sfence(); /* the streamed lines are visible before the team's barrier */             \
}

BN_DEFINE_STREAM(bn_stream_rows_avx512, "avx512f", 16, __m512, _mm512)
BN_DEFINE_STREAM(bn_stream_rows_avx, "avx", 8, __m256, _mm256)

/* 2: AVX-512F, 1: AVX, 0: no streaming path; for an output of `bytes`. */
static int bn_stream_level(size_t bytes)
{
    static int level = -1;  /* a benign race: every thread computes the same value */
    if (bytes < BN_STREAM_BYTES) return 0;
    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx") ? 1 : 0;
    }
    return level;
}

static void bn_stream_rows(const float *x, float *out, ptrdiff_t d, ptrdiff_t r0,
                           ptrdiff_t r1, const float *co, int level)
{
    if (level == 2)
        bn_stream_rows_avx512(x, out, d, r0, r1, co);
    else
        bn_stream_rows_avx(x, out, d, r0, r1, co);
}
#else
static int bn_stream_level(size_t bytes) { (void)bytes; return 0; }
static void bn_stream_rows(const float *x, float *out, ptrdiff_t d, ptrdiff_t r0,
                           ptrdiff_t r1, const float *co, int level)
{
    (void)x; (void)out; (void)d; (void)r0; (void)r1; (void)co; (void)level;
}
#endif

#define BN_T float
#define BN(name) bn_##name##_f
#include "batchnorm_impl.h"
#undef BN_T
#undef BN

#define BN_T double
#define BN(name) bn_##name##_d
#include "batchnorm_impl.h"
#undef BN_T
#undef BN

/* Entry points for batchnorm.pyx: the element arrays come as void pointers (C converts them
 * to the dtype's pointer type) and f64 picks the instantiation, so the Cython side writes
 * each call once for both dtypes. */
#define bn_forward_train(f64, ...) \
    ((f64) ? bn_forward_train_d(__VA_ARGS__) : bn_forward_train_f(__VA_ARGS__))
#define bn_forward_test(f64, ...) \
    ((f64) ? bn_forward_test_d(__VA_ARGS__) : bn_forward_test_f(__VA_ARGS__))
#define bn_backward(f64, ...) ((f64) ? bn_backward_d(__VA_ARGS__) : bn_backward_f(__VA_ARGS__))

#endif /* FASTNN_BATCHNORM_KERNELS_H */
