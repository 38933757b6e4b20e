"""Argument checks of the batchnorm forward (fastnn.core and fastnn.reference)."""

import numpy as np

from fastnn._validation import as_float_array, check_scalar, check_scale_shift, warn_caller

_LAYOUTS = {2: "(N, D)", 4: "(N, C, H, W)"}


def check_forward_inputs(x, gamma, beta, bn_param, ndim=2):
    """Validate a batchnorm forward call.

    x is (N, D) for ``ndim=2`` or (N, C, H, W) for ``ndim=4``; the channel axis is 1.
    Creates zero running statistics of x's dtype in ``bn_param`` when they are absent (a
    RuntimeWarning in test mode, which then uses them); a negative running_var is a ValueError.
    Returns (x, gamma, beta, mode, eps, momentum) with gamma and beta in x's dtype.
    """
    x = as_float_array(x, "x")
    if x.ndim != ndim:
        raise ValueError(f"x must be {ndim}-d {_LAYOUTS[ndim]}, got shape {x.shape}")
    d = x.shape[1]
    if d == 0:
        raise ValueError(f"x has no {'features (D' if ndim == 2 else 'channels (C'} = 0)")
    gamma, beta = check_scale_shift(gamma, beta, d, x.dtype)
    if not isinstance(bn_param, dict):
        raise TypeError(f"bn_param must be a dict, got {type(bn_param).__name__}")
    if "mode" not in bn_param:
        raise ValueError("bn_param needs a 'mode' entry: 'train' or 'test'")
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = check_scalar(bn_param.get("eps", 1e-5), "eps", minimum=0)
    momentum = check_scalar(bn_param.get("momentum", 0.9), "momentum", minimum=0, maximum=1)
    if mode == "train" and x.size // d == 0:
        raise ValueError(
            f"batchnorm in train mode needs at least one value per channel, "
            f"got x of shape {x.shape}"
        )
    missing = [key for key in ("running_mean", "running_var") if bn_param.get(key) is None]
    if mode == "test" and missing:
        warn_caller(
            f"batchnorm in test mode without {' and '.join(f'bn_param[{k!r}]' for k in missing)}"
            ": using zeros (train the layer first, or set the running statistics)",
            RuntimeWarning,
        )
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        if value is None:
            bn_param[key] = np.zeros(d, dtype=x.dtype)
        else:
            shape = value.shape if isinstance(value, np.ndarray) else np.shape(value)
            if shape != (d,):
                raise ValueError(f"bn_param[{key!r}] must have shape ({d},), got {shape}")
    running_var = np.asarray(bn_param["running_var"])
    # fmin skips NaN as `< 0` does: the index is searched for only when one is negative
    if running_var.dtype.kind != "f" or np.fmin.reduce(running_var) < 0:
        negative = np.flatnonzero(running_var < 0)
        if negative.size:
            i = int(negative[0])
            raise ValueError(
                f"bn_param['running_var'][{i}] = {running_var[i]} is negative: a variance is >= 0"
            )
    return x, gamma, beta, mode, eps, momentum


def warn_single_value(count):
    """Warn (RuntimeWarning, at the caller's line) when each channel has one value."""
    if count == 1:
        warn_caller(
            "batchnorm in train mode with one value per channel: the variance is 0 "
            "and the output equals beta",
            RuntimeWarning,
        )
