"""Build and machine facts for show_config (OpenMP, CPU features, run-time dispatch), and
the buffer normalisation every compiled wrapper calls before a kernel.

Every kernel module also exports ``OPENMP`` (compiled with OpenMP or not) so that a test
can check each module separately: a flag lost for one extension must not go unnoticed.
"""

cimport numpy as cnp
import numpy as np

from fastnn._kernels._common cimport (
    FASTNN_CPU_AVX2,
    FASTNN_CPU_AVX512F,
    FASTNN_CPU_FMA,
    FASTNN_CPU_SSE42,
    FASTNN_DISPATCH_ACTIVE,
    FASTNN_OPENMP,
    fastnn_cpu_features,
    fastnn_omp_max_threads,
    is_kernel_buffer,
)

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)
RUNTIME_DISPATCH = bool(FASTNN_DISPATCH_ACTIVE)


def openmp_max_threads():
    """Threads the OpenMP runtime would use by default (1 without OpenMP)."""
    return fastnn_omp_max_threads()


def cpu_features():
    """Names of the SIMD features, among those the kernels dispatch on, this CPU has."""
    cdef int mask = fastnn_cpu_features()
    names = []
    for bit, name in ((FASTNN_CPU_SSE42, "sse4.2"), (FASTNN_CPU_AVX2, "avx2"),
                      (FASTNN_CPU_FMA, "fma"), (FASTNN_CPU_AVX512F, "avx512f")):
        if mask & bit:
            names.append(name)
    return names


cpdef cnp.ndarray kernel_buffer(cnp.ndarray a, object dtype=None):
    """``a`` as a C-contiguous, aligned, native-order array (of ``dtype`` if given), the only
    layout the kernels read; ``a`` itself when it already is one.  (Compiled because it runs
    on every kernel call: the same test through ``a.flags`` costs 150 ns.)"""
    if is_kernel_buffer(a) and (dtype is None or <object>cnp.PyArray_DESCR(a) is dtype
                                or a.dtype == dtype):
        return a
    return np.require(a, dtype if dtype is not None else a.dtype.newbyteorder("="), "CA")
