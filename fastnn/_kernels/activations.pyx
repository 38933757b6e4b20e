"""Element-wise activations and their gradients (lecture notes, section 2), and maxout.

Design
------
* The loops live in C (activations_simd.h, activations_template.h): gcc does not vectorise
  libm's exp/tanh, so sigmoid, tanh and ELU use an inline Cody-Waite exp/expm1 that it does
  vectorise; each loop is compiled once per ISA target (AVX-512, AVX2+FMA, baseline) and the
  best allowed one is chosen at import (``ISA``); the tests also run the baseline loops
  (:func:`_use_baseline`).
* This module only checks the arrays it is handed, splits the work between threads and
  releases the GIL.  The Python wrappers (fastnn/core/activations.py) do dtype coercion,
  layouts and ``out=`` and always pass C-contiguous arrays of one float dtype.
* Arrays come in as ndarrays, not typed memoryviews: acquiring a memoryview costs about a
  microsecond per argument, which matters on cache-resident arrays.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads: 1 below the size
  threshold).  Each thread gets one contiguous chunk (a multiple of 16 elements, so chunks
  start on a cache line); the chunk is processed by the same single-thread C loop.
"""

cimport numpy as cnp
from cython.parallel cimport prange

import numpy as np

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    check_kernel_buffer,
    chunk_start,
    floating,
    overlap,
)

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "activations_dispatch.h" nogil:
    enum:
        FASTNN_OP_RELU
        FASTNN_OP_RELU_BACKWARD
        FASTNN_OP_SIGMOID
        FASTNN_OP_SIGMOID_BACKWARD
        FASTNN_OP_TANH
        FASTNN_OP_TANH_BACKWARD
        FASTNN_OP_LEAKY_RELU
        FASTNN_OP_LEAKY_RELU_BACKWARD
        FASTNN_OP_ELU
        FASTNN_OP_ELU_BACKWARD
        FASTNN_N_OPS
    int fastnn_activations_select(int cap)
    void fastnn_activation_f32(int op, int baseline, const float *a, const float *b, float *out,
                            Py_ssize_t n, float alpha)
    void fastnn_activation_f64(int op, int baseline, const double *a, const double *b,
                            double *out, Py_ssize_t n, double alpha)
    void fastnn_maxout_f32(const float *z, float *y, Py_ssize_t *idx, Py_ssize_t m, Py_ssize_t k)
    void fastnn_maxout_f64(const double *z, double *y, Py_ssize_t *idx, Py_ssize_t m,
                        Py_ssize_t k)
    void fastnn_maxout_backward_f32(const float *dout, const Py_ssize_t *idx, float *dz,
                                 Py_ssize_t m, Py_ssize_t k)
    void fastnn_maxout_backward_f64(const double *dout, const Py_ssize_t *idx, double *dz,
                                 Py_ssize_t m, Py_ssize_t k)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_activations_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)

# Kernel ids for :func:`apply` (forward kernels ignore ``b``).
OPS = {
    "relu": FASTNN_OP_RELU,
    "relu_backward": FASTNN_OP_RELU_BACKWARD,
    "sigmoid": FASTNN_OP_SIGMOID,
    "sigmoid_backward": FASTNN_OP_SIGMOID_BACKWARD,
    "tanh": FASTNN_OP_TANH,
    "tanh_backward": FASTNN_OP_TANH_BACKWARD,
    "leaky_relu": FASTNN_OP_LEAKY_RELU,
    "leaky_relu_backward": FASTNN_OP_LEAKY_RELU_BACKWARD,
    "elu": FASTNN_OP_ELU,
    "elu_backward": FASTNN_OP_ELU_BACKWARD,
}

cdef int _baseline = 0


def _use_baseline(bint flag):
    """Run the baseline-ISA loops instead of the selected path's (for tests); returns the
    previous setting."""
    global _baseline
    previous = bool(_baseline)
    _baseline = 1 if flag else 0
    return previous


cdef inline void _call(int op, int baseline, const floating *a, const floating *b,
                       floating *out, Py_ssize_t n, double alpha) noexcept nogil:
    if floating is float:
        fastnn_activation_f32(op, baseline, a, b, out, n, <float>alpha)
    else:
        fastnn_activation_f64(op, baseline, a, b, out, n, alpha)


cdef void _run(int op, const floating *a, const floating *b, floating *out, Py_ssize_t n,
               double alpha, int n_threads) noexcept nogil:
    cdef int baseline = _baseline
    cdef Py_ssize_t c, lo, hi
    if n_threads <= 1 or n < 32 * n_threads:
        _call(op, baseline, a, b, out, n, alpha)
        return
    for c in prange(n_threads, schedule="static", num_threads=n_threads):
        lo = chunk_start(n, n_threads, c)
        hi = chunk_start(n, n_threads, c + 1)
        if hi > lo:
            _call(op, baseline, a + lo, (b + lo) if b != NULL else b, out + lo, hi - lo,
                  alpha)


cdef bint _partial_overlap(cnp.ndarray out, cnp.ndarray src):
    """True if the two buffers share memory without being the same buffer."""
    return cnp.PyArray_DATA(out) != cnp.PyArray_DATA(src) and overlap(out, src)


def apply(int op, cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, double alpha, int n_threads):
    """out = kernel ``op`` of a (forward) or of (a = dout, b = x or y) (backward).

    a, b, out: C-contiguous float32/float64 arrays of one dtype and size (b None for forward
    kernels); alpha: the kernel's scalar (ignored by those without one).  ``out`` may be one
    of the inputs; if it overlaps one only partly, the result goes through a temporary.
    """
    if op < 0 or op >= FASTNN_N_OPS:
        raise ValueError(f"unknown activation kernel id {op}")
    cdef int typenum = cnp.PyArray_TYPE(out)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError("activation kernels take float32 or float64 arrays")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    check_kernel_buffer(out, "out", typenum, n, True)
    check_kernel_buffer(a, "a", typenum, n, False)
    cdef bint binary = op & 1  # backward kernels have odd ids (see activations_simd.h)
    if binary:
        check_kernel_buffer(b, "b", typenum, n, False)
    if n == 0:
        return out
    if _partial_overlap(out, a) or (binary and _partial_overlap(out, b)):
        tmp = np.empty(n, out.dtype)
        apply(op, a, b, tmp, alpha, n_threads)
        out.reshape(-1)[...] = tmp
        return out
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b) if binary else NULL
    cdef void *po = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            _run(op, <const float *>pa, <const float *>pb, <float *>po, n, alpha, n_threads)
        else:
            _run(op, <const double *>pa, <const double *>pb, <double *>po, n, alpha,
                 n_threads)
    return out


cdef void _maxout_rows(const floating *z, floating *y, Py_ssize_t *idx, Py_ssize_t m,
                       Py_ssize_t k, int n_threads) noexcept nogil:
    cdef Py_ssize_t c, lo, hi
    if n_threads <= 1 or m < 32 * n_threads:
        if floating is float:
            fastnn_maxout_f32(z, y, idx, m, k)
        else:
            fastnn_maxout_f64(z, y, idx, m, k)
        return
    for c in prange(n_threads, schedule="static", num_threads=n_threads):
        lo = chunk_start(m, n_threads, c)
        hi = chunk_start(m, n_threads, c + 1)
        if hi > lo:
            if floating is float:
                fastnn_maxout_f32(z + lo * k, y + lo, idx + lo, hi - lo, k)
            else:
                fastnn_maxout_f64(z + lo * k, y + lo, idx + lo, hi - lo, k)


cdef void _maxout_backward_rows(const floating *dout, const Py_ssize_t *idx, floating *dz,
                                Py_ssize_t m, Py_ssize_t k, int n_threads) noexcept nogil:
    cdef Py_ssize_t c, lo, hi
    if n_threads <= 1 or m < 32 * n_threads:
        if floating is float:
            fastnn_maxout_backward_f32(dout, idx, dz, m, k)
        else:
            fastnn_maxout_backward_f64(dout, idx, dz, m, k)
        return
    for c in prange(n_threads, schedule="static", num_threads=n_threads):
        lo = chunk_start(m, n_threads, c)
        hi = chunk_start(m, n_threads, c + 1)
        if hi > lo:
            if floating is float:
                fastnn_maxout_backward_f32(dout + lo, idx + lo, dz + lo * k, hi - lo, k)
            else:
                fastnn_maxout_backward_f64(dout + lo, idx + lo, dz + lo * k, hi - lo, k)


def maxout(cnp.ndarray z, cnp.ndarray y, cnp.ndarray idx, Py_ssize_t k, int n_threads):
    """y[i] = max(z[i, :]), idx[i] = first argmax, for z viewed as (m, k) rows.

    z: C-contiguous float32/float64 of m*k elements; y: m elements of z's dtype;
    idx: m intp.
    """
    cdef int typenum = cnp.PyArray_TYPE(z)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError("maxout takes float32 or float64 arrays")
    if k < 1:
        raise ValueError("k must be >= 1")
    cdef Py_ssize_t m = cnp.PyArray_SIZE(y)
    check_kernel_buffer(z, "z", typenum, m * k, False)
    check_kernel_buffer(y, "y", typenum, m, True)
    check_kernel_buffer(idx, "idx", cnp.NPY_INTP, m, True)
    if m == 0:
        return y, idx
    cdef void *pz = cnp.PyArray_DATA(z)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef Py_ssize_t *pi = <Py_ssize_t *>cnp.PyArray_DATA(idx)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            _maxout_rows(<const float *>pz, <float *>py, pi, m, k, n_threads)
        else:
            _maxout_rows(<const double *>pz, <double *>py, pi, m, k, n_threads)
    return y, idx


def maxout_backward(cnp.ndarray dout, cnp.ndarray idx, cnp.ndarray dz, Py_ssize_t k,
                    int n_threads):
    """dz[i, j] = dout[i] if j == idx[i] else 0, for dz viewed as (m, k) rows (every element
    is written: dz may be uninitialised).

    dout: C-contiguous float32/float64 of m elements; idx: m intp, each in [0, k) (checked by
    the caller); dz: m*k elements of dout's dtype.
    """
    cdef int typenum = cnp.PyArray_TYPE(dout)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError("maxout_backward takes float32 or float64 arrays")
    if k < 1:
        raise ValueError("k must be >= 1")
    cdef Py_ssize_t m = cnp.PyArray_SIZE(dout)
    check_kernel_buffer(dout, "dout", typenum, m, False)
    check_kernel_buffer(idx, "idx", cnp.NPY_INTP, m, False)
    check_kernel_buffer(dz, "dz", typenum, m * k, True)
    if m == 0:
        return dz
    cdef void *pd = cnp.PyArray_DATA(dout)
    cdef const Py_ssize_t *pi = <const Py_ssize_t *>cnp.PyArray_DATA(idx)
    cdef void *pz = cnp.PyArray_DATA(dz)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            _maxout_backward_rows(<const float *>pd, pi, <float *>pz, m, k, n_threads)
        else:
            _maxout_backward_rows(<const double *>pd, pi, <double *>pz, m, k, n_threads)
    return dz
