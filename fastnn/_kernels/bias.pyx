"""Bias kernels of an affine layer, fused with its ReLU: the forward epilogue on the matrix
product's output and the bias gradient with the ReLU's backward.

Design
------
* Forward: ``z = z + b`` or ``z = max(z + b, 0)``, in place on the product ``x @ W`` (one
  read and one write of z where ``z += b`` and a ReLU take two of each and a fresh array).
* Backward: ``dz = dout where out > 0``, ``db = dz.sum(axis=0)`` in one pass over dout, or
  ``db`` alone; column sums in double (bias_template.h).
* The loops are C, compiled once per ISA target (the best allowed one is chosen at import:
  ``ISA``), one body for both dtypes through bias_template.h.
* This module only checks buffers; fastnn/core/bias.py validates user input (the checks its
  NumPy twin runs) and allocates the outputs.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads).  The forward splits rows
  into one contiguous block per thread; the backward splits columns into blocks starting on
  16-element boundaries (threads never write one cache line of db or share a column sum), so
  the results do not depend on the number of threads.  The GIL is released around the loops.
"""

cimport numpy as cnp
from cython.parallel cimport prange

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    check_kernel_buffer,
    chunk_start,
    fastnn_index,
    floating,
    team_size,
)

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "bias_dispatch.h" nogil:
    int fastnn_bias_select(int cap)
    void fastnn_bias_add_rows_f32(float *z, const float *b, fastnn_index r0, fastnn_index r1,
                                  fastnn_index M, int relu)
    void fastnn_bias_add_rows_f64(double *z, const double *b, fastnn_index r0,
                                  fastnn_index r1, fastnn_index M, int relu)
    void fastnn_bias_grad_cols_f32(const float *dout, const float *out, float *dz, float *db,
                                   fastnn_index N, fastnn_index M, fastnn_index c0,
                                   fastnn_index c1)
    void fastnn_bias_grad_cols_f64(const double *dout, const double *out, double *dz,
                                   double *db, fastnn_index N, fastnn_index M,
                                   fastnn_index c0, fastnn_index c1)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_bias_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


cdef inline void _add_rows(floating *z, const floating *b, Py_ssize_t r0, Py_ssize_t r1,
                           Py_ssize_t m, int relu) noexcept nogil:
    if floating is float:
        fastnn_bias_add_rows_f32(z, b, r0, r1, m, relu)
    else:
        fastnn_bias_add_rows_f64(z, b, r0, r1, m, relu)


cdef inline void _grad_cols(const floating *dout, const floating *out, floating *dz,
                            floating *db, Py_ssize_t n, Py_ssize_t m, Py_ssize_t c0,
                            Py_ssize_t c1) noexcept nogil:
    if floating is float:
        fastnn_bias_grad_cols_f32(dout, out, dz, db, n, m, c0, c1)
    else:
        fastnn_bias_grad_cols_f64(dout, out, dz, db, n, m, c0, c1)


cdef void _add(floating *z, const floating *b, Py_ssize_t n, Py_ssize_t m, int relu,
               int n_threads) noexcept nogil:
    cdef int t
    if n_threads <= 1:
        _add_rows(z, b, 0, n, m, relu)
        return
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        _add_rows(z, b, t * n // n_threads, (t + 1) * n // n_threads, m, relu)


cdef void _grad(const floating *dout, const floating *out, floating *dz, floating *db,
                Py_ssize_t n, Py_ssize_t m, int n_threads) noexcept nogil:
    cdef int t
    if n_threads <= 1:
        _grad_cols(dout, out, dz, db, n, m, 0, m)
        return
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        _grad_cols(dout, out, dz, db, n, m, chunk_start(m, n_threads, t),
                   chunk_start(m, n_threads, t + 1))


cdef int _float_type(cnp.ndarray a, str name) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"bias kernels take float32 or float64, got {a.dtype} for {name}")
    if cnp.PyArray_NDIM(a) != 2:
        raise ValueError(f"{name} must be a 2-d (N, M) array")
    return t


def add(cnp.ndarray z, cnp.ndarray b, bint relu, int n_threads):
    """In place on z (N, M): ``z += b`` (b (M,) of z's dtype), then ``max(z, 0)`` if relu."""
    cdef int t = _float_type(z, "z")
    cdef Py_ssize_t n = cnp.PyArray_DIM(z, 0), m = cnp.PyArray_DIM(z, 1)
    check_kernel_buffer(z, "z", t, n * m, True)
    check_kernel_buffer(b, "b", t, m, False)
    cdef int nt = team_size(n_threads, n)
    cdef void *zp = data_of(z)
    cdef const void *bp = data_of(b)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _add(<float *>zp, <const float *>bp, n, m, relu, nt)
        else:
            _add(<double *>zp, <const double *>bp, n, m, relu, nt)


def grad(cnp.ndarray dout, object out, object dz, cnp.ndarray db, int n_threads):
    """db (M,) = column sums of dout (N, M), in double; with out (the ReLU's output, (N, M)),
    of ``dout where out > 0`` (else 0), which is also written into dz when dz is not None."""
    cdef int t = _float_type(dout, "dout")
    cdef Py_ssize_t n = cnp.PyArray_DIM(dout, 0), m = cnp.PyArray_DIM(dout, 1)
    check_kernel_buffer(dout, "dout", t, n * m, False)
    check_kernel_buffer(db, "db", t, m, True)
    cdef void *op = NULL
    cdef void *zp = NULL
    if out is not None:
        check_kernel_buffer(out, "out", t, n * m, False)
        op = data_of(out)
    if dz is not None:
        if out is None:
            raise ValueError("dz is written only with out (the ReLU's output)")
        check_kernel_buffer(dz, "dz", t, n * m, True)
        zp = data_of(dz)
    # split at 16-column boundaries: at most one thread per 16 columns
    cdef int nt = team_size(n_threads, (m + 15) // 16)
    cdef const void *gp = data_of(dout)
    cdef void *bp = data_of(db)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _grad(<const float *>gp, <const float *>op, <float *>zp, <float *>bp, n, m, nt)
        else:
            _grad(<const double *>gp, <const double *>op, <double *>zp, <double *>bp, n, m,
                  nt)
