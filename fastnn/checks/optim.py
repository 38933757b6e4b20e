"""Argument checks of take_rows and the update rules (fastnn.core and fastnn.reference).

Each ``*_args`` function validates an update's arrays and scalars and returns the gradient
as an array and the scalars as Python numbers, in the order the update takes them.
"""

import numpy as np

from fastnn._validation import check_int, check_out, check_scalar, check_update


def check_take(x, idx, out):
    """x as an ndarray (at least 1-d), idx as an intp array with every entry in [-N, N)."""
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError("x must be at least 1-d (rows along axis 0), got a 0-d array")
    idx = np.asarray(idx)
    if idx.ndim != 1:
        raise ValueError(f"idx must be 1-d (M,), got shape {idx.shape}")
    if idx.dtype.kind not in "iu":
        if idx.size or idx.dtype.kind != "f":  # an empty list arrives as float64
            raise TypeError(f"idx must hold integers, got dtype {idx.dtype}")
        idx = idx.astype(np.intp)
    n = x.shape[0]
    # range check on the original values: a cast first would wrap huge uint64 indices
    bad = np.flatnonzero((idx < -n) | (idx >= n))
    if bad.size:
        raise IndexError(f"index {int(idx[bad[0]])} is out of bounds for axis 0 with size {n}")
    if out is not None:
        check_out(out, (idx.shape[0],) + x.shape[1:], x.dtype)
    return x, idx.astype(np.intp, copy=False)


def sgd_args(p, g, lr):
    """(g, lr) of a checked sgd_update call."""
    return check_update(p, g), check_scalar(lr, "lr")


def momentum_args(p, g, v, lr, mu):
    """(g, lr, mu) of a checked momentum or Nesterov update."""
    return (check_update(p, g, (("v", v),)), check_scalar(lr, "lr"), check_scalar(mu, "mu"))


# The decay rates are averaging weights in [0, 1]; Adam's bias correction divides by
# 1 - beta**t, so its betas stay below 1.  eps is added to a non-negative cache.
def rmsprop_args(p, g, cache, lr, decay, eps):
    """(g, lr, decay, eps) of a checked rmsprop_update call."""
    return (
        check_update(p, g, (("cache", cache),)),
        check_scalar(lr, "lr"),
        check_scalar(decay, "decay", minimum=0, maximum=1),
        check_scalar(eps, "eps", minimum=0),
    )


def adam_args(p, g, m, v, lr, t, beta1, beta2, eps):
    """(g, lr, t, beta1, beta2, eps) of a checked adam_update call."""
    return (
        check_update(p, g, (("m", m), ("v", v))),
        check_scalar(lr, "lr"),
        check_int(t, "t"),
        check_scalar(beta1, "beta1", minimum=0, below=1),
        check_scalar(beta2, "beta2", minimum=0, below=1),
        check_scalar(eps, "eps", minimum=0),
    )
