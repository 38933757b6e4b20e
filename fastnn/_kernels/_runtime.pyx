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


APART_MIN_BYTES = 512 * 1024  # below, the padding costs about what it saves


def empty_apart(cnp.ndarray like, *inputs):
    """An uninitialised C-contiguous array like ``like`` whose data starts far, modulo 4096,
    from where every array in ``inputs`` starts (64-byte aligned; a view into a buffer 4 KiB
    longer).

    Fresh large arrays all start at the same offset in their page (malloc's mmap path), so a
    kernel that stores row r of its output and then loads row r + 1 of an input 4 KiB further
    on waits for the store: the CPU compares the low 12 address bits first (4K aliasing).
    batchnorm's 2-d backward, which walks four rows at a time, took 0.15 ms at (256, 512)
    float64 with dx at dout's offset and 0.094 ms 1-2 KiB away; its forward, 0.09-0.10 ms
    with out 64 bytes past x and 0.07-0.08 ms with out 1-3 KiB away.
    """
    cdef Py_ssize_t nbytes = cnp.PyArray_NBYTES(like)
    shape, dtype = (<object>like).shape, (<object>like).dtype
    if nbytes < APART_MIN_BYTES or not inputs:
        return np.empty(shape, dtype)
    starts = sorted(<size_t>cnp.PyArray_DATA(<cnp.ndarray?>a) % 4096 for a in inputs)
    # the middle of the widest gap between the inputs' offsets on the 4096 circle
    best_gap, target = -1, 0
    for k in range(len(starts)):
        lo = starts[k]
        hi = starts[k + 1] if k + 1 < len(starts) else starts[0] + 4096
        if hi - lo > best_gap:
            best_gap, target = hi - lo, (lo + (hi - lo) // 2) // 64 * 64 % 4096
    buf = np.empty(nbytes + 4096, np.uint8)
    start = (target - <size_t>cnp.PyArray_DATA(<cnp.ndarray>buf) % 4096) % 4096
    return buf[start:start + nbytes].view(dtype).reshape(shape)
