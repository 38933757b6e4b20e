"""The BLAS call behind fastnn.core.gemm: ``c = alpha * a.T @ b + beta * c`` through a
``cblas_?gemm`` function found at run time (fastnn/core/gemm.py finds it in the OpenBLAS that
NumPy ships and passes its address here).

Design
------
* Called once per weight and step by the trainer's fused sgd step: the call itself must cost
  next to nothing against the product (a ctypes call with 14 arguments costs several
  microseconds), so the function pointer is called from here, without the GIL.
* The library's integer ABI is either 64-bit (``scipy_cblas_sgemm64_``) or 32-bit
  (``scipy_cblas_sgemm``); :func:`bind` records which.
* This module checks buffers only, with the kernels' checks (_common.pxd); the wrapper in
  fastnn.core.gemm gives users the errors that name their arguments.
"""

cimport numpy as cnp
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uintptr_t

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport FASTNN_OPENMP, check_kernel_buffer, overlap

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112

ctypedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                           int64_t, const float *, int64_t, float, float *,
                           int64_t) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                           int64_t, const double *, int64_t, double, double *,
                           int64_t) noexcept nogil
ctypedef void (*sgemm32_t)(int, int, int, int32_t, int32_t, int32_t, float, const float *,
                           int32_t, const float *, int32_t, float, float *,
                           int32_t) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int32_t, int32_t, int32_t, double, const double *,
                           int32_t, const double *, int32_t, double, double *,
                           int32_t) noexcept nogil

# The bound functions (NULL: none); their integers are 64-bit when _int64.
cdef void *_sgemm = NULL
cdef void *_dgemm = NULL
cdef bint _int64 = True


def bind(uintptr_t sgemm, uintptr_t dgemm, bint int64):
    """Use the ``cblas_sgemm`` / ``cblas_dgemm`` at these addresses (0: none for that dtype),
    with 64-bit integer arguments when ``int64``, else 32-bit ones."""
    global _sgemm, _dgemm, _int64
    _sgemm = <void *>sgemm
    _dgemm = <void *>dgemm
    _int64 = int64


def gemm_tn(cnp.ndarray a not None, cnp.ndarray b not None, cnp.ndarray c not None,
            double alpha, double beta):
    """``c[...] = alpha * a.T @ b + beta * c``: a (K, M), b (K, N), c (M, N), one dtype,
    kernel buffers (C-contiguous, aligned, native order; c writeable) and c not overlapping
    a or b.  K, M, N >= 1 (the wrapper handles empty ones)."""
    if cnp.PyArray_NDIM(a) != 2 or cnp.PyArray_NDIM(b) != 2 or cnp.PyArray_NDIM(c) != 2:
        raise ValueError("gemm_tn: a, b and c must be 2-d")
    cdef Py_ssize_t k = cnp.PyArray_DIM(a, 0), m = cnp.PyArray_DIM(a, 1)
    cdef Py_ssize_t n = cnp.PyArray_DIM(b, 1)
    if cnp.PyArray_DIM(b, 0) != k or cnp.PyArray_DIM(c, 0) != m or cnp.PyArray_DIM(c, 1) != n:
        raise ValueError("gemm_tn: shapes do not match")
    if k < 1 or m < 1 or n < 1:
        raise ValueError("gemm_tn: empty operands")
    if not _int64 and (k > INT32_MAX or m > INT32_MAX or n > INT32_MAX):
        raise ValueError("gemm_tn: a dimension exceeds the 32-bit BLAS's limit")
    cdef int t = cnp.PyArray_TYPE(c)
    cdef void *function = _sgemm if t == cnp.NPY_FLOAT32 else (
        _dgemm if t == cnp.NPY_FLOAT64 else NULL)
    if function == NULL:
        raise RuntimeError(f"gemm_tn: no BLAS function bound for {c.dtype}")
    check_kernel_buffer(a, "a", t, k * m, False)
    check_kernel_buffer(b, "b", t, k * n, False)
    check_kernel_buffer(c, "c", t, m * n, True)
    if overlap(c, a) or overlap(c, b):
        raise ValueError("gemm_tn: c overlaps a or b")
    cdef const void *ap = data_of(a)
    cdef const void *bp = data_of(b)
    cdef void *cp = data_of(c)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if _int64:
                (<sgemm64_t>function)(ROW_MAJOR, TRANS, NO_TRANS, m, n, k, <float>alpha,
                                      <const float *>ap, m, <const float *>bp, n,
                                      <float>beta, <float *>cp, n)
            else:
                (<sgemm32_t>function)(ROW_MAJOR, TRANS, NO_TRANS, <int32_t>m, <int32_t>n,
                                      <int32_t>k, <float>alpha, <const float *>ap,
                                      <int32_t>m, <const float *>bp, <int32_t>n,
                                      <float>beta, <float *>cp, <int32_t>n)
        elif _int64:
            (<dgemm64_t>function)(ROW_MAJOR, TRANS, NO_TRANS, m, n, k, alpha,
                                  <const double *>ap, m, <const double *>bp, n, beta,
                                  <double *>cp, n)
        else:
            (<dgemm32_t>function)(ROW_MAJOR, TRANS, NO_TRANS, <int32_t>m, <int32_t>n,
                                  <int32_t>k, alpha, <const double *>ap, <int32_t>m,
                                  <const double *>bp, <int32_t>n, beta, <double *>cp,
                                  <int32_t>n)
