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


# The state arrays each update rule keeps, by the rule's name (fastnn.core.optim.UPDATE_RULES).
STATE_NAMES = {
    "sgd": (),
    "momentum": ("v",),
    "nesterov": ("v",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}


def _sgd_scalars(lr):
    return (check_scalar(lr, "lr"),)


def _momentum_scalars(lr, mu):
    return (check_scalar(lr, "lr"), check_scalar(mu, "mu"))


# The decay rates are averaging weights in [0, 1]; Adam's bias correction divides by
# 1 - beta**t, so its betas stay below 1.  eps is added to a non-negative cache.
def _rmsprop_scalars(lr, decay=0.99, eps=1e-8):
    return (
        check_scalar(lr, "lr"),
        check_scalar(decay, "decay", minimum=0, maximum=1),
        check_scalar(eps, "eps", minimum=0),
    )


def _adam_scalars(lr, t, beta1=0.9, beta2=0.999, eps=1e-8):
    return (
        check_scalar(lr, "lr"),
        check_int(t, "t"),
        check_scalar(beta1, "beta1", minimum=0, below=1),
        check_scalar(beta2, "beta2", minimum=0, below=1),
        check_scalar(eps, "eps", minimum=0),
    )


# Each rule's scalars after its arrays, with the names and defaults of its update.
SCALAR_CHECKS = {
    "sgd": (_sgd_scalars, "lr"),
    "momentum": (_momentum_scalars, "lr, mu"),
    "nesterov": (_momentum_scalars, "lr, mu"),
    "rmsprop": (_rmsprop_scalars, "lr, decay=0.99, eps=1e-8"),
    "adam": (_adam_scalars, "lr, t, beta1=0.9, beta2=0.999, eps=1e-8"),
}


def sgd_args(p, g, lr):
    """(g, lr) of a checked sgd_update call."""
    return (check_update(p, g), *_sgd_scalars(lr))


def momentum_args(p, g, v, lr, mu):
    """(g, lr, mu) of a checked momentum or Nesterov update."""
    return (check_update(p, g, (("v", v),)), *_momentum_scalars(lr, mu))


def rmsprop_args(p, g, cache, lr, decay, eps):
    """(g, lr, decay, eps) of a checked rmsprop_update call."""
    return (check_update(p, g, (("cache", cache),)), *_rmsprop_scalars(lr, decay, eps))


def adam_args(p, g, m, v, lr, t, beta1, beta2, eps):
    """(g, lr, t, beta1, beta2, eps) of a checked adam_update call."""
    return (check_update(p, g, (("m", m), ("v", v))), *_adam_scalars(lr, t, beta1, beta2, eps))


def update_scalars(rule, scalars, eps_in_sqrt):
    """The checked scalars of an update_many call: the rule's, defaults filled in, followed by
    eps_in_sqrt for rmsprop."""
    if rule not in STATE_NAMES:
        raise ValueError(f"unknown update rule {rule!r}; choose one of {', '.join(STATE_NAMES)}")
    if rule != "rmsprop" and eps_in_sqrt is not True:
        raise TypeError(f"eps_in_sqrt is an option of the rmsprop rule only, not of {rule!r}")
    check, signature = SCALAR_CHECKS[rule]
    try:
        checked = check(*scalars)
    except TypeError as error:
        if "argument" not in str(error):
            raise
        raise TypeError(
            f"the {rule} rule takes the scalars ({signature}), got {len(scalars)}"
        ) from None
    if rule == "rmsprop":
        checked += (bool(eps_in_sqrt),)
    return checked


def update_many_args(rule, params, grads, states, scalars, eps_in_sqrt):
    """A checked update_many call: (groups, scalars) with groups a list of tuples
    ``(p, g, *state)`` (g as an array) and scalars those of :func:`update_scalars`."""
    checked = update_scalars(rule, scalars, eps_in_sqrt)
    names = STATE_NAMES[rule]
    params, grads, states = (
        _sequence(params, "params"),
        _sequence(grads, "grads"),
        _sequence(states, "states"),
    )
    if not len(params) == len(grads) == len(states):
        raise ValueError(
            f"params, grads and states must have one entry per parameter, got lengths "
            f"{len(params)}, {len(grads)} and {len(states)}"
        )
    groups = []
    for i, (p, g, state) in enumerate(zip(params, grads, states)):
        state = _sequence(state, f"states[{i}]")
        if len(state) != len(names):
            raise ValueError(
                f"states[{i}] must hold the {rule} rule's {len(names)} state array(s) "
                f"({', '.join(names) or 'none'}), got {len(state)}"
            )
        groups.append((p, check_update(p, g, tuple(zip(names, state))), *state))
    return groups, checked


def _sequence(value, name):
    if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple, got {type(value).__name__}")
    return value
