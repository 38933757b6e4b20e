"""Build and machine facts for show_config (OpenMP, CPU features, the ISA path each kernel
module runs), the ISA cap every kernel module reads at import, the buffer normalisation
every compiled wrapper calls before a kernel, and the large outputs' allocation
(``empty_apart`` and its pool of kept buffers).

Every kernel module also exports ``OPENMP`` (compiled with OpenMP or not) so that a test
can check each module separately: a flag lost for one extension must not go unnoticed; and
``ISA`` (the path it selected at import) and ``ISA_BUILT`` (the paths compiled into it).

CPU dispatch (fastnn_cpu.h): each kernel family is compiled once per ISA target; at import
a module takes the best path that the CPU reports (cpuid), the OS enables (XCR0) and
``FASTNN_MAX_CPU_ISA`` allows.
"""

import os
import warnings

cimport numpy as cnp
from cpython.list cimport PyList_GET_ITEM
from cpython.ref cimport _Py_REFCNT
import numpy as np

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_CPU_N_BITS,
    FASTNN_CPU_NEEDS_AVX2,
    FASTNN_CPU_NEEDS_AVX512,
    FASTNN_N_ISAS,
    FASTNN_OPENMP,
    fastnn_cpu_detect,
    fastnn_isa_select,
    fastnn_isa_supported,
    fastnn_omp_max_threads,
    is_kernel_buffer,
)

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

# The compiled paths, worst to best (FASTNN_ISA_* in fastnn_cpu.h).
ISA_NAMES = ("baseline", "avx2", "avx512")
# Names of the bits of the feature mask (FASTNN_CPU_* in fastnn_cpu.h, in bit order); the
# os_* bits say that the OS saves the AVX / AVX-512 register state (XCR0).
FEATURE_NAMES = ("sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "f16c", "fma",
                 "avx2", "bmi1", "bmi2", "lzcnt", "movbe", "avx512f", "avx512cd", "avx512bw",
                 "avx512dq", "avx512vl", "os_avx", "os_avx512")
if len(ISA_NAMES) != FASTNN_N_ISAS or len(FEATURE_NAMES) != FASTNN_CPU_N_BITS:
    raise ImportError("fastnn._kernels._runtime is out of step with fastnn_cpu.h")
FEATURE_BITS = {name: 1 << bit for bit, name in enumerate(FEATURE_NAMES)}
# The features each path needs (the CPU's and the OS's).
ISA_NEEDS = {"baseline": 0, "avx2": FASTNN_CPU_NEEDS_AVX2, "avx512": FASTNN_CPU_NEEDS_AVX512}
CAP_VARIABLE = "FASTNN_MAX_CPU_ISA"


def isa_names(int built):
    """The names of the paths in a mask of 1 << index (FASTNN_BUILT_ISAS), worst first."""
    return tuple(name for k, name in enumerate(ISA_NAMES) if built & (1 << k))


# The paths compiled into the extensions (setup.py builds every kernel module alike; each
# module's own list is its ISA_BUILT).
BUILT_ISAS = isa_names(FASTNN_BUILT_ISAS)
RUNTIME_DISPATCH = len(BUILT_ISAS) > 1


def openmp_max_threads():
    """Threads the OpenMP runtime would use by default (1 without OpenMP)."""
    return fastnn_omp_max_threads()


def cpu_mask():
    """This CPU's and OS's feature mask (bits named by FEATURE_NAMES)."""
    return fastnn_cpu_detect()


def feature_names(int mask):
    """The names of the bits set in a feature mask, in bit order."""
    return [name for bit, name in enumerate(FEATURE_NAMES) if mask & (1 << bit)]


def cpu_features():
    """Names of the SIMD features, among those the kernel paths need, this CPU has (the OS's
    register-state support is in :func:`isa_info`)."""
    return [name for name in feature_names(fastnn_cpu_detect()) if not name.startswith("os_")]


def parse_isa_cap(value):
    """``(cap, problem)`` for a FASTNN_MAX_CPU_ISA value: cap indexes ISA_NAMES (the best
    path when the value is None or empty); problem is None, or a one-line message for a value
    that names no path (the best path is used then).  Case and surrounding blanks ignored."""
    if value is None or not value.strip():
        return len(ISA_NAMES) - 1, None
    name = value.strip().lower()
    if name in ISA_NAMES:
        return ISA_NAMES.index(name), None
    return len(ISA_NAMES) - 1, (
        f"{CAP_VARIABLE}={value!r} is not one of {', '.join(ISA_NAMES)}: "
        "using the best path this CPU supports")


_cap = None  # (cap, raw value, problem), read once


def isa_cap():
    """The cap set by FASTNN_MAX_CPU_ISA, read on the first call (each kernel module's
    import); an unknown value warns once (RuntimeWarning) and means no cap."""
    global _cap
    if _cap is None:
        raw = os.environ.get(CAP_VARIABLE)
        cap, problem = parse_isa_cap(raw)
        _cap = (cap, raw, problem)
        if problem is not None:
            warnings.warn(problem, RuntimeWarning, stacklevel=2)
    return _cap[0]


def select_isa(int mask, int cap, built=None):
    """The path (a name of ISA_NAMES) the kernel modules select for feature mask ``mask``, cap
    ``cap`` (an index of ISA_NAMES) and the compiled paths ``built`` (names; default
    BUILT_ISAS): the C selector itself, so tests can feed it faked masks."""
    cdef int built_mask = 0
    for name in (BUILT_ISAS if built is None else built):
        built_mask |= 1 << ISA_NAMES.index(name)
    return ISA_NAMES[fastnn_isa_select(mask, cap, built_mask | 1)]


def supported_isa(int mask):
    """The best path (a name of ISA_NAMES) the features of ``mask`` allow, compiled or not."""
    return ISA_NAMES[fastnn_isa_supported(mask)]


def explain_isa(int mask, int cap, built=None, cap_value=None):
    """One sentence: the path selected for (mask, cap, built) and why (see select_isa)."""
    built = BUILT_ISAS if built is None else tuple(built)
    path, best = select_isa(mask, cap, built), supported_isa(mask)
    k, kbest = ISA_NAMES.index(path), ISA_NAMES.index(best)
    if k < kbest and cap < kbest:
        shown = cap_value if cap_value is not None else ISA_NAMES[cap]
        return f"{path}: capped by {CAP_VARIABLE}={shown} (the CPU and OS support {best})"
    if k < kbest:
        return f"{path}: the {best} path the CPU supports is not compiled into this build"
    if k + 1 == len(ISA_NAMES):
        return f"{path}: the best compiled path; the CPU and OS support it"
    above = ISA_NAMES[k + 1]
    missing = feature_names(ISA_NEEDS[above] & ~mask)
    lacks = [name for name in missing if not name.startswith("os_")]
    if lacks:
        why = f"the CPU lacks {', '.join(lacks)}"
    else:
        why = f"the OS does not enable the {above} register state (XCR0)"
    return f"{path}: the best path this CPU and OS support ({above}: {why})"


def isa_info():
    """The ISA path of every kernel module and why, as a dict: ``path`` (the path the kernel
    modules run, or "mixed"), ``cpu_supports`` (the best path the CPU and OS allow),
    ``cpu_features``, ``os_supports`` ({"avx": bool, "avx512": bool}), ``cap`` (the value of
    FASTNN_MAX_CPU_ISA or None), ``built`` (compiled paths), ``reason`` and ``modules``
    ({family: path})."""
    import importlib

    from fastnn._families import FAMILIES

    mask = fastnn_cpu_detect()
    cap = isa_cap()
    modules = {name: importlib.import_module(f"fastnn._kernels.{name}").ISA
               for name in FAMILIES}
    paths = set(modules.values())
    reason = explain_isa(mask, cap, BUILT_ISAS, _cap[1])
    if _cap[2] is not None:
        reason += f"; {_cap[2]}"
    return {
        "path": paths.pop() if len(paths) == 1 else "mixed",
        "cpu_supports": supported_isa(mask),
        "cpu_features": cpu_features(),
        "os_supports": {"avx": bool(mask & FEATURE_BITS["os_avx"]),
                        "avx512": bool(mask & FEATURE_BITS["os_avx512"])},
        "cap": _cap[1],
        "built": list(BUILT_ISAS),
        "reason": reason,
        "modules": modules,
    }


cpdef cnp.ndarray kernel_buffer(cnp.ndarray a, object dtype=None):
    """``a`` as a C-contiguous, aligned, native-order array (of ``dtype`` if given), the only
    layout the kernels read; ``a`` itself when it already is one.  (Compiled because it runs
    on every kernel call: the same test through ``a.flags`` costs 150 ns.)"""
    if is_kernel_buffer(a) and (dtype is None or <object>cnp.PyArray_DESCR(a) is dtype
                                or a.dtype == dtype):
        return a
    return np.require(a, dtype if dtype is not None else a.dtype.newbyteorder("="), "CA")


APART_MIN_BYTES = 512 * 1024  # below, the padding costs about what it saves

# The large outputs (empty_apart's) come from kept buffers.  glibc gives a freed 16 MiB array
# back to the OS, and the next one costs a page fault per page on first touch, more than the
# kernel that fills it (docs/perf/course_layers.md).  A kept buffer is reused, for an output
# of the same size, once no array uses it any more (the pool's list holds its only
# reference).  The bytes kept (in use or not) stay within POOL_VARIABLE's MiB, default
# POOL_DEFAULT_MIB; the oldest unused buffers make room first; 0 keeps none.
POOL_VARIABLE = "FASTNN_BUFFER_POOL_MB"
POOL_DEFAULT_MIB = 256
cdef list _pool = []  # uint8 arrays, the most recently handed out last
cdef Py_ssize_t _pool_bytes = 0
_pool_limit = None  # (bytes, problem), read once


def parse_pool_limit(value):
    """``(bytes, problem)`` for a FASTNN_BUFFER_POOL_MB value (MiB, a number >= 0): the
    default when the value is None or empty; problem is None, or a one-line message for a
    value that is not such a number (the default is used then)."""
    if value is None or not value.strip():
        return POOL_DEFAULT_MIB << 20, None
    try:
        mib = float(value)
    except ValueError:
        mib = -1.0
    if not 0 <= mib < 1 << 40:
        return POOL_DEFAULT_MIB << 20, (
            f"{POOL_VARIABLE}={value!r} is not a number of MiB >= 0: "
            f"keeping up to {POOL_DEFAULT_MIB} MiB of output buffers")
    return int(mib * (1 << 20)), None


def pool_limit():
    """The bytes the buffer pool may keep: FASTNN_BUFFER_POOL_MB, read on the first call; an
    unusable value warns once (RuntimeWarning) and means the default."""
    global _pool_limit
    if _pool_limit is None:
        _pool_limit = parse_pool_limit(os.environ.get(POOL_VARIABLE))
        if _pool_limit[1] is not None:
            warnings.warn(_pool_limit[1], RuntimeWarning, stacklevel=2)
    return _pool_limit[0]


def set_pool_limit(Py_ssize_t nbytes):
    """Keep up to ``nbytes`` of output buffers from now on (0: none); unused buffers beyond
    it are dropped now.  Returns the previous limit."""
    global _pool_limit
    if nbytes < 0:
        raise ValueError(f"the buffer pool's limit must be >= 0 bytes, got {nbytes}")
    previous = pool_limit()
    _pool_limit = (nbytes, None)
    _make_room(0)
    return previous


def pool_info():
    """The buffer pool as a dict: ``limit`` and ``kept`` (bytes), ``buffers`` kept and
    ``unused`` (those no array uses)."""
    unused = sum(1 for i in range(len(_pool)) if _unused(i))
    return {"limit": pool_limit(), "kept": _pool_bytes, "buffers": len(_pool), "unused": unused}


cdef inline bint _unused(Py_ssize_t i):
    """Kept buffer ``i`` is unused: the pool's list holds its only reference (an output, or
    any view of one, holds another through its base)."""
    return _Py_REFCNT(PyList_GET_ITEM(_pool, i)) == 1


cdef void _make_room(Py_ssize_t size):
    """Drop unused kept buffers, oldest first, until ``size`` more bytes fit the limit."""
    global _pool_bytes
    cdef Py_ssize_t i = 0, limit = pool_limit()
    while _pool_bytes + size > limit and i < len(_pool):
        if _unused(i):
            _pool_bytes -= cnp.PyArray_NBYTES(<cnp.ndarray>_pool[i])
            del _pool[i]
        else:
            i += 1


cdef cnp.ndarray _take_buffer(Py_ssize_t size):
    """A uint8 array of ``size`` bytes: a kept one that no array uses, else a new one, kept
    when the limit allows."""
    global _pool_bytes
    cdef Py_ssize_t i
    cdef cnp.ndarray buf
    for i in range(len(_pool) - 1, -1, -1):
        if _unused(i):
            buf = _pool[i]
            if cnp.PyArray_NBYTES(buf) == size:
                del _pool[i]
                _pool.append(buf)
                return buf
    _make_room(size)
    buf = np.empty(size, np.uint8)
    if _pool_bytes + size <= pool_limit():
        _pool.append(buf)
        _pool_bytes += size
    return buf


def empty_apart(cnp.ndarray like, *inputs):
    """An uninitialised C-contiguous array like ``like`` whose data starts far, modulo 4096,
    from where every array in ``inputs`` starts (64-byte aligned; a view into a buffer 4 KiB
    longer, from the buffer pool above).

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
    buf = _take_buffer(nbytes + 4096)
    start = (target - <size_t>cnp.PyArray_DATA(<cnp.ndarray>buf) % 4096) % 4096
    return buf[start:start + nbytes].view(dtype).reshape(shape)


pool_limit()  # FASTNN_BUFFER_POOL_MB is read at import, like FASTNN_MAX_CPU_ISA
