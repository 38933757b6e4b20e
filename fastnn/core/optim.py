"""Compiled minibatch gather and fused in-place parameter updates (the trainer's kernels).

``take_rows(x, idx)`` is ``x[idx]`` by whole-row copies, four rows streamed at once; the
updates are one pass over the parameter and its optimizer state, and ``update_many`` runs one
rule over all of a step's parameters in one call (the GIL released once).  Arguments are
checked by the same functions as the NumPy twins (fastnn.checks.optim), so both raise the
same errors.  Inputs the kernels do not take directly run the public NumPy twin, which
computes the same values: for ``take_rows`` object dtypes and n-d arrays whose rows cannot be
viewed as 2-d without a copy; for the updates arrays that are not all C- (or all F-)
contiguous, or that may overlap.
"""

from collections.abc import Sequence

import numpy as np

from fastnn._config import get_num_threads, threads_for
from fastnn._kernels import optim as _ext
from fastnn._validation import check_out
from fastnn.checks.optim import (
    adam_args,
    check_take,
    momentum_args,
    rmsprop_args,
    sgd_args,
    update_many_args,
    update_scalars,
)
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference import optim as _ref

__all__ = list(_ref.__all__)

# The update rules: ``<rule>_update`` is the public kernel of each (the one list of them).
UPDATE_RULES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")

_TAKE_THRESHOLD = PARALLEL_THRESHOLDS["take_rows"]  # bytes copied
_UPDATE_THRESHOLD = PARALLEL_THRESHOLDS["updates"]  # elements of the parameter


def _rows_view(a):
    """``a`` as a 2-d (len(a), -1) view, or None when that would need a copy."""
    if a.ndim == 2:
        return a
    if a.ndim == 1:
        return a[:, None]
    view = a.reshape(a.shape[0], int(np.prod(a.shape[1:])))
    if view.size and not np.may_share_memory(view, a):
        return None
    return view


def take_rows(
    x: np.ndarray, idx: np.ndarray, out: np.ndarray | None = None, *, stream: bool = False
) -> np.ndarray:
    """Rows ``x[idx]``: the minibatch gather.

    x: (N, ...) array of any dtype; idx: (M,) integers of any integer dtype, each in
    [-N, N) (negative indices count from the end, as in NumPy; others raise IndexError).
    stream: store the rows past this core's caches (non-temporal stores, x86-64): faster when
    another core reads them next and the two are far apart (a two-thread matrix product on
    some multi-die or virtual CPUs), slower when this core does; the values are the same
    (:class:`fastnn.nn.minibatch.RowGather` times both and picks).  Returns an (M, ...)
    array of x's dtype (``out`` if given).
    """
    if (
        type(x) is np.ndarray
        and type(idx) is np.ndarray
        and idx.ndim == 1
        and idx.dtype == np.intp
        and idx.flags.c_contiguous
        and x.ndim >= 1
    ):
        if _ext.first_bad_index(idx, x.shape[0]) >= 0:
            check_take(x, idx, None)  # raises the twin's error
        if out is not None:
            check_out(out, (idx.shape[0],) + x.shape[1:], x.dtype)
    else:
        x, idx = check_take(x, idx, out)
        idx = np.ascontiguousarray(idx)
    if x.dtype.hasobject or x.dtype.itemsize == 0:
        return _ref.take_rows(x, idx, out)
    dst = np.empty((idx.shape[0],) + x.shape[1:], dtype=x.dtype) if out is None else out
    if out is not None and np.may_share_memory(out, x):
        dst = np.empty_like(out)  # gather first, then overwrite out
    x2, d2 = _rows_view(x), _rows_view(dst)
    if x2 is None or d2 is None:
        return _ref.take_rows(x, idx, out)
    _ext.take_rows(x2, idx, d2, stream, threads_for(d2.nbytes, _TAKE_THRESHOLD))
    if out is not None and dst is not out:
        out[...] = dst
        return out
    return dst


def sgd_update(p: np.ndarray, g: np.ndarray, lr: float) -> None:
    """In place: ``p -= lr * g``.

    p: float32/float64 ndarray (writeable); g: gradient of p's shape and dtype; lr: finite.
    Returns None.
    """
    g, lr = sgd_args(p, g, lr)
    if _ext.sgd(p, g, lr, threads_for(p.size, _UPDATE_THRESHOLD)) is NotImplemented:
        _ref.sgd_update(p, g, lr)


def momentum_update(p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float) -> None:
    """In place: ``v = mu * v - lr * g; p += v``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = momentum_args(p, g, v, lr, mu)
    if _ext.momentum(p, g, v, lr, mu, threads_for(p.size, _UPDATE_THRESHOLD)) is NotImplemented:
        _ref.momentum_update(p, g, v, lr, mu)


def nesterov_update(p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float) -> None:
    """In place, Nesterov momentum: ``p += mu**2 * v - (1 + mu) * lr * g; v = mu * v - lr * g``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = momentum_args(p, g, v, lr, mu)
    if _ext.nesterov(p, g, v, lr, mu, threads_for(p.size, _UPDATE_THRESHOLD)) is NotImplemented:
        _ref.nesterov_update(p, g, v, lr, mu)


def rmsprop_update(
    p: np.ndarray,
    g: np.ndarray,
    cache: np.ndarray,
    lr: float,
    decay: float = 0.99,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = True,
) -> None:
    """In place: ``cache = decay * cache + (1 - decay) * g**2; p -= lr * g / sqrt(cache + eps)``.

    p, cache: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    eps_in_sqrt: False divides by ``sqrt(cache) + eps`` instead (the course's optim.py).
    Returns None.
    """
    g, lr, decay, eps = rmsprop_args(p, g, cache, lr, decay, eps)
    n_threads = threads_for(p.size, _UPDATE_THRESHOLD)
    inside = bool(eps_in_sqrt)
    if _ext.rmsprop(p, g, cache, lr, decay, eps, inside, n_threads) is NotImplemented:
        _ref.rmsprop_update(p, g, cache, lr, decay, eps, eps_in_sqrt=inside)


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    t: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    """In place, Adam step ``t`` (1 for the first step) with bias correction.

    ``m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g**2;
    p -= lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)``.
    p, m, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, t, beta1, beta2, eps = adam_args(p, g, m, v, lr, t, beta1, beta2, eps)
    n_threads = threads_for(p.size, _UPDATE_THRESHOLD)
    if _ext.adam(p, g, m, v, lr, t, beta1, beta2, eps, n_threads) is NotImplemented:
        _ref.adam_update(p, g, m, v, lr, t, beta1, beta2, eps)


def update_many(
    rule: str,
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    states: Sequence[Sequence[np.ndarray]],
    *scalars: float,
    eps_in_sqrt: bool = True,
) -> None:
    """In place, ``<rule>_update(p, g, *state, *scalars)`` for every parameter, in one
    compiled call (a training step's update of all its parameters; they must not share
    memory with each other).

    rule: 'sgd', 'momentum', 'nesterov', 'rmsprop' or 'adam'.  params, grads: lists of
    float32/float64 arrays, grads[i] of params[i]'s shape and dtype; states: one tuple per
    parameter of the rule's state arrays (``()``; ``(v,)``; ``(v,)``; ``(cache,)``; ``(m, v)``).
    scalars: the rule's scalars after its arrays, shared by every parameter (adam:
    ``lr, t, beta1=0.9, beta2=0.999, eps=1e-8``).  eps_in_sqrt: rmsprop's option.
    Every argument is checked before any parameter changes.  Returns None.
    """
    checked = update_scalars(rule, scalars, eps_in_sqrt)
    # the common call, arrays the kernel takes as they are, without the per-array Python checks
    as_given = _ext.update_many_as_given(
        rule, params, grads, states, checked, get_num_threads(), _UPDATE_THRESHOLD
    )
    if as_given is not NotImplemented:
        return
    groups, checked = update_many_args(rule, params, grads, states, scalars, eps_in_sqrt)
    n_threads = [threads_for(group[0].size, _UPDATE_THRESHOLD) for group in groups]
    skipped = _ext.update_many(rule, groups, checked, n_threads)
    if skipped:  # the layouts the kernel does not take: the twin, the same values
        _ref.update_many(
            rule,
            [groups[i][0] for i in skipped],
            [groups[i][1] for i in skipped],
            [groups[i][2:] for i in skipped],
            *scalars,
            eps_in_sqrt=eps_in_sqrt,
        )
