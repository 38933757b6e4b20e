"""The multiclass SVM (hinge) loss with its gradient, fused (CS231n assignment 1 and 2).

Design
------
* Merged loss and gradient, as softmax_loss and sklearn/_loss: per row, one pass computes
  every margin, the row's loss, dx and the number of positive margins (svm_template.h).  x is
  read once and dx written once.
* The loop is C, compiled once per ISA target (the best allowed one is chosen at import:
  ``ISA``), one body for both dtypes through svm_template.h.
* This module only checks buffers; fastnn/core/svm.py validates user input (the checks its
  NumPy twin runs) and allocates dx.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads); here it is only capped at
  the number of rows.  Rows are split into one contiguous block per thread and the per-thread
  loss partials are summed in thread order, so the loss does not depend on scheduling.  The
  GIL is released around the kernel.
"""

cimport numpy as cnp
from cython.parallel cimport prange

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    MAX_THREADS,
    check_kernel_buffer,
    fastnn_index,
    floating,
    team_size,
)

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "svm_dispatch.h" nogil:
    int fastnn_svm_select(int cap)
    double fastnn_svm_loss_rows_f32(const float *x, const fastnn_index *y, float *dx,
                                    fastnn_index r0, fastnn_index r1, fastnn_index C, double n)
    double fastnn_svm_loss_rows_f64(const double *x, const fastnn_index *y, double *dx,
                                    fastnn_index r0, fastnn_index r1, fastnn_index C, double n)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_svm_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


cdef inline double _rows(const floating *x, const fastnn_index *y, floating *dx,
                         Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c, double n) noexcept nogil:
    if floating is float:
        return fastnn_svm_loss_rows_f32(x, y, dx, r0, r1, c, n)
    else:
        return fastnn_svm_loss_rows_f64(x, y, dx, r0, r1, c, n)


cdef double _loss(const floating *x, const fastnn_index *y, floating *dx, Py_ssize_t n,
                  Py_ssize_t c, int n_threads) noexcept nogil:
    """Sum of the per-row losses of all n rows, dx written."""
    cdef double partial[MAX_THREADS]
    cdef double total = 0.0
    cdef int t
    if n_threads <= 1:
        return _rows(x, y, dx, 0, n, c, <double>n)
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        partial[t] = _rows(x, y, dx, t * n // n_threads, (t + 1) * n // n_threads, c,
                           <double>n)
    for t in range(n_threads):
        total += partial[t]
    return total


def loss_gradient(cnp.ndarray x, cnp.ndarray y, cnp.ndarray dx, int n_threads):
    """Mean hinge loss of scores x (N, C) with labels y (N,) intp, 0 <= y < C (unchecked
    here), N, C >= 1; writes the gradient into dx (N, C) of x's dtype.  Returns the loss."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"svm kernels take float32 or float64, got {x.dtype}")
    if cnp.PyArray_NDIM(x) != 2 or cnp.PyArray_DIM(x, 0) < 1 or cnp.PyArray_DIM(x, 1) < 1:
        raise ValueError("x must be a non-empty (N, C) array")
    cdef Py_ssize_t n = cnp.PyArray_DIM(x, 0), c = cnp.PyArray_DIM(x, 1)
    check_kernel_buffer(x, "x", t, n * c, False)
    check_kernel_buffer(y, "y", cnp.NPY_INTP, n, False)
    check_kernel_buffer(dx, "dx", t, n * c, True)
    cdef int nt = team_size(n_threads, n)
    cdef double total
    cdef const fastnn_index *yp = <const fastnn_index *>data_of(y)
    cdef void *xp = data_of(x)
    cdef void *dp = data_of(dx)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            total = _loss(<const float *>xp, yp, <float *>dp, n, c, nt)
        else:
            total = _loss(<const double *>xp, yp, <double *>dp, n, c, nt)
    return total / n
