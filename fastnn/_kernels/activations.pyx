"""Element-wise activations and their gradients (lecture notes, section 2).

Design
------
* Inputs arrive from the Python wrappers (fastnn/core/activations.py) as flat C-contiguous
  float32/float64 memoryviews; the wrappers handle dtype coercion, layouts and ``out=``.
* float32/float64 share one body through the ``floating`` fused type.
* Threads: the caller passes ``n_threads`` (1 below the measured size threshold); the
  loop runs under ``nogil`` and, above one thread, under ``prange(schedule='static')``.
"""

from cython.parallel cimport prange

from fastnn._kernels._common cimport FASTNN_OPENMP, floating

OPENMP = bool(FASTNN_OPENMP)


def relu(const floating[::1] x, floating[::1] out, int n_threads=1):
    """out[i] = max(x[i], 0); NaN propagates. x, out: (n,) float32/float64."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    with nogil:
        if n_threads > 1:
            for i in prange(n, schedule="static", num_threads=n_threads):
                v = x[i]
                out[i] = 0 if v < 0 else v
        else:
            for i in range(n):
                v = x[i]
                out[i] = 0 if v < 0 else v


def relu_backward(const floating[::1] dout, const floating[::1] x, floating[::1] out,
                  int n_threads=1):
    """out[i] = dout[i] if x[i] > 0 else 0 (gradient 0 at x == 0). All (n,) of one dtype."""
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        if n_threads > 1:
            for i in prange(n, schedule="static", num_threads=n_threads):
                out[i] = dout[i] if x[i] > 0 else 0
        else:
            for i in range(n):
                out[i] = dout[i] if x[i] > 0 else 0
