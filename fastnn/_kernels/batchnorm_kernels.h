/* Batch-normalization kernels in C (called from batchnorm.pyx).
 *
 * batchnorm_impl.h holds the loops once; it is included twice below to instantiate the
 * float (_f) and double (_d) versions.  batchnorm_target.c compiles them once per ISA target
 * (run-time CPU dispatch, fastnn_cpu.h) and exports the three drivers per dtype as a table
 * (batchnorm_dispatch.h).
 */
#ifndef FASTNN_BATCHNORM_KERNELS_H
#define FASTNN_BATCHNORM_KERNELS_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "fastnn_cpu.h"
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

/* The element formulas of the two element passes, written once for scalars and vectors
 * (GCC vector extensions broadcast scalar operands): the ordinary loops and the streaming
 * ones below compute the same bits.  normalise: co = [mhi, mlo, scale, shift]; dx: co =
 * [mhi, mlo, inv_std, a, cb, cg] (see finish_grads). */
#define BN_NORMALIZE_EXPR(x, mhi, mlo, scale, shift) ((((x) - (mhi)) - (mlo)) * (scale) + (shift))
#define BN_DX_EXPR(g, x, mhi, mlo, is, a, cb, cg)                                            \
    ((a) * (((g) - (cb)) - ((((x) - (mhi)) - (mlo)) * (is)) * (cg)))

/* Streaming (non-temporal) stores for two train-mode element passes (float32 normalise of a
 * 2-d batch, float32 and float64 dx of an image batch) when their output exceeds
 * BN_STREAM_BYTES.  With ordinary stores every line of the output is first read into the
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
#define BN_STREAM_BYTES ((size_t)8 << 20)

#if defined(__GNUC__) && defined(FASTNN_TARGET_ISA) && FASTNN_TARGET_ISA >= FASTNN_ISA_AVX2
#define BN_STREAMS 1
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define BN_LOAD(VT, p) (__extension__({ VT v_; memcpy(&v_, (p), sizeof v_); v_; }))

/* Elements of n (from a 64-byte aligned start) that fill whole cache lines: only those are
 * streamed, so that no line is written half by streaming and half by ordinary stores (an
 * AVX2 vector is half a line). */
#define BN_WHOLE_LINES(T, n) ((n) / (64 / (ptrdiff_t)sizeof(T)) * (64 / (ptrdiff_t)sizeof(T)))

/* bn_stream_{normalize,dx_segs}_<f|d>: the ordinary loops' arithmetic (rows_normalize,
 * segs_dx) with each row (segment) peeled to the vector alignment that streaming stores
 * need, then a fence so that the lines are visible before the team's barrier.  (A
 * row-by-row streaming rows_dx was slower than the four-row ordinary loop: it loads its six
 * coefficient vectors once per row instead of once per four.) */
#define BN_DEFINE_STREAMS(T, VT, STREAM, NAME_SFX)                                           \
static void bn_stream_normalize_##NAME_SFX(                                                  \
    const T *x, T *out, ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1, const T *co)               \
{                                                                                            \
    enum { W = sizeof(VT) / sizeof(T) };                                                     \
    const T *mhi = co, *mlo = co + d, *sc = co + 2 * d, *sh = co + 3 * d;                    \
    for (ptrdiff_t i = r0; i < r1; i++) {                                                    \
        const T *xr = x + i * d;                                                             \
        T *o = out + i * d;                                                                  \
        ptrdiff_t j = 0;                                                                     \
        for (; j < d && (uintptr_t)(o + j) % 64; j++) /* whole lines streamed */           \
            o[j] = BN_NORMALIZE_EXPR(xr[j], mhi[j], mlo[j], sc[j], sh[j]);                   \
        for (const ptrdiff_t e = j + BN_WHOLE_LINES(T, d - j); j < e; j += W)               \
            STREAM(o + j, BN_NORMALIZE_EXPR(BN_LOAD(VT, xr + j), BN_LOAD(VT, mhi + j),       \
                                            BN_LOAD(VT, mlo + j), BN_LOAD(VT, sc + j),       \
                                            BN_LOAD(VT, sh + j)));                           \
        for (; j < d; j++) o[j] = BN_NORMALIZE_EXPR(xr[j], mhi[j], mlo[j], sc[j], sh[j]);    \
    }                                                                                        \
    _mm_sfence();                                                                            \
}

#define BN_DEFINE_STREAM_DX(T, VT, STREAM, NAME_SFX)                                         \
static void bn_stream_dx_segs_##NAME_SFX(                                                    \
    const T *dout, const T *x, T *dx, ptrdiff_t c, ptrdiff_t s, ptrdiff_t k0, ptrdiff_t k1,  \
    const T *co)                                                                             \
{                                                                                            \
    enum { W = sizeof(VT) / sizeof(T) };                                                     \
    for (ptrdiff_t k = k1 - 1; k >= k0; k--) { /* last to first, as segs_dx */               \
        const T *g = dout + k * s, *xs = x + k * s;                                          \
        T *o = dx + k * s;                                                                   \
        const ptrdiff_t j = k % c;                                                           \
        const T mhi = co[j], mlo = co[c + j], is = co[2 * c + j], a = co[3 * c + j],         \
                cb = co[4 * c + j], cg = co[5 * c + j];                                      \
        ptrdiff_t i = 0;                                                                     \
        for (; i < s && (uintptr_t)(o + i) % 64; i++)                                       \
            o[i] = BN_DX_EXPR(g[i], xs[i], mhi, mlo, is, a, cb, cg);                         \
        for (const ptrdiff_t e = i + BN_WHOLE_LINES(T, s - i); i < e; i += W)               \
            STREAM(o + i, BN_DX_EXPR(BN_LOAD(VT, g + i), BN_LOAD(VT, xs + i), mhi, mlo, is,  \
                                     a, cb, cg));                                            \
        for (; i < s; i++) o[i] = BN_DX_EXPR(g[i], xs[i], mhi, mlo, is, a, cb, cg);          \
    }                                                                                        \
    _mm_sfence();                                                                            \
}

#if FASTNN_TARGET_ISA >= FASTNN_ISA_AVX512
typedef float bn_vf __attribute__((vector_size(64)));
typedef double bn_vd __attribute__((vector_size(64)));
#define BN_STREAM_F(p, v) _mm512_stream_ps((p), (__m512)(v))
#define BN_STREAM_D(p, v) _mm512_stream_pd((p), (__m512d)(v))
#else
typedef float bn_vf __attribute__((vector_size(32)));
typedef double bn_vd __attribute__((vector_size(32)));
#define BN_STREAM_F(p, v) _mm256_stream_ps((p), (__m256)(v))
#define BN_STREAM_D(p, v) _mm256_stream_pd((p), (__m256d)(v))
#endif
BN_DEFINE_STREAMS(float, bn_vf, BN_STREAM_F, f)
BN_DEFINE_STREAM_DX(float, bn_vf, BN_STREAM_F, f)
BN_DEFINE_STREAM_DX(double, bn_vd, BN_STREAM_D, d)

/* 1 if a pass that writes `bytes` in rows (segments) of `row_bytes` streams its stores:
 * short rows would go mostly through the scalar peel and tail. */
static int bn_stream_level(size_t bytes, size_t row_bytes)
{
    return bytes >= BN_STREAM_BYTES && row_bytes >= 256;
}
#else
#define BN_STREAMS 0
static int bn_stream_level(size_t bytes, size_t row_bytes)
{
    (void)bytes; (void)row_bytes;
    return 0;
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

#endif /* FASTNN_BATCHNORM_KERNELS_H */
