"""Softmax, log-softmax and the fused softmax cross-entropy loss + gradient.

Design
------
* Merged loss and link, as in sklearn/_loss: ``loss_gradient`` computes, per row, the max,
  the sum of exps, the loss and the gradient in one pass over the row (the row kernels and
  their rationale are in softmax_simd.h).  The exps are written straight into the output and
  rescaled in place, so x is read once and dx written once.
* The loops are hand-written C in softmax_simd.h (one body per dtype through a macro,
  compiled once per ISA target; the best allowed one is chosen at import: ``ISA``) because
  the vectorised exp and the lane-wise reductions must not depend on -ffast-math.
* Per-call overhead matters: at (64, 10) the whole call takes a few microseconds.  So the
  ``def`` entry points take plain objects, check them with the NumPy C-API and call the C
  kernel directly (no fused-type dispatch, no memoryview set-up).  Anything unusual (lists,
  non-contiguous or unaligned arrays, float labels, invalid input, an ``out`` overlapping the
  input) returns ``NotImplemented`` and the Python wrapper in fastnn/core/softmax.py runs
  the shared validation (which raises the same errors as the NumPy twin) and calls again
  with normalised arrays.
* Threads: the caller (fastnn/core/softmax.py, with fastnn.core.threads) decides the count and
  passes it as ``n_threads``; here it is only capped at the number of rows.  Rows are split
  into one contiguous chunk per thread; per-thread loss partials are summed in thread order,
  so the loss does not depend on scheduling.  The GIL is released around the kernel.
"""

cimport numpy as cnp
from cython.parallel cimport prange

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    MAX_THREADS,
    fastnn_first_outside,
    fastnn_index,
    floating,
    is_kernel_buffer,
    overlap,
    team_size,
)

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "softmax_dispatch.h" nogil:
    int fastnn_softmax_select(int cap)
    double fastnn_softmax_loss_rows_f32(const float *x, const fastnn_index *y, float *out,
                                        fastnn_index r0, fastnn_index r1, fastnn_index C,
                                        double inv_n)
    double fastnn_softmax_loss_rows_f64(const double *x, const fastnn_index *y, double *out,
                                        fastnn_index r0, fastnn_index r1, fastnn_index C,
                                        double inv_n)
    void fastnn_softmax_rows_f32(const float *x, float *out, fastnn_index r0, fastnn_index r1,
                                 fastnn_index C, int log)
    void fastnn_softmax_rows_f64(const double *x, double *out, fastnn_index r0,
                                 fastnn_index r1, fastnn_index C, int log)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_softmax_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


cdef double _loss_rows(const floating *x, const fastnn_index *y, floating *out, Py_ssize_t n,
                       Py_ssize_t c, int n_threads) noexcept nogil:
    """Sum of the per-row losses of all n rows, dx written into out."""
    cdef double inv_n = 1.0 / n
    cdef double partial[MAX_THREADS]
    cdef double total = 0.0
    cdef int t
    if n_threads <= 1:
        if floating is float:
            return fastnn_softmax_loss_rows_f32(x, y, out, 0, n, c, inv_n)
        else:
            return fastnn_softmax_loss_rows_f64(x, y, out, 0, n, c, inv_n)
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        if floating is float:
            partial[t] = fastnn_softmax_loss_rows_f32(x, y, out, t * n // n_threads,
                                                      (t + 1) * n // n_threads, c, inv_n)
        else:
            partial[t] = fastnn_softmax_loss_rows_f64(x, y, out, t * n // n_threads,
                                                      (t + 1) * n // n_threads, c, inv_n)
    for t in range(n_threads):
        total += partial[t]
    return total


cdef void _softmax_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c, int log,
                        int n_threads) noexcept nogil:
    cdef int t
    if n_threads <= 1:
        if floating is float:
            fastnn_softmax_rows_f32(x, out, 0, n, c, log)
        else:
            fastnn_softmax_rows_f64(x, out, 0, n, c, log)
        return
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        if floating is float:
            fastnn_softmax_rows_f32(x, out, t * n // n_threads, (t + 1) * n // n_threads, c, log)
        else:
            fastnn_softmax_rows_f64(x, out, t * n // n_threads, (t + 1) * n // n_threads, c, log)


cdef inline int _scores_type(object x) noexcept:
    """NPY_FLOAT/NPY_DOUBLE if x is a non-empty, C-contiguous, aligned, native 2-d float
    ndarray the kernel can read directly, else -1."""
    if not cnp.PyArray_Check(x):
        return -1
    cdef cnp.ndarray a = <cnp.ndarray>x
    if cnp.PyArray_NDIM(a) != 2:
        return -1
    cdef int typenum = cnp.PyArray_TYPE(a)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return -1
    if not is_kernel_buffer(a):
        return -1
    if cnp.PyArray_DIM(a, 0) < 1 or cnp.PyArray_DIM(a, 1) < 1:
        return -1
    return typenum


cdef object _output(cnp.ndarray x, object out, int typenum, object avoid):
    """A C-contiguous output for x: a new array, ``out`` itself, or None when ``out`` needs
    the Python path (wrong shape/dtype/layout, read-only, or a partial overlap with x or
    with ``avoid``; ``out is x`` is fine because every row only depends on itself)."""
    if out is None:
        return cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(x), typenum, 0)
    if not cnp.PyArray_Check(out):
        return None
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (cnp.PyArray_NDIM(o) != 2 or cnp.PyArray_TYPE(o) != typenum
            or cnp.PyArray_DIM(o, 0) != cnp.PyArray_DIM(x, 0)
            or cnp.PyArray_DIM(o, 1) != cnp.PyArray_DIM(x, 1)
            or not is_kernel_buffer(o) or not cnp.PyArray_ISWRITEABLE(o)):
        return None
    if cnp.PyArray_DATA(o) != cnp.PyArray_DATA(x) and overlap(o, x):
        return None
    if avoid is not None and overlap(o, <cnp.ndarray>avoid):
        return None
    return o


def loss_gradient(x, y, out, int n_threads):
    """Fused softmax cross-entropy: ``(loss, dx)`` or ``NotImplemented``.

    x: (N, C) float32/float64, C-contiguous; y: (N,) integer labels; out: None or a
    C-contiguous (N, C) array of x's dtype.  Returns NotImplemented (and touches nothing)
    for any input that needs fastnn.core.softmax's general path, including invalid labels.
    """
    cdef int typenum = _scores_type(x)
    if typenum < 0:
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), c = cnp.PyArray_DIM(xa, 1)
    if not cnp.PyArray_Check(y):
        return NotImplemented
    cdef cnp.ndarray ya = <cnp.ndarray>y
    if cnp.PyArray_NDIM(ya) != 1 or cnp.PyArray_DIM(ya, 0) != n:
        return NotImplemented
    if not (cnp.PyArray_EquivTypenums(cnp.PyArray_TYPE(ya), cnp.NPY_INTP) and is_kernel_buffer(ya)):
        if not cnp.PyArray_ISINTEGER(ya):
            return NotImplemented
        # other integer dtypes: an intp copy (wrapped values are caught as out of range)
        ya = cnp.PyArray_FROMANY(ya, cnp.NPY_INTP, 1, 1,
                                 cnp.NPY_ARRAY_CARRAY_RO | cnp.NPY_ARRAY_FORCECAST)
    cdef const fastnn_index *yp = <const fastnn_index *>cnp.PyArray_DATA(ya)
    if fastnn_first_outside(yp, n, 0, c) >= 0:
        return NotImplemented
    dst = _output(xa, out, typenum, ya)
    if dst is None:
        return NotImplemented
    cdef cnp.ndarray da = <cnp.ndarray>dst
    cdef int nt = team_size(n_threads, n)
    cdef double total
    cdef void *xp = cnp.PyArray_DATA(xa)
    cdef void *dp = cnp.PyArray_DATA(da)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            total = _loss_rows(<const float *>xp, yp, <float *>dp, n, c, nt)
        else:
            total = _loss_rows(<const double *>xp, yp, <double *>dp, n, c, nt)
    return total / n, dst


cdef object _softmax_impl(x, out, int n_threads, int log):
    cdef int typenum = _scores_type(x)
    if typenum < 0:
        return NotImplemented
    cdef cnp.ndarray xa = <cnp.ndarray>x
    dst = _output(xa, out, typenum, None)
    if dst is None:
        return NotImplemented
    cdef cnp.ndarray da = <cnp.ndarray>dst
    cdef Py_ssize_t n = cnp.PyArray_DIM(xa, 0), c = cnp.PyArray_DIM(xa, 1)
    cdef int nt = team_size(n_threads, n)
    cdef void *xp = cnp.PyArray_DATA(xa)
    cdef void *dp = cnp.PyArray_DATA(da)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _softmax_rows(<const float *>xp, <float *>dp, n, c, log, nt)
        else:
            _softmax_rows(<const double *>xp, <double *>dp, n, c, log, nt)
    return dst


def softmax(x, out, int n_threads):
    """Row-wise softmax of a C-contiguous (N, C) float array, or NotImplemented."""
    return _softmax_impl(x, out, n_threads, 0)


def log_softmax(x, out, int n_threads):
    """Row-wise log-softmax of a C-contiguous (N, C) float array, or NotImplemented."""
    return _softmax_impl(x, out, n_threads, 1)
