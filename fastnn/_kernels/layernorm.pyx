"""Layer normalization forward and backward (CS231n assignment 2): each row over its features.

Design
------
* The loops are C (layernorm_template.h, one body for both dtypes, compiled once per ISA
  target; the best allowed one is chosen at import: ``ISA``): the row sums need independent
  double partials that Cython cannot express without -ffast-math.
* Statistics per row, in double, exact two-pass (the row is still in cache for the second
  pass).  The cache keeps x itself with each row's mean and 1/std in double; the backward
  recomputes xhat on the fly (no normalised copy of x is kept).
* Forward: one read of x from memory, one write of out.  Backward: one read of dout and x,
  one write of dx; dgamma and dbeta are column sums kept per thread in double and added in
  thread order, so results are deterministic for a given thread count.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads); here it is only capped at
  the number of rows, which are split into one contiguous block per thread.  The GIL is
  released around the kernels.
"""

import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    check_kernel_buffer,
    fastnn_index,
    team_size,
)

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "layernorm_dispatch.h" nogil:
    int fastnn_layernorm_select(int cap)
    void fastnn_layernorm_forward_f32(const float *x, float *out, const float *gamma,
                                      const float *beta, double *mean, double *rstd,
                                      fastnn_index r0, fastnn_index r1, fastnn_index D,
                                      double eps)
    void fastnn_layernorm_forward_f64(const double *x, double *out, const double *gamma,
                                      const double *beta, double *mean, double *rstd,
                                      fastnn_index r0, fastnn_index r1, fastnn_index D,
                                      double eps)
    void fastnn_layernorm_backward_f32(const float *dout, const float *x, float *dx,
                                       const float *gamma, const double *mean,
                                       const double *rstd, double *dgamma, double *dbeta,
                                       float *block, fastnn_index r0, fastnn_index r1,
                                       fastnn_index D)
    void fastnn_layernorm_backward_f64(const double *dout, const double *x, double *dx,
                                       const double *gamma, const double *mean,
                                       const double *rstd, double *dgamma, double *dbeta,
                                       double *block, fastnn_index r0, fastnn_index r1,
                                       fastnn_index D)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_layernorm_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


cdef int _dtype(cnp.ndarray x) except -1:
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"layernorm kernels take float32 or float64, got {x.dtype}")
    if cnp.PyArray_NDIM(x) != 2:
        raise ValueError("layernorm kernels take an (N, D) array")
    return t


def forward(cnp.ndarray x, cnp.ndarray out, cnp.ndarray gamma, cnp.ndarray beta,
            cnp.ndarray mean, cnp.ndarray rstd, double eps, int n_threads):
    """Normalise each row of x (N, D) over D: out = (x - mean) * rstd * gamma + beta.

    x, out: (N, D); gamma, beta: (D,), all of x's dtype.  mean, rstd: (N,) float64 outputs.
    """
    cdef int t = _dtype(x)
    cdef Py_ssize_t n = cnp.PyArray_DIM(x, 0), d = cnp.PyArray_DIM(x, 1)
    check_kernel_buffer(x, "x", t, n * d, False)
    check_kernel_buffer(out, "out", t, n * d, True)
    check_kernel_buffer(gamma, "gamma", t, d, False)
    check_kernel_buffer(beta, "beta", t, d, False)
    check_kernel_buffer(mean, "mean", cnp.NPY_FLOAT64, n, True)
    check_kernel_buffer(rstd, "rstd", cnp.NPY_FLOAT64, n, True)
    cdef int nt = team_size(n_threads, n)
    cdef void *xp = data_of(x)
    cdef void *op = data_of(out)
    cdef void *gp = data_of(gamma)
    cdef void *bp = data_of(beta)
    cdef double *mp = <double *>data_of(mean)
    cdef double *rp = <double *>data_of(rstd)
    cdef int c
    with nogil:
        for c in prange(nt, schedule="static", num_threads=nt):
            if t == cnp.NPY_FLOAT32:
                fastnn_layernorm_forward_f32(<const float *>xp, <float *>op, <const float *>gp,
                                             <const float *>bp, mp, rp, c * n // nt,
                                             (c + 1) * n // nt, d, eps)
            else:
                fastnn_layernorm_forward_f64(<const double *>xp, <double *>op,
                                             <const double *>gp, <const double *>bp, mp, rp,
                                             c * n // nt, (c + 1) * n // nt, d, eps)


def backward(cnp.ndarray dout, cnp.ndarray x, cnp.ndarray dx, cnp.ndarray gamma,
             cnp.ndarray mean, cnp.ndarray rstd, cnp.ndarray dgamma, cnp.ndarray dbeta,
             int n_threads):
    """Gradients of forward: dx (N, D), dgamma and dbeta (D,), all of x's dtype.

    mean, rstd: (N,) float64 from the forward.
    """
    cdef int t = _dtype(x)
    cdef Py_ssize_t n = cnp.PyArray_DIM(x, 0), d = cnp.PyArray_DIM(x, 1)
    check_kernel_buffer(dout, "dout", t, n * d, False)
    check_kernel_buffer(x, "x", t, n * d, False)
    check_kernel_buffer(dx, "dx", t, n * d, True)
    check_kernel_buffer(gamma, "gamma", t, d, False)
    check_kernel_buffer(mean, "mean", cnp.NPY_FLOAT64, n, False)
    check_kernel_buffer(rstd, "rstd", cnp.NPY_FLOAT64, n, False)
    check_kernel_buffer(dgamma, "dgamma", t, d, True)
    check_kernel_buffer(dbeta, "dbeta", t, d, True)
    cdef int nt = team_size(n_threads, n)
    # per thread: dgamma and dbeta column sums in double (added in thread order below), then
    # the kernel's scratch for its column sums in x's dtype (2 * d elements)
    cdef cnp.ndarray sums = np.zeros((nt, 4, d))
    cdef double *sp = <double *>data_of(sums)
    cdef void *gp = data_of(dout)
    cdef void *xp = data_of(x)
    cdef void *dxp = data_of(dx)
    cdef void *wp = data_of(gamma)
    cdef const double *mp = <const double *>data_of(mean)
    cdef const double *rp = <const double *>data_of(rstd)
    cdef int c
    with nogil:
        for c in prange(nt, schedule="static", num_threads=nt):
            if t == cnp.NPY_FLOAT32:
                fastnn_layernorm_backward_f32(<const float *>gp, <const float *>xp,
                                              <float *>dxp, <const float *>wp, mp, rp,
                                              sp + 4 * c * d, sp + (4 * c + 1) * d,
                                              <float *>(sp + (4 * c + 2) * d),
                                              c * n // nt, (c + 1) * n // nt, d)
            else:
                fastnn_layernorm_backward_f64(<const double *>gp, <const double *>xp,
                                              <double *>dxp, <const double *>wp, mp, rp,
                                              sp + 4 * c * d, sp + (4 * c + 1) * d,
                                              sp + (4 * c + 2) * d,
                                              c * n // nt, (c + 1) * n // nt, d)
    total = sums[0, :2].copy()
    for c in range(1, nt):
        total += sums[c, :2]
    dgamma[...] = total[0]
    dbeta[...] = total[1]
