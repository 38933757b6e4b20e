"""Compiled batch normalization (lecture notes, section 5): forward (train/test), backward.

Same names, signatures and return conventions as :mod:`fastnn.reference.batchnorm`, with
the same input checks (fastnn.checks.batchnorm).  The cache of a forward is a
:class:`BatchNormCache`: x itself (no copy when x is already a C-contiguous float array; do
not modify x in place before the backward), gamma, and the batch (or running) mean and 1/std
in float64.  The backward recomputes xhat from them on the fly, so no normalized copy of x
is kept.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import batchnorm as _ext
from fastnn._kernels._runtime import empty_apart, kernel_buffer
from fastnn._validation import check_dout
from fastnn.checks.batchnorm import check_forward_inputs, warn_single_value
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.batchnorm import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

_THRESHOLD = PARALLEL_THRESHOLDS["batchnorm"]


class BatchNormCache:
    """What the compiled backward needs: x (C-contiguous), gamma, mean and inv_std (float64),
    eps, and whether the forward used batch statistics (train) or running ones (test)."""

    __slots__ = ("x", "gamma", "mean", "inv_std", "eps", "train")

    def __init__(self, x, gamma, mean, inv_std, eps, train):
        self.x = x
        self.gamma = gamma
        self.mean = mean
        self.inv_std = inv_std
        self.eps = eps
        self.train = train

    def __repr__(self):
        mode = "train" if self.train else "test"
        return f"BatchNormCache(mode={mode!r}, x.shape={self.x.shape}, dtype={self.x.dtype})"


def _forward(x, gamma, beta, bn_param, mode, eps, momentum):
    """Shared body of the 2-d and spatial forward: x (N, C, ...) with channel axis 1."""
    x = kernel_buffer(x)  # the cache's only copy when x was a strided view
    n, c = x.shape[0], x.shape[1]
    s = x.size // (n * c) if n else 1
    dtype = x.dtype
    gamma = kernel_buffer(gamma)
    beta = kernel_buffer(beta)
    rm = kernel_buffer(np.asarray(bn_param["running_mean"]), dtype)
    rv = kernel_buffer(np.asarray(bn_param["running_var"]), dtype)
    out = empty_apart(x, x)
    mean = np.empty(c)
    inv_std = np.empty(c)
    n_threads = threads_for(x.size, _THRESHOLD)
    train = mode == "train"
    if train:
        warn_single_value(n * s)
        new_rm = np.empty(c, dtype)
        new_rv = np.empty(c, dtype)
        _ext.forward_train(
            x,
            out,
            n,
            c,
            s,
            gamma,
            beta,
            eps,
            momentum,
            rm,
            rv,
            new_rm,
            new_rv,
            mean,
            inv_std,
            n_threads,
        )
        bn_param["running_mean"] = new_rm
        bn_param["running_var"] = new_rv
    else:
        _ext.forward_test(x, out, n, c, s, gamma, beta, eps, rm, rv, mean, inv_std, n_threads)
    return out, BatchNormCache(x, gamma, mean, inv_std, eps, train)


def _backward(dout, cache, ndim, forward_name):
    if not isinstance(cache, BatchNormCache) or cache.x.ndim != ndim:
        raise TypeError(
            f"cache must come from fastnn.{forward_name} (the compiled backend), "
            f"got {type(cache).__name__}"
        )
    x = cache.x
    dout = kernel_buffer(check_dout(dout, x.shape), x.dtype)
    n, c = x.shape[0], x.shape[1]
    s = x.size // (n * c) if n else 1
    dx = empty_apart(x, x, dout)
    dgamma = np.empty(c, x.dtype)
    dbeta = np.empty(c, x.dtype)
    _ext.backward(
        dout,
        x,
        dx,
        n,
        c,
        s,
        cache.gamma,
        cache.mean,
        cache.inv_std,
        cache.eps,
        cache.train,
        dgamma,
        dbeta,
        threads_for(x.size, _THRESHOLD),
    )
    return dx, dgamma, dbeta


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Batch normalization of x (N, D) with scale gamma (D,) and shift beta (D,).

    bn_param: dict with ``mode`` ('train' or 'test', required; anything else raises
    ValueError), ``eps`` (default 1e-5), ``momentum`` (default 0.9), ``running_mean`` and
    ``running_var`` ((D,); created as zeros of x's dtype when absent, with a RuntimeWarning in
    test mode; a negative running_var raises ValueError). Train mode normalizes
    with the batch mean and biased batch variance (accumulated in double, two-pass) and
    stores ``running = momentum * running + (1 - momentum) * batch`` back in ``bn_param`` as
    new arrays of x's dtype. This is the CS231n convention: PyTorch's ``momentum=0.1`` means
    this 0.9, and PyTorch keeps the *unbiased* variance (N/(N-1) times ours) as running_var.
    Test mode normalizes with the running statistics. A batch of one row warns
    (RuntimeWarning: the variance is 0 and the output is beta).

    x: float32/float64 (other numeric types become float64); any memory layout.
    Returns (out, cache): out (N, D) of x's dtype, C-contiguous. The cache holds x itself, as
    the course's does: changing x in place before the backward changes dx.
    """
    x, gamma, beta, mode, eps, momentum = check_forward_inputs(x, gamma, beta, bn_param)
    return _forward(x, gamma, beta, bn_param, mode, eps, momentum)


def batchnorm_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients of batchnorm_forward: (dx (N, D), dgamma (D,), dbeta (D,)), x's dtype.

    Train mode: dx = gamma*inv_std * (dout - mean(dout) - xhat * mean(dout*xhat)) (means over
    the batch), in two fused passes; test mode: dx = gamma*inv_std*dout in one pass.
    """
    return _backward(dout, cache, 2, "batchnorm_forward")


def batchnorm_backward_alt(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Same as batchnorm_backward (the compiled kernel already is the simplified closed
    form; the step-by-step graph version lives in fastnn.reference)."""
    return _backward(dout, cache, 2, "batchnorm_forward")


def spatial_batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Batch normalization of images x (N, C, H, W) with statistics per channel over
    (N, H, W); gamma, beta: (C,); bn_param as in batchnorm_forward.

    Works on x in place of layout (no transposed copy). Returns (out (N, C, H, W), cache).
    """
    x, gamma, beta, mode, eps, momentum = check_forward_inputs(x, gamma, beta, bn_param, ndim=4)
    return _forward(x, gamma, beta, bn_param, mode, eps, momentum)


def spatial_batchnorm_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients (dx (N, C, H, W), dgamma (C,), dbeta (C,)) of spatial_batchnorm_forward."""
    return _backward(dout, cache, 4, "spatial_batchnorm_forward")
