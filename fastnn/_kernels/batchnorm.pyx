"""Batch normalization forward (train/test) and backward (lecture notes, section 5).

Design
------
* The loops are C (batchnorm_template.h, instantiated for float and double by
  batchnorm_kernels.h, compiled once per ISA target; the best allowed one is chosen at import:
  ``ISA``): they need explicit multi-row accumulation, independent lane
  accumulators and a per-thread team layout that Cython cannot express.  This module only
  checks buffers and passes them on (the header picks the dtype's instantiation);
  fastnn/core/batchnorm.py validates user input.
* Data is ``(n, c, s)``: a 2-d batch is ``(N, D, 1)`` (loops vectorised across columns),
  images are ``(N, C, H*W)`` (loops along each contiguous channel plane).  Nothing is
  transposed or copied.
* Statistics: deviations from a shift near the mean are summed (corrected two-pass) and the
  blocks merged with Chan et al.'s pairwise update.  A channel plane, and the first tile of
  rows, is read twice while in cache (its own mean as the shift); later tiles of rows take
  the mean so far as the shift and are read once, unless their data sits far from it.
  Accumulation is in double; for float32 the squares and 8-row partial sums are float
  (relative error ~5e-7), with a double fallback for a tile whose sums overflow.
  ``E[x^2] - E[x]^2`` is never formed.
* Train forward = one read of x for the statistics + one read/write for the output.  The
  cache keeps x itself (not xhat) with mean and 1/std in double; the backward recomputes
  xhat on the fly: one pass for sum(dout) and sum(dout*xhat), one for dx (test mode: one).
  The element passes run at the vector width of the dtype with a hi+lo split of the mean.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads); the team splits rows
  (or channel planes) into contiguous blocks, each thread keeps partial sums, one thread
  merges them, and the team then runs the element pass.  Partitions depend only on the
  shape and the thread count, so results are deterministic for a given thread count.  The
  GIL is released throughout.
"""

cimport numpy as cnp

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport FASTNN_BUILT_ISAS, FASTNN_OPENMP, check_kernel_buffer

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "batchnorm_dispatch.h" nogil:
    # Element arrays (x, out, gamma, beta, running statistics, dout, dx, dgamma, dbeta) are
    # float32 or float64 as f64 says; mean and inv_std are double.  All come as void
    # pointers: the header's entry points pick the instantiation for the dtype.
    int fastnn_batchnorm_select(int cap)
    int fastnn_bn_forward_train(bint f64, const void *x, void *out, Py_ssize_t n, Py_ssize_t c,
                         Py_ssize_t s, const void *gamma, const void *beta, double eps,
                         double momentum, const void *rm_in, const void *rv_in, void *rm_out,
                         void *rv_out, void *mean, void *inv_std, int nt)
    int fastnn_bn_forward_test(bint f64, const void *x, void *out, Py_ssize_t n, Py_ssize_t c,
                        Py_ssize_t s, const void *gamma, const void *beta, double eps,
                        const void *rm, const void *rv, void *mean, void *inv_std, int nt)
    int fastnn_bn_backward(bint f64, const void *dout, const void *x, void *dx, Py_ssize_t n,
                    Py_ssize_t c, Py_ssize_t s, const void *gamma, const void *mean,
                    const void *inv_std, double eps, int train, void *dgamma, void *dbeta,
                    int nt)

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_batchnorm_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


cdef int _dtype(cnp.ndarray x) except -1:
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"batchnorm kernels take float32 or float64, got {x.dtype}")
    return t


cdef int _check_forward(cnp.ndarray x, cnp.ndarray out, Py_ssize_t size, Py_ssize_t c,
                        cnp.ndarray gamma, cnp.ndarray beta, cnp.ndarray rm, cnp.ndarray rv,
                        cnp.ndarray mean, cnp.ndarray inv_std) except -1:
    """The buffers both forwards read and write; returns x's type number."""
    cdef int t = _dtype(x)
    check_kernel_buffer(x, "x", t, size, False)
    check_kernel_buffer(out, "out", t, size, True)
    for a, name in ((gamma, "gamma"), (beta, "beta"), (rm, "running_mean"),
                    (rv, "running_var")):
        check_kernel_buffer(a, name, t, c, False)
    check_kernel_buffer(mean, "mean", cnp.NPY_FLOAT64, c, True)
    check_kernel_buffer(inv_std, "inv_std", cnp.NPY_FLOAT64, c, True)
    return t


def forward_train(cnp.ndarray x, cnp.ndarray out, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                  cnp.ndarray gamma, cnp.ndarray beta, double eps, double momentum,
                  cnp.ndarray rm_in, cnp.ndarray rv_in, cnp.ndarray rm_out,
                  cnp.ndarray rv_out, cnp.ndarray mean, cnp.ndarray inv_std, int n_threads):
    """Train-mode forward on x viewed as (n, c, s); statistics per channel c.

    x, out: n*c*s elements; gamma, beta, rm_in, rv_in, rm_out, rv_out: (c,), all of x's
    dtype. mean, inv_std: (c,) float64 outputs. Writes out, rm_out, rv_out, mean, inv_std.
    """
    cdef int t = _check_forward(x, out, n * c * s, c, gamma, beta, rm_in, rv_in, mean, inv_std)
    cdef int rc
    check_kernel_buffer(rm_out, "rm_out", t, c, True)
    check_kernel_buffer(rv_out, "rv_out", t, c, True)
    cdef bint f64 = t == cnp.NPY_FLOAT64
    with nogil:
        rc = fastnn_bn_forward_train(f64, data_of(x), data_of(out), n, c, s, data_of(gamma),
                                     data_of(beta), eps, momentum, data_of(rm_in), data_of(rv_in),
                                     data_of(rm_out), data_of(rv_out), data_of(mean),
                                     data_of(inv_std), n_threads)
    if rc != 0:
        raise MemoryError("batchnorm: could not allocate the per-thread scratch")


def forward_test(cnp.ndarray x, cnp.ndarray out, Py_ssize_t n, Py_ssize_t c, Py_ssize_t s,
                 cnp.ndarray gamma, cnp.ndarray beta, double eps, cnp.ndarray rm,
                 cnp.ndarray rv, cnp.ndarray mean, cnp.ndarray inv_std, int n_threads):
    """Test-mode forward: normalise x (n, c, s) with the running statistics rm, rv (c,).

    Writes out and mean, inv_std ((c,) float64, for the backward).
    """
    cdef int t = _check_forward(x, out, n * c * s, c, gamma, beta, rm, rv, mean, inv_std)
    cdef int rc
    cdef bint f64 = t == cnp.NPY_FLOAT64
    with nogil:
        rc = fastnn_bn_forward_test(f64, data_of(x), data_of(out), n, c, s, data_of(gamma),
                                    data_of(beta), eps, data_of(rm), data_of(rv), data_of(mean),
                                    data_of(inv_std), n_threads)
    if rc != 0:
        raise MemoryError("batchnorm: could not allocate scratch")


def backward(cnp.ndarray dout, cnp.ndarray x, cnp.ndarray dx, Py_ssize_t n, Py_ssize_t c,
             Py_ssize_t s, cnp.ndarray gamma, cnp.ndarray mean, cnp.ndarray inv_std,
             double eps, bint train, cnp.ndarray dgamma, cnp.ndarray dbeta, int n_threads):
    """Gradients of the forward: dx (n, c, s), dgamma, dbeta (c,), all of x's dtype.

    mean, inv_std: (c,) float64 and eps from the forward; ``train`` selects the batch-statistics
    gradient (else the running statistics were constants: dx = gamma * inv_std * dout).
    """
    cdef int t = _dtype(x), rc
    cdef Py_ssize_t size = n * c * s
    check_kernel_buffer(dout, "dout", t, size, False)
    check_kernel_buffer(x, "x", t, size, False)
    check_kernel_buffer(dx, "dx", t, size, True)
    check_kernel_buffer(gamma, "gamma", t, c, False)
    check_kernel_buffer(mean, "mean", cnp.NPY_FLOAT64, c, False)
    check_kernel_buffer(inv_std, "inv_std", cnp.NPY_FLOAT64, c, False)
    check_kernel_buffer(dgamma, "dgamma", t, c, True)
    check_kernel_buffer(dbeta, "dbeta", t, c, True)
    cdef bint f64 = t == cnp.NPY_FLOAT64
    with nogil:
        rc = fastnn_bn_backward(f64, data_of(dout), data_of(x), data_of(dx), n, c, s,
                                data_of(gamma), data_of(mean), data_of(inv_std), eps, train,
                                data_of(dgamma), data_of(dbeta), n_threads)
    if rc != 0:
        raise MemoryError("batchnorm: could not allocate the per-thread scratch")
