# Declarations shared by every kernel module: the dtype fused type and the C helpers of
# fastnn_simd.h (OpenMP status, run-time dispatch status, CPU features).

ctypedef fused floating:
    float
    double

cdef extern from "fastnn_simd.h" nogil:
    int FASTNN_OPENMP
    int FASTNN_DISPATCH_ACTIVE
    int fastnn_omp_max_threads()
    int fastnn_cpu_features()
    int FASTNN_CPU_SSE42
    int FASTNN_CPU_AVX2
    int FASTNN_CPU_FMA
    int FASTNN_CPU_AVX512F


cdef inline Py_ssize_t chunk_start(Py_ssize_t n, int parts, Py_ssize_t c) noexcept nogil:
    """Start of chunk c when n elements are split into ``parts`` chunks whose starts are
    multiples of 16 elements (a 64-byte cache line of float32: threads never share a line
    they write), clipped to n.  Chunk c is [chunk_start(c), chunk_start(c + 1))."""
    cdef Py_ssize_t chunk = ((n + parts - 1) // parts + 15) & ~(<Py_ssize_t>15)
    cdef Py_ssize_t lo = c * chunk
    return lo if lo < n else n
