# Declarations shared by every kernel module: the dtype fused type, the C helpers of
# fastnn_simd.h (OpenMP status, index bounds check), the CPU dispatch of fastnn_cpu.h
# and the small helpers of the Python-facing entry points (thread team size, buffer overlap,
# the buffer layout the kernels read).

cimport numpy as cnp

ctypedef fused floating:
    float
    double

cdef extern from "fastnn_simd.h" nogil:
    ctypedef Py_ssize_t fastnn_index
    fastnn_index fastnn_first_outside(const fastnn_index *idx, fastnn_index m,
                                      fastnn_index lo, fastnn_index hi)
    int FASTNN_OPENMP
    int fastnn_omp_max_threads()


cdef extern from "fastnn_cpu.h" nogil:
    int FASTNN_N_ISAS
    int FASTNN_BUILT_ISAS
    int FASTNN_CPU_N_BITS
    int FASTNN_CPU_NEEDS_AVX2
    int FASTNN_CPU_NEEDS_AVX512
    int fastnn_cpu_detect()
    int fastnn_isa_supported(int mask)
    int fastnn_isa_select(int mask, int cap, int built)


cdef inline Py_ssize_t aligned_chunk_start(Py_ssize_t n, int parts, Py_ssize_t c,
                                           Py_ssize_t align) noexcept nogil:
    """Start of chunk c when n elements are split into ``parts`` chunks whose starts are
    multiples of ``align`` elements (a power of two), clipped to n.  Chunk c is
    [start(c), start(c + 1))."""
    cdef Py_ssize_t chunk = ((n + parts - 1) // parts + align - 1) & ~(align - 1)
    cdef Py_ssize_t lo = c * chunk
    return lo if lo < n else n


cdef inline Py_ssize_t chunk_start(Py_ssize_t n, int parts, Py_ssize_t c) noexcept nogil:
    """aligned_chunk_start with starts at multiples of 16 elements (a 64-byte cache line of
    float32: threads never share a line they write)."""
    return aligned_chunk_start(n, parts, c, 16)


cdef enum:
    MAX_THREADS = 256  # size of the per-thread partial-result arrays


cdef inline int team_size(int n_threads, Py_ssize_t units) noexcept nogil:
    """The wrapper's thread count ``n_threads`` (the wrapper applies the size threshold)
    capped by the number of units to split (rows, elements) and MAX_THREADS."""
    if n_threads <= 1:
        return 1
    if n_threads > units:
        n_threads = <int>units
    return n_threads if n_threads < MAX_THREADS else MAX_THREADS


cdef inline bint overlap(cnp.ndarray a, cnp.ndarray b) noexcept:
    """True if the two arrays' memory ranges intersect."""
    cdef char *pa = <char *>cnp.PyArray_DATA(a)
    cdef char *pb = <char *>cnp.PyArray_DATA(b)
    return pa < pb + cnp.PyArray_NBYTES(b) and pb < pa + cnp.PyArray_NBYTES(a)


cdef inline bint is_kernel_buffer(cnp.ndarray a) noexcept:
    """True if a kernel can read a's memory as is: C-contiguous, aligned, native byte order."""
    return cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISBEHAVED_RO(a)


cdef inline int check_kernel_buffer(cnp.ndarray a, str name, int typenum, Py_ssize_t size,
                                    bint write) except -1:
    """Raise ValueError unless ``a`` is a C-contiguous, aligned, native-order array of ``size``
    elements of type ``typenum``, writeable if ``write``: the kernels trust their buffers."""
    if a is None:
        raise ValueError(f"{name} is required")
    if (not is_kernel_buffer(a) or cnp.PyArray_TYPE(a) != typenum
            or cnp.PyArray_SIZE(a) != size):
        raise ValueError(f"{name} must be a C-contiguous, aligned, native-order array of {size} "
                         f"elements of dtype {cnp.PyArray_DescrFromType(typenum)}")
    if write and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only")
    return 0
