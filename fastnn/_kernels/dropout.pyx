"""Inverted dropout (CS231n assignment 2): out = x * mask / p with a counter-based mask.

Design
------
* The mask of element i is a pure function of (key, i) (dropout_bits.h: SplitMix64 outputs,
  two 32-bit words per 64-bit output), so a seed gives the same mask whatever the thread
  count and chunking, and the NumPy twin (fastnn/reference/dropout.py) computes the same bits.
* Nothing is stored: the backward recomputes the mask from the key with the same loop
  (dx = dout * mask / p).  Hashing costs less than writing and reading back a mask on the
  AVX2 and AVX-512 paths, and the cache holds no array of x's size.  Not on the SSE2
  baseline (no 64-bit vector multiply): there the float32 backward takes about 1.5x the
  time of NumPy's multiply by a stored mask (docs/perf/isa_paths.md).
* The loop is C, compiled once per ISA target (the best allowed one is chosen at import:
  ``ISA``), one body for both dtypes through dropout_template.h.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads); the elements are split
  into chunks starting at multiples of 16 (even, so no 64-bit output straddles two threads,
  and no two threads write one cache line).  The GIL is released around the kernel.
"""

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport uint64_t

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    check_kernel_buffer,
    chunk_start,
    fastnn_index,
    team_size,
)

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "dropout_dispatch.h" nogil:
    int fastnn_dropout_select(int cap)
    void fastnn_dropout_apply_f32(const float *x, float *out, fastnn_index lo, fastnn_index hi,
                                  uint64_t key, uint64_t threshold, float scale)
    void fastnn_dropout_apply_f64(const double *x, double *out, fastnn_index lo,
                                  fastnn_index hi, uint64_t key, uint64_t threshold,
                                  double scale)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_dropout_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


def apply_mask(cnp.ndarray x, cnp.ndarray out, uint64_t key, uint64_t threshold, double scale,
               int n_threads):
    """out = x * (scale if element i is kept else 0), element i kept when its 32-bit word of
    the key's stream is below ``threshold`` (<= 2**32).  x, out: C-contiguous, same size
    and float dtype (out may be x)."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"dropout kernels take float32 or float64, got {x.dtype}")
    if threshold > (<uint64_t>1) << 32:
        raise ValueError("threshold must be at most 2**32")
    cdef Py_ssize_t size = cnp.PyArray_SIZE(x)
    check_kernel_buffer(x, "x", t, size, False)
    check_kernel_buffer(out, "out", t, size, True)
    cdef int nt = team_size(n_threads, (size + 15) // 16)
    cdef void *xp = data_of(x)
    cdef void *op = data_of(out)
    cdef float scale32 = <float>scale
    cdef int c
    cdef Py_ssize_t lo, hi
    with nogil:
        if nt <= 1:
            if t == cnp.NPY_FLOAT32:
                fastnn_dropout_apply_f32(<const float *>xp, <float *>op, 0, size, key,
                                         threshold, scale32)
            else:
                fastnn_dropout_apply_f64(<const double *>xp, <double *>op, 0, size, key,
                                         threshold, scale)
        else:
            for c in prange(nt, schedule="static", num_threads=nt):
                lo = chunk_start(size, nt, c)
                hi = chunk_start(size, nt, c + 1)
                if t == cnp.NPY_FLOAT32:
                    fastnn_dropout_apply_f32(<const float *>xp, <float *>op, lo, hi, key,
                                             threshold, scale32)
                else:
                    fastnn_dropout_apply_f64(<const double *>xp, <double *>op, lo, hi, key,
                                             threshold, scale)
