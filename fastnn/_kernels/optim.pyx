"""The training loop's kernels: minibatch row gather and fused in-place parameter updates.

Design
------
* ``take_rows`` is ``x[idx]`` for a 2-d x: a bounds check over idx, then whole rows copied
  four at a time, line by line in turn, so that four rows stream from memory at once (an
  element loop when rows are strided), rows split over ``n_threads`` threads.  NumPy's
  ``take`` goes through a generic per-item loop, slower on the trainer's batches (rows come
  from DRAM, so both are memory bound; see docs/perf/kernels.md).
* The updates (sgd, momentum, nesterov, rmsprop, adam) are one pass over the parameter and
  its state, where the NumPy formulas need 3 to 10 (a scratch product, then the in-place
  operations).  Each of ``n_threads`` threads gets one contiguous, cache-line aligned chunk.
* ``update_many`` runs one rule over a list of parameters (a training step's) with the GIL
  released once, instead of one Python call per parameter.
* Threads: the caller (fastnn/core/optim.py, with fastnn.core.threads) decides the count and
  passes it as ``n_threads``; here it is only capped at the number of rows (or elements).
* The entry points take already validated arrays (fastnn/core/optim.py runs the checks
  shared with the NumPy twins).  An update returns NotImplemented when its arrays are not all
  C-contiguous (or all F-contiguous) and aligned, or may overlap; the wrapper then runs the
  NumPy twin, which computes the same values.  The GIL is released around every kernel.
"""

cimport numpy as cnp
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp
from cython.parallel cimport prange

from fastnn._kernels._runtime import ISA_NAMES, isa_cap, isa_names

from fastnn._kernels._common cimport (
    FASTNN_BUILT_ISAS,
    FASTNN_OPENMP,
    chunk_start,
    fastnn_first_outside,
    fastnn_index,
    overlap,
    team_size,
)

cnp.import_array()

OPENMP = bool(FASTNN_OPENMP)

cdef extern from "optim_take_rows.h" nogil:
    void fastnn_take_rows(const char *src, char *dst, const fastnn_index *idx,
                          fastnn_index r0, fastnn_index r1, fastnn_index n, fastnn_index ncols,
                          fastnn_index s_row, fastnn_index s_col, fastnn_index d_row,
                          fastnn_index d_col, fastnn_index itemsize, int stream)

cdef extern from "optim_dispatch.h" nogil:
    int fastnn_optim_select(int cap)
    # fastnn_update(f64, rule, a, lo, n, s): f64 picks the dtype's entry point
    enum fastnn_rule:
        FASTNN_SGD, FASTNN_MOMENTUM, FASTNN_NESTEROV, FASTNN_RMSPROP, FASTNN_ADAM
    void fastnn_update(bint f64, int rule, void **a, fastnn_index lo, fastnn_index n,
                       const double *s)

# The ISA path of the updates (fastnn_cpu.h), chosen once: the best the CPU, the OS and
# FASTNN_MAX_CPU_ISA allow among ISA_BUILT.
ISA = ISA_NAMES[fastnn_optim_select(isa_cap())]
ISA_BUILT = isa_names(FASTNN_BUILT_ISAS)


def first_bad_index(cnp.ndarray idx, Py_ssize_t n):
    """Position of the first entry of a C-contiguous intp array outside [-n, n), or -1."""
    cdef const fastnn_index *ip = <const fastnn_index *>cnp.PyArray_DATA(idx)
    cdef Py_ssize_t m = cnp.PyArray_SIZE(idx)
    with nogil:
        m = fastnn_first_outside(ip, m, -n, n)
    return m


def take_rows(cnp.ndarray x, cnp.ndarray idx, cnp.ndarray out, bint stream, int n_threads):
    """out[r] = x[idx[r]] for 2-d x and out of one fixed-size dtype, any strides.

    idx: C-contiguous intp, every entry in [-N, N) (checked by the caller).  stream: whole
    rows' lines stored past the caches (x86-64; the same bytes, elsewhere a plain copy).
    """
    cdef Py_ssize_t n = cnp.PyArray_DIM(x, 0), m = cnp.PyArray_DIM(out, 0)
    cdef Py_ssize_t ncols = cnp.PyArray_DIM(out, 1)
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(x)
    cdef Py_ssize_t s_row = cnp.PyArray_STRIDE(x, 0), s_col = cnp.PyArray_STRIDE(x, 1)
    cdef Py_ssize_t d_row = cnp.PyArray_STRIDE(out, 0), d_col = cnp.PyArray_STRIDE(out, 1)
    cdef const char *src = <const char *>cnp.PyArray_DATA(x)
    cdef char *dst = <char *>cnp.PyArray_DATA(out)
    cdef const fastnn_index *ip = <const fastnn_index *>cnp.PyArray_DATA(idx)
    cdef int nt = team_size(n_threads, m), t
    with nogil:
        if nt <= 1:
            fastnn_take_rows(src, dst, ip, 0, m, n, ncols, s_row, s_col, d_row, d_col, itemsize,
                             stream)
        else:
            for t in prange(nt, schedule="static", num_threads=nt):
                fastnn_take_rows(src, dst, ip, t * m // nt, (t + 1) * m // nt, n, ncols,
                                 s_row, s_col, d_row, d_col, itemsize, stream)


cdef int _flat_type(tuple arrays) except -2:
    """NPY_FLOAT/NPY_DOUBLE if the (already validated, same shape and dtype) arrays can be
    updated as flat memory: all C- or all F-contiguous, aligned, non-overlapping; else -1."""
    cdef cnp.ndarray a, b
    cdef Py_ssize_t i, j, k = len(arrays)
    cdef bint c_order = True, f_order = True
    for i in range(k):
        a = <cnp.ndarray>arrays[i]
        if not cnp.PyArray_ISBEHAVED_RO(a):  # aligned, native byte order
            return -1
        c_order = c_order and cnp.PyArray_IS_C_CONTIGUOUS(a)
        f_order = f_order and cnp.PyArray_IS_F_CONTIGUOUS(a)
        for j in range(i):
            b = <cnp.ndarray>arrays[j]
            if overlap(a, b):
                return -1
    if not (c_order or f_order):
        return -1
    return cnp.PyArray_TYPE(<cnp.ndarray>arrays[0])


cdef object _update(int rule, tuple arrays, const double *s, int n_threads):
    """Run ``rule`` over the flat arrays, one aligned chunk per thread; NotImplemented if the
    arrays need the NumPy path."""
    cdef int typenum = _flat_type(arrays)
    if typenum < 0:
        return NotImplemented
    cdef void *a[4]
    cdef Py_ssize_t i, n = cnp.PyArray_SIZE(<cnp.ndarray>arrays[0]), lo, hi
    for i in range(len(arrays)):
        a[i] = cnp.PyArray_DATA(<cnp.ndarray>arrays[i])
    cdef int nt = team_size(n_threads, n), t
    cdef bint f64 = typenum == cnp.NPY_DOUBLE
    with nogil:
        if nt <= 1:  # no OpenMP region for the trainer's one-thread steps
            fastnn_update(f64, rule, a, 0, n, s)
        else:
            for t in prange(nt, schedule="static", num_threads=nt):
                lo = chunk_start(n, nt, t)
                hi = chunk_start(n, nt, t + 1)
                fastnn_update(f64, rule, a, lo, hi - lo, s)
    return None


cdef int _rule_scalars(int rule, tuple scalars, double *s) except -1:
    """s[] of ``rule`` (the order of optim_template.h's functions) from its scalars in the order
    of the Python update's signature: sgd (lr), momentum and nesterov (lr, mu), rmsprop (lr,
    decay, eps, eps_in_sqrt), adam (lr, t_step, beta1, beta2, eps)."""
    cdef double lr = scalars[0], mu, decay, eps, beta1, beta2
    cdef Py_ssize_t t_step
    if rule == FASTNN_SGD:
        s[0] = lr
    elif rule == FASTNN_MOMENTUM:
        mu = scalars[1]
        s[0], s[1] = lr, mu
    elif rule == FASTNN_NESTEROV:
        mu = scalars[1]
        s[0], s[1], s[2], s[3] = lr, mu, mu * mu, (1.0 + mu) * lr
    elif rule == FASTNN_RMSPROP:
        decay, eps = scalars[1], scalars[2]
        s[0], s[1], s[2] = lr, decay, 1.0 - decay
        s[3], s[4] = (eps, 0.0) if scalars[3] else (0.0, eps)
    else:
        # the same Python-float arithmetic as the twin, then one rounding to the dtype
        t_step, beta1, beta2, eps = scalars[1], scalars[2], scalars[3], scalars[4]
        s[0], s[1], s[2], s[3] = beta1, 1.0 - beta1, beta2, 1.0 - beta2
        s[4], s[5], s[6] = 1.0 - beta2 ** t_step, eps, lr / (1.0 - beta1 ** t_step)
    return 0


cdef object _rule_update(int rule, tuple arrays, tuple scalars, int n_threads):
    cdef double s[7]
    _rule_scalars(rule, scalars, s)
    return _update(rule, arrays, s, n_threads)


def sgd(p, g, double lr, int n_threads):
    """p -= lr * g in place; NotImplemented if the arrays need the NumPy path."""
    return _rule_update(FASTNN_SGD, (p, g), (lr,), n_threads)


def momentum(p, g, v, double lr, double mu, int n_threads):
    """v = mu * v - lr * g; p += v, in place; NotImplemented for the NumPy path."""
    return _rule_update(FASTNN_MOMENTUM, (p, g, v), (lr, mu), n_threads)


def nesterov(p, g, v, double lr, double mu, int n_threads):
    """p += mu**2 * v - (1 + mu) * lr * g; v = mu * v - lr * g, in place."""
    return _rule_update(FASTNN_NESTEROV, (p, g, v), (lr, mu), n_threads)


def rmsprop(p, g, cache, double lr, double decay, double eps, bint eps_in_sqrt, int n_threads):
    """cache = decay * cache + (1 - decay) * g**2;
    p -= lr * g / sqrt(cache + eps) (eps_in_sqrt) or lr * g / (sqrt(cache) + eps)."""
    return _rule_update(FASTNN_RMSPROP, (p, g, cache), (lr, decay, eps, eps_in_sqrt), n_threads)


def adam(p, g, m, v, double lr, Py_ssize_t t_step, double beta1, double beta2, double eps,
         int n_threads):
    """Adam step t_step (>= 1) with bias correction, in place (the trainer's formulas)."""
    return _rule_update(FASTNN_ADAM, (p, g, m, v), (lr, t_step, beta1, beta2, eps), n_threads)


# The rules by the names of fastnn.core.optim.UPDATE_RULES.
RULES = {
    "sgd": FASTNN_SGD,
    "momentum": FASTNN_MOMENTUM,
    "nesterov": FASTNN_NESTEROV,
    "rmsprop": FASTNN_RMSPROP,
    "adam": FASTNN_ADAM,
}


def update_many(str rule, list groups, tuple scalars, list n_threads):
    """Run ``rule`` (a name of RULES) with one set of scalars (as the single update takes them,
    rmsprop's followed by eps_in_sqrt) over every group ``(p, g, *state)``, in order, the GIL
    released once; group i on ``n_threads[i]`` threads.  Returns the positions of the groups
    whose arrays need the NumPy path (left untouched)."""
    if len(n_threads) != len(groups):
        raise ValueError("update_many needs one thread count per group")
    typenums = [_flat_type(<tuple>group) for group in groups]
    _run_groups(RULES[rule], groups, typenums, scalars, n_threads)
    return [i for i, typenum in enumerate(typenums) if typenum < 0]


cdef int _run_groups(int code, list groups, list typenums, tuple scalars,
                     list n_threads) except -1:
    """The update of every group whose typenum (_flat_type's) is not -1, the GIL released
    once."""
    cdef double s[7]
    _rule_scalars(code, scalars, s)
    cdef Py_ssize_t k = len(groups), i, j, count = 0, lo, hi
    cdef void **a = <void **>malloc(4 * max(k, 1) * sizeof(void *))
    cdef Py_ssize_t *sizes = <Py_ssize_t *>malloc(max(k, 1) * sizeof(Py_ssize_t))
    cdef int *teams = <int *>malloc(2 * max(k, 1) * sizeof(int))
    cdef int nt, t, typenum
    cdef tuple group
    if a == NULL or sizes == NULL or teams == NULL:
        free(a)
        free(sizes)
        free(teams)
        raise MemoryError()
    try:
        for i in range(k):
            typenum = typenums[i]
            if typenum < 0:
                continue
            group = <tuple>groups[i]
            for j in range(len(group)):
                a[4 * count + j] = cnp.PyArray_DATA(<cnp.ndarray>group[j])
            sizes[count] = cnp.PyArray_SIZE(<cnp.ndarray>group[0])
            teams[2 * count] = team_size(<int>n_threads[i], sizes[count])
            teams[2 * count + 1] = typenum == cnp.NPY_DOUBLE
            count += 1
        with nogil:
            for i in range(count):
                nt = teams[2 * i]
                if nt <= 1:
                    fastnn_update(teams[2 * i + 1], code, &a[4 * i], 0, sizes[i], s)
                else:
                    for t in prange(nt, schedule="static", num_threads=nt):
                        lo = chunk_start(sizes[i], nt, t)
                        hi = chunk_start(sizes[i], nt, t + 1)
                        fastnn_update(teams[2 * i + 1], code, &a[4 * i], lo, hi - lo, s)
    finally:
        free(a)
        free(sizes)
        free(teams)
    return 0


# The number of state arrays of each rule (fastnn.checks.optim.STATE_NAMES).
STATE_COUNTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adam": 2}


cdef int _kernel_takes(tuple group) except -2:
    """_flat_type's typenum if every array of ``(p, g, *state)`` is one the update takes as it
    is (ndarrays of p's float dtype and shape, p and the state writeable, _flat_type's
    layout), else -1."""
    cdef cnp.ndarray p, a
    cdef Py_ssize_t i, nd
    for i in range(len(group)):
        if type(group[i]) is not cnp.ndarray:
            return -1
    p = <cnp.ndarray>group[0]
    typenum = cnp.PyArray_TYPE(p)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        return -1
    nd = cnp.PyArray_NDIM(p)
    for i in range(len(group)):
        a = <cnp.ndarray>group[i]
        if cnp.PyArray_TYPE(a) != typenum or cnp.PyArray_NDIM(a) != nd:
            return -1
        if nd and memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(p), nd * sizeof(cnp.npy_intp)):
            return -1
        if i != 1 and not cnp.PyArray_ISWRITEABLE(a):
            return -1
    return _flat_type(group)


def update_many_as_given(str rule, params, grads, states, tuple scalars, int n_threads,
                         Py_ssize_t threshold):
    """update_many on the caller's lists as they are, when they hold only arrays the kernel
    takes (lists or tuples of one length, each state entry with the rule's arrays): scalars
    already checked; a group below ``threshold`` elements runs on one thread.  Else
    NotImplemented, touching nothing (the wrapper then checks everything and explains)."""
    if not (type(params) in (list, tuple) and type(grads) in (list, tuple)
            and type(states) in (list, tuple)):
        return NotImplemented
    cdef Py_ssize_t k = len(params), i, n_state = STATE_COUNTS[rule]
    if len(grads) != k or len(states) != k:
        return NotImplemented
    groups = []
    typenums = []
    threads = []
    for i in range(k):
        state = states[i]
        if type(state) not in (list, tuple) or len(state) != n_state:
            return NotImplemented
        group = (params[i], grads[i], *state)
        typenum = _kernel_takes(group)
        if typenum < 0:
            return NotImplemented
        groups.append(group)
        typenums.append(typenum)
        threads.append(1 if cnp.PyArray_SIZE(<cnp.ndarray>group[0]) < threshold else n_threads)
    _run_groups(RULES[rule], groups, typenums, scalars, threads)
    return None
