"""Inverted dropout (CS231n assignment 2): out = x * mask / p with a counter-based mask.

Design
------
* The mask of element i is a pure function of (key, i) (dropout_bits.h: SplitMix64 outputs,
  two 32-bit words per 64-bit output), so a seed gives the same mask whatever the thread
  count and chunking, and the NumPy twin (fastnn/reference/dropout.py) computes the same bits.
* What the backward reads depends on the path, one choice (``STORES_MASK_BITS``, below):
  - AVX2 and AVX-512: nothing is stored.  The backward recomputes the mask from the key with
    the forward's loop (dx = dout * mask / p).  Hashing costs less than writing and reading
    back a mask there, and the cache holds no array of x's size.
  - The baseline path (x86-64 SSE2, and aarch64 NEON where built: no 64-bit vector multiply,
    so the two SplitMix64 products per pair of elements run as three 32-bit products each,
    or in general registers): the forward also writes the mask as bits, 1 per element (n/8
    bytes, 1/32 of a float32 x: uint32 word g, bit t for element 32 * g + t), and the
    backward applies them without hashing.  Regenerating made the float32 backward
    0.60-0.70x the speed of NumPy's multiply by a stored mask (4M elements, 1 thread, Zen 4,
    NumPy capped to its baseline too), float64 0.90-0.94x; from the bits 1.55-1.76x and
    1.16-1.20x.  The forward's packing is within the noise (+1.5% float32, +3.3% float64 in
    medians of four runs): its comparisons' masks are packed with SSE2 intrinsics
    (dropout_bits.h).  docs/perf/isa_paths.md has the numbers.
  Either way the mask and the products are the same, bit for bit; the bits kernels are
  compiled in every target (the tests run them under any cap).
* The loop is C, compiled once per ISA target (the best allowed one is chosen at import:
  ``ISA``), one body for both dtypes through dropout_template.h.
* Threads: the caller decides ``n_threads`` (fastnn.core.threads); the elements are split
  into chunks starting at multiples of 32 (even, so no 64-bit output straddles two threads;
  no two threads write one word of bits, nor one cache line).  The GIL is released around
  the kernel.
"""

cimport numpy as cnp
from cython.parallel cimport prange
from libc.stdint cimport uint32_t, uint64_t

from numpy cimport PyArray_DATA as data_of

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    aligned_chunk_start,
    check_kernel_buffer,
    fastnn_index,
    team_size,
)

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "dropout_dispatch.h" nogil:
    int fastnn_dropout_select(int cap)
    void fastnn_dropout_apply_f32(const float *x, float *out, fastnn_index lo, fastnn_index hi,
                                  uint64_t key, uint64_t threshold, float scale)
    void fastnn_dropout_apply_f64(const double *x, double *out, fastnn_index lo,
                                  fastnn_index hi, uint64_t key, uint64_t threshold,
                                  double scale)
    void fastnn_dropout_apply_bits_f32(const float *x, float *out, uint32_t *bits,
                                       fastnn_index lo, fastnn_index hi, uint64_t key,
                                       uint64_t threshold, float scale)
    void fastnn_dropout_apply_bits_f64(const double *x, double *out, uint32_t *bits,
                                       fastnn_index lo, fastnn_index hi, uint64_t key,
                                       uint64_t threshold, double scale)
    void fastnn_dropout_from_bits_f32(const float *x, float *out, const uint32_t *bits,
                                      fastnn_index lo, fastnn_index hi, float scale)
    void fastnn_dropout_from_bits_f64(const double *x, double *out, const uint32_t *bits,
                                      fastnn_index lo, fastnn_index hi, double scale)

cdef extern from "dropout_bits.h" nogil:
    # elements per uint32 word of mask bits (32)
    enum: FASTNN_DROPOUT_GROUP

# The ISA path (fastnn_cpu.h), chosen once: the best the CPU, the OS and FASTNN_MAX_CPU_ISA
# allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_dropout_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)

# Whether the forward stores the mask as bits for the backward (fastnn.core.dropout reads
# this; the one place the choice is made).  Only on the baseline path: its targets (x86-64
# SSE2, aarch64 NEON) have no 64-bit vector multiply, so regenerating the mask costs more
# than reading n/8 bytes of bits (4M float32 on Zen 4: see the Design notes above).
STORES_MASK_BITS = ISA == "baseline"


cdef inline Py_ssize_t n_words(Py_ssize_t size) noexcept nogil:
    return (size + FASTNN_DROPOUT_GROUP - 1) // FASTNN_DROPOUT_GROUP


def bits_size(Py_ssize_t size):
    """The number of uint32 words of mask bits of ``size`` elements: ceil(size / 32)."""
    return n_words(size)


cdef int check_float_pair(cnp.ndarray x, cnp.ndarray out) except -1:
    """x's float typenum, or TypeError / ValueError unless x and out are kernel buffers of one
    float dtype and size (out writeable)."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"dropout kernels take float32 or float64, got {x.dtype}")
    cdef Py_ssize_t size = cnp.PyArray_SIZE(x)
    check_kernel_buffer(x, "x", t, size, False)
    check_kernel_buffer(out, "out", t, size, True)
    return t


cdef void run_chunk(int t, const void *xp, void *op, uint32_t *bp, const uint32_t *rp,
                    Py_ssize_t lo, Py_ssize_t hi, uint64_t key, uint64_t threshold,
                    double scale) noexcept nogil:
    """One chunk [lo, hi): regenerate the mask (bp, rp NULL), regenerate and write its bits to
    bp, or apply the bits rp."""
    if rp != NULL:
        if t == cnp.NPY_FLOAT32:
            fastnn_dropout_from_bits_f32(<const float *>xp, <float *>op, rp, lo, hi,
                                         <float>scale)
        else:
            fastnn_dropout_from_bits_f64(<const double *>xp, <double *>op, rp, lo, hi, scale)
    elif bp != NULL:
        if t == cnp.NPY_FLOAT32:
            fastnn_dropout_apply_bits_f32(<const float *>xp, <float *>op, bp, lo, hi, key,
                                          threshold, <float>scale)
        else:
            fastnn_dropout_apply_bits_f64(<const double *>xp, <double *>op, bp, lo, hi, key,
                                          threshold, scale)
    elif t == cnp.NPY_FLOAT32:
        fastnn_dropout_apply_f32(<const float *>xp, <float *>op, lo, hi, key, threshold,
                                 <float>scale)
    else:
        fastnn_dropout_apply_f64(<const double *>xp, <double *>op, lo, hi, key, threshold, scale)


cdef int run(cnp.ndarray x, cnp.ndarray out, cnp.ndarray bits, bint write_bits, uint64_t key,
             uint64_t threshold, double scale, int n_threads) except -1:
    """Check the buffers, then run the chunks on a team of threads (GIL released)."""
    cdef int t = check_float_pair(x, out)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(x)
    if bits is not None or not write_bits:
        check_kernel_buffer(bits, "bits", cnp.NPY_UINT32, n_words(size), write_bits)
    cdef int nt = team_size(n_threads, n_words(size))
    cdef const void *xp = data_of(x)
    cdef void *op = data_of(out)
    cdef uint32_t *bp = NULL
    cdef const uint32_t *rp = NULL
    if bits is not None:
        if write_bits:
            bp = <uint32_t *>data_of(bits)
        else:
            rp = <const uint32_t *>data_of(bits)
    cdef int c
    with nogil:
        if nt <= 1:
            run_chunk(t, xp, op, bp, rp, 0, size, key, threshold, scale)
        else:
            for c in prange(nt, schedule="static", num_threads=nt):
                # chunks of whole words of mask bits: no two threads write one word
                run_chunk(t, xp, op, bp, rp,
                          aligned_chunk_start(size, nt, c, FASTNN_DROPOUT_GROUP),
                          aligned_chunk_start(size, nt, c + 1, FASTNN_DROPOUT_GROUP),
                          key, threshold, scale)
    return 0


def apply_mask(cnp.ndarray x, cnp.ndarray out, uint64_t key, uint64_t threshold, double scale,
               cnp.ndarray bits, int n_threads):
    """out = x * (scale if element i is kept else 0), element i kept when its 32-bit word of
    the key's stream is below ``threshold`` (<= 2**32).  x, out: C-contiguous, same size
    and float dtype (out may be x).  Unless ``bits`` is None (uint32, ``bits_size(x.size)``
    words, C-contiguous), also writes the keep bits there: bit t of word g set when element
    32 * g + t is kept, the bits past the last element 0."""
    if threshold > (<uint64_t>1) << 32:
        raise ValueError("threshold must be at most 2**32")
    run(x, out, bits, True, key, threshold, scale, n_threads)


def apply_bits(cnp.ndarray x, cnp.ndarray out, cnp.ndarray bits, double scale, int n_threads):
    """out = x * (scale if bit i of ``bits`` is set else 0): the mask that ``apply_mask``
    stored in ``bits`` (same layout), applied without regenerating it."""
    run(x, out, bits, False, 0, 0, scale, n_threads)
