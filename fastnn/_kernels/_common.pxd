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
