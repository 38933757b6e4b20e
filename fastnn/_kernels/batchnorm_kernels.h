/* Batch-normalization kernels in C (called from batchnorm.pyx).
 *
 * batchnorm_template.h holds the loops once; it is instantiated below per dtype
 * (fastnn_dtype_begin.h: the float _f32 and double _f64 versions).  batchnorm_target.c
 * compiles them once per ISA target
 * (run-time CPU dispatch, fastnn_cpu.h) and exports the three drivers per dtype as a table
 * (batchnorm_dispatch.h).
 */
#ifndef FASTNN_BATCHNORM_KERNELS_H
#define FASTNN_BATCHNORM_KERNELS_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fastnn_cpu.h"
#include "fastnn_simd.h"

#ifdef _OPENMP
#define FASTNN_BN_THREAD_NUM() omp_get_thread_num()
#define FASTNN_BN_NUM_THREADS() omp_get_num_threads()
#else
#define FASTNN_BN_THREAD_NUM() 0
#define FASTNN_BN_NUM_THREADS() 1
#endif

/* Rows per statistics tile = FASTNN_BN_TILE_ELEMS / D: a tile (256 KiB of float32, 512 KiB of
 * float64) stays in L2 when it needs two passes; larger tiles make the per-tile merge
 * negligible (16K-element tiles were 25% slower at (4096, 1024)). */
#define FASTNN_BN_TILE_ELEMS 65536

/* Doubles per thread for `arrays` arrays of c channels, rounded up to a cache line so that
 * threads never write to one line. */
static inline ptrdiff_t fastnn_bn_stride(ptrdiff_t c, int arrays) {
    return (arrays * c + 7) / 8 * 8 + 8;
}

/* float32 element passes run in float when every |x - mean| is below this (else double). */
#define FASTNN_BN_WIDE_LIMIT 1e37

/* Independent accumulators per segment reduction (two AVX-512 registers of doubles). */
#define FASTNN_BN_LANES 16

#if defined(__GNUC__) || defined(__clang__)
/* Four doubles (and the four floats they are converted from): bn_grad_dots keeps its
 * FASTNN_BN_LANES accumulators in FASTNN_BN_LANES / 4 of them. */
typedef double fastnn_bn_v4d __attribute__((vector_size(32)));
typedef float fastnn_bn_v4f __attribute__((vector_size(16)));
#define FASTNN_BN_SEGMENT_VECTORS 1
/* bn_grad_dots always sums on these vectors (gcc turned its scalar loop into shuffles through
 * the stack on AVX2); bn_sum and bn_sum_sq_dev where FASTNN_LANE_VECTORS is set. */
#endif

static inline double fastnn_bn_lanes_total(const double *acc) {
    double t = 0.0;
    for (int u = 0; u < FASTNN_BN_LANES; u++) t += acc[u];
    return t;
}

/* Chan, Golub & LeVeque (1979): merge block b (count nb, mean mb, sum of squared
 * deviations qb) into a.  Stable for any block sizes; an empty side is skipped. */
static inline void fastnn_bn_merge(double *na, double *ma, double *qa, double nb, double mb,
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

/* The element formulas of the two element passes, written once for scalars and vectors
 * (GCC vector extensions broadcast scalar operands): the ordinary loops and the streaming
 * ones below compute the same bits.  normalise: co = [mhi, mlo, scale, shift]; dx: co =
 * [mhi, mlo, inv_std, a, cb, cg] (see finish_grads). */
#define FASTNN_BN_NORMALIZE_EXPR(x, mhi, mlo, scale, shift)                                  \
    ((((x) - (mhi)) - (mlo)) * (scale) + (shift))
#define FASTNN_BN_DX_EXPR(g, x, mhi, mlo, is, a, cb, cg)                                     \
    ((a) * (((g) - (cb)) - ((((x) - (mhi)) - (mlo)) * (is)) * (cg)))

/* Streaming (non-temporal) stores for two train-mode element passes (float32 normalise of a
 * 2-d batch, float32 and float64 dx of an image batch) when their output exceeds
 * FASTNN_BN_STREAM_BYTES.  With ordinary stores every line of the output is first read into the
 * cache, where it also evicts the inputs that the pass (or the next one) reads again;
 * streaming stores write it straight to memory.  Measured (medians, A/B against ordinary
 * stores): (4096, 1024) float32 train forward 2.2-2.5 -> 1.4-1.7 ms on 1 thread, 1.3-1.75 ->
 * 0.95-1.17 ms on 2; (32, 64, 32, 32) spatial backward 1.34-1.42 -> 0.96-1.02 ms (float32)
 * and 4.5-4.8 -> 3.8-4.0 ms (float64) on 1 thread, 2.3-3.7 -> 1.95-2.15 ms (float64) on 2.
 * The float64 normalise and the 2-d dx pass (whose ordinary loop loads its six coefficient
 * vectors once per four rows) measured slower or mixed, and keep ordinary stores.  Below the
 * threshold the next layer may still find the output in cache, so ordinary stores stay.  Test
 * mode reads its output back for a check and never streams.  Only the x86-64 targets with
 * AVX2 or AVX-512 (FASTNN_TARGET_ISA) and GCC/clang vector extensions stream; a streamed
 * vector is the target's full width. */
#define FASTNN_BN_STREAM_BYTES ((size_t)8 << 20)

#if defined(__GNUC__) && defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX2
#define FASTNN_BN_STREAMS 1
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Elements of n (from a 64-byte aligned start) that fill whole cache lines: only those are
 * streamed, so that no line is written half by streaming and half by ordinary stores (an
 * AVX2 vector is half a line). */
#define FASTNN_BN_WHOLE_LINES(T, n)                                                          \
    ((n) / (64 / (ptrdiff_t)sizeof(T)) * (64 / (ptrdiff_t)sizeof(T)))

#if FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
typedef float fastnn_bn_vec_f32 __attribute__((vector_size(64)));
typedef double fastnn_bn_vec_f64 __attribute__((vector_size(64)));
FASTNN_INLINE void fastnn_bn_stream_f32(float *p, fastnn_bn_vec_f32 v) {
    _mm512_stream_ps(p, (__m512)v);
}
FASTNN_INLINE void fastnn_bn_stream_f64(double *p, fastnn_bn_vec_f64 v) {
    _mm512_stream_pd(p, (__m512d)v);
}
#else
typedef float fastnn_bn_vec_f32 __attribute__((vector_size(32)));
typedef double fastnn_bn_vec_f64 __attribute__((vector_size(32)));
FASTNN_INLINE void fastnn_bn_stream_f32(float *p, fastnn_bn_vec_f32 v) {
    _mm256_stream_ps(p, (__m256)v);
}
FASTNN_INLINE void fastnn_bn_stream_f64(double *p, fastnn_bn_vec_f64 v) {
    _mm256_stream_pd(p, (__m256d)v);
}
#endif

/* 1 if a pass that writes `bytes` in rows (segments) of `row_bytes` streams its stores:
 * short rows would go mostly through the scalar peel and tail. */
static int fastnn_bn_stream_level(size_t bytes, size_t row_bytes)
{
    return bytes >= FASTNN_BN_STREAM_BYTES && row_bytes >= 256;
}
#else
#define FASTNN_BN_STREAMS 0
static int fastnn_bn_stream_level(size_t bytes, size_t row_bytes)
{
    (void)bytes; (void)row_bytes;
    return 0;
}
#endif

#define FASTNN_DTYPE 32
#include "batchnorm_template.h"
#define FASTNN_DTYPE 64
#include "batchnorm_template.h"

#endif /* FASTNN_BATCHNORM_KERNELS_H */
