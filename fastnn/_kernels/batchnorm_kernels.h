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
