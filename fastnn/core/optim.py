"""Compiled minibatch gather and fused in-place parameter updates (the trainer's kernels).

``take_rows(x, idx)`` is ``x[idx]`` by one memcpy per row; the updates are one pass over the
parameter and its optimizer state.  Arguments are checked by the same functions as the NumPy
twins (fastnn/reference/optim.py), so both raise the same errors.  Inputs the kernels do not
take directly run the twin, which computes the same values: for ``take_rows`` object dtypes
and n-d arrays whose rows cannot be viewed as 2-d without a copy; for the updates arrays that
are not all C- (or all F-) contiguous, or that may overlap.
"""

import numpy as np

from fastnn._config import get_num_threads
from fastnn._kernels import optim as _ext
from fastnn._validation import check_out, check_scalar, check_update
from fastnn.reference import optim as _ref
from fastnn.registry import KernelSpec

__all__ = list(_ref.__all__)

TAKE_PARALLEL_THRESHOLD = _ext.TAKE_PARALLEL_THRESHOLD
UPDATE_PARALLEL_THRESHOLD = _ext.UPDATE_PARALLEL_THRESHOLD


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


def take_rows(x, idx, out=None):
    """Rows ``x[idx]``: the minibatch gather.

    x: (N, ...) array of any dtype; idx: (M,) integers of any integer dtype, each in
    [-N, N) (negative indices count from the end, as in NumPy; others raise IndexError).
    Returns an (M, ...) array of x's dtype (``out`` if given).
    """
    if (type(x) is np.ndarray and type(idx) is np.ndarray and idx.ndim == 1
            and idx.dtype == np.intp and idx.flags.c_contiguous and x.ndim >= 1):
        if _ext.first_bad_index(idx, x.shape[0]) >= 0:
            _ref._check_take(x, idx, None)  # raises the twin's error
        if out is not None:
            check_out(out, (idx.shape[0],) + x.shape[1:], x.dtype)
    else:
        x, idx = _ref._check_take(x, idx, out)
        idx = np.ascontiguousarray(idx)
    if x.dtype.hasobject or x.dtype.itemsize == 0:
        return _ref.take_rows(x, idx, out)
    dst = np.empty((idx.shape[0],) + x.shape[1:], dtype=x.dtype) if out is None else out
    if out is not None and np.may_share_memory(out, x):
        dst = np.empty_like(out)  # gather first, then overwrite out
    x2, d2 = _rows_view(x), _rows_view(dst)
    if x2 is None or d2 is None:
        return _ref.take_rows(x, idx, out)
    _ext.take_rows(x2, idx, d2, get_num_threads())
    if out is not None and dst is not out:
        out[...] = dst
        return out
    return dst


def sgd_update(p, g, lr):
    """In place: ``p -= lr * g``.

    p: float32/float64 ndarray (writeable); g: gradient of p's shape and dtype; lr: finite.
    Returns None.
    """
    g = check_update(p, g)
    lr = check_scalar(lr, "lr")
    if _ext.sgd(p, g, lr, get_num_threads()) is NotImplemented:
        _ref._sgd(p, g, lr)


def momentum_update(p, g, v, lr, mu):
    """In place: ``v = mu * v - lr * g; p += v``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = _ref._momentum_args(p, g, v, lr, mu)
    if _ext.momentum(p, g, v, lr, mu, get_num_threads()) is NotImplemented:
        _ref._momentum(p, g, v, lr, mu)


def nesterov_update(p, g, v, lr, mu):
    """In place, Nesterov momentum: ``p += mu**2 * v - (1 + mu) * lr * g; v = mu * v - lr * g``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = _ref._momentum_args(p, g, v, lr, mu)
    if _ext.nesterov(p, g, v, lr, mu, get_num_threads()) is NotImplemented:
        _ref._nesterov(p, g, v, lr, mu)


def rmsprop_update(p, g, cache, lr, decay=0.99, eps=1e-8):
    """In place: ``cache = decay * cache + (1 - decay) * g**2; p -= lr * g / sqrt(cache + eps)``.

    p, cache: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, decay, eps = _ref._rmsprop_args(p, g, cache, lr, decay, eps)
    if _ext.rmsprop(p, g, cache, lr, decay, eps, get_num_threads()) is NotImplemented:
        _ref._rmsprop(p, g, cache, lr, decay, eps)


def adam_update(p, g, m, v, lr, t, beta1=0.9, beta2=0.999, eps=1e-8):
    """In place, Adam step ``t`` (1 for the first step) with bias correction.

    ``m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g**2;
    p -= lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)``.
    p, m, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, t, beta1, beta2, eps = _ref._adam_args(p, g, m, v, lr, t, beta1, beta2, eps)
    if _ext.adam(p, g, m, v, lr, t, beta1, beta2, eps, get_num_threads()) is NotImplemented:
        _ref._adam(p, g, m, v, lr, t, beta1, beta2, eps)


# ----------------------------------------------------------------------------- registry

def _take_args(rng, shape, dtype, impl):
    """Gather M rows of width D (shape (M, D)) from a table of 5M rows, like a minibatch."""
    m, d = shape
    x = rng.standard_normal((5 * m, d)).astype(dtype)
    return (x, rng.integers(0, 5 * m, m)), {}


def _update_args(n_state, positive=()):
    """make_args for an update with ``n_state`` state arrays (those in ``positive`` >= 0).

    lr is small so that the benchmarks' repeated in-place calls drift slowly and stay finite.
    """
    def make(rng, shape, dtype, impl):
        p = rng.standard_normal(shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        states = [(rng.random(shape) if i in positive else 0.1 * rng.standard_normal(shape))
                  .astype(dtype) for i in range(n_state)]
        return (p, g, *states, 1e-3), {}
    return make


def _with_extra(make, *extra):
    def make_extra(rng, shape, dtype, impl):
        args, kwargs = make(rng, shape, dtype, impl)
        return args + extra, kwargs
    return make_extra


def _torch_take(torch, args, kwargs):
    xt, it = torch.from_numpy(args[0]), torch.from_numpy(args[1])
    ot = torch.empty((it.shape[0], xt.shape[1]), dtype=xt.dtype)
    return lambda: torch.index_select(xt, 0, it, out=ot)


def _torch_sgd(torch, args, kwargs):
    pt, gt = torch.from_numpy(args[0]), torch.from_numpy(args[1])
    lr = args[2]
    return lambda: pt.add_(gt, alpha=-lr)


def _torch_momentum(torch, args, kwargs):
    pt, gt, vt = (torch.from_numpy(a) for a in args[:3])
    lr, mu = args[3:5]

    def run():
        vt.mul_(mu).add_(gt, alpha=-lr)
        pt.add_(vt)
    return run


# the trainer's parameter shapes: b1/b2 (small), W2 (100, 10), W1 (3072, 100)
_UPDATE_SHAPES = ((100, 10), (3072, 100), (1024, 1024))

KERNELS = [
    KernelSpec("take_rows", "optim", take_rows, _ref.take_rows, _take_args,
               ((64, 3072), (200, 3072), (1000, 3072)), 1.0, torch=_torch_take),
    KernelSpec("sgd_update", "optim", sgd_update, _ref.sgd_update, _update_args(0),
               _UPDATE_SHAPES, 1.5, torch=_torch_sgd, inplace=(0,)),
    KernelSpec("momentum_update", "optim", momentum_update, _ref.momentum_update,
               _with_extra(_update_args(1), 0.9), _UPDATE_SHAPES, 2.5, torch=_torch_momentum,
               inplace=(0, 2)),
    KernelSpec("nesterov_update", "optim", nesterov_update, _ref.nesterov_update,
               _with_extra(_update_args(1), 0.9), _UPDATE_SHAPES, 2.5, inplace=(0, 2)),
    KernelSpec("rmsprop_update", "optim", rmsprop_update, _ref.rmsprop_update,
               _update_args(1, positive=(0,)), _UPDATE_SHAPES, 2.5, inplace=(0, 2)),
    KernelSpec("adam_update", "optim", adam_update, _ref.adam_update,
               _with_extra(_update_args(2, positive=(1,)), 1), _UPDATE_SHAPES, 3.5,
               inplace=(0, 2, 3)),
]
