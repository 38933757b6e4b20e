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
* This module checks buffers only (dtype, C-contiguity, shapes, no overlap with c); the
  wrapper in fastnn.core.gemm gives users the errors that name their arguments.
"""

from libc.stdint cimport INT32_MAX, int32_t, int64_t, uintptr_t

from fastnn._kernels._common cimport FASTNN_OPENMP, floating

OPENMP = bool(FASTNN_OPENMP)

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112

ctypedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                           int64_t, const float *, int64_t, float, float *, int64_t) noexcept nogil
ctypedef void (*dgemm64_t)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                           int64_t, const double *, int64_t, double, double *, int64_t) noexcept nogil
ctypedef void (*sgemm32_t)(int, int, int, int32_t, int32_t, int32_t, float, const float *,
                           int32_t, const float *, int32_t, float, float *, int32_t) noexcept nogil
ctypedef void (*dgemm32_t)(int, int, int, int32_t, int32_t, int32_t, double, const double *,
                           int32_t, const double *, int32_t, double, double *, int32_t) noexcept nogil

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


cdef inline bint _overlaps(const void *p, Py_ssize_t p_bytes, const void *q,
                           Py_ssize_t q_bytes) noexcept nogil:
    cdef uintptr_t a = <uintptr_t>p, b = <uintptr_t>q
    return a < b + <uintptr_t>q_bytes and b < a + <uintptr_t>p_bytes


def gemm_tn(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
            double alpha, double beta):
    """``c[...] = alpha * a.T @ b + beta * c``: a (K, M), b (K, N), c (M, N), one dtype,
    C-contiguous and aligned; c must not overlap a or b.  K, M, N >= 1 (the wrapper handles empty ones)."""
    cdef Py_ssize_t k = a.shape[0], m = a.shape[1], n = b.shape[1]
    cdef Py_ssize_t size = sizeof(floating)
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm_tn: shapes do not match")
    if k < 1 or m < 1 or n < 1:
        raise ValueError("gemm_tn: empty operands")
    if not _int64 and (k > INT32_MAX or m > INT32_MAX or n > INT32_MAX):
        raise ValueError("gemm_tn: a dimension exceeds the 32-bit BLAS's limit")
    if (<uintptr_t>&a[0, 0] | <uintptr_t>&b[0, 0] | <uintptr_t>&c[0, 0]) % size:
        raise ValueError("gemm_tn: an operand is not aligned")
    if (_overlaps(&c[0, 0], m * n * size, &a[0, 0], k * m * size)
            or _overlaps(&c[0, 0], m * n * size, &b[0, 0], k * n * size)):
        raise ValueError("gemm_tn: c overlaps a or b")
    cdef void *function = _sgemm if floating is float else _dgemm
    if function == NULL:
        raise RuntimeError("gemm_tn: no BLAS function bound for this dtype")
    with nogil:
        if floating is float:
            if _int64:
                (<sgemm64_t>function)(ROW_MAJOR, TRANS, NO_TRANS, m, n, k, <float>alpha,
                                      &a[0, 0], m, &b[0, 0], n, <float>beta, &c[0, 0], n)
            else:
                (<sgemm32_t>function)(ROW_MAJOR, TRANS, NO_TRANS, <int32_t>m, <int32_t>n,
                                      <int32_t>k, <float>alpha, &a[0, 0], <int32_t>m,
                                      &b[0, 0], <int32_t>n, <float>beta, &c[0, 0], <int32_t>n)
        else:
            if _int64:
                (<dgemm64_t>function)(ROW_MAJOR, TRANS, NO_TRANS, m, n, k, alpha, &a[0, 0], m,
                                      &b[0, 0], n, beta, &c[0, 0], n)
            else:
                (<dgemm32_t>function)(ROW_MAJOR, TRANS, NO_TRANS, <int32_t>m, <int32_t>n,
                                      <int32_t>k, alpha, &a[0, 0], <int32_t>m, &b[0, 0],
                                      <int32_t>n, beta, &c[0, 0], <int32_t>n)
