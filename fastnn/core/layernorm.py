"""Compiled layer normalization: forward and backward, each row over its features.

Same names, signatures and return conventions as :mod:`fastnn.reference.layernorm`, with
the same input checks (fastnn.checks.layernorm).  The cache of a forward is a
:class:`LayerNormCache`: x itself (no copy when x is already a C-contiguous float array; do
not modify x in place before the backward), gamma, and each row's mean and 1/std in float64.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import layernorm as _ext
from fastnn._kernels._runtime import empty_apart, kernel_buffer
from fastnn._validation import check_dout
from fastnn.checks.layernorm import check_layernorm_inputs
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.layernorm import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

_THRESHOLD = PARALLEL_THRESHOLDS["layernorm"]


class LayerNormCache:
    """What the compiled backward needs: x (C-contiguous), gamma, and mean and rstd (1/std)
    per row (float64)."""

    __slots__ = ("x", "gamma", "mean", "rstd")

    def __init__(self, x, gamma, mean, rstd):
        self.x = x
        self.gamma = gamma
        self.mean = mean
        self.rstd = rstd

    def __repr__(self):
        return f"LayerNormCache(x.shape={self.x.shape}, dtype={self.x.dtype})"


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Layer normalization of x (N, D) over D, then scale gamma (D,) and shift beta (D,).

    ln_param: dict with optional ``eps`` (default 1e-5).  Each row's mean and biased
    variance take two passes about a shift near the mean, summed in partials of x's dtype
    that are added in double (a row that overflows them is summed in double).
    x: float32/float64 (other numeric types become float64), any layout.
    Returns (out (N, D) of x's dtype, C-contiguous, cache).
    """
    x, gamma, beta, eps = check_layernorm_inputs(x, gamma, beta, ln_param)
    x = kernel_buffer(x)  # the cache's only copy when x was a strided view
    gamma = kernel_buffer(gamma)
    beta = kernel_buffer(beta)
    n = x.shape[0]
    out = empty_apart(x, x)
    mean = np.empty(n)
    rstd = np.empty(n)
    _ext.forward(x, out, gamma, beta, mean, rstd, eps, threads_for(x.size, _THRESHOLD))
    return out, LayerNormCache(x, gamma, mean, rstd)


def layernorm_backward(
    dout: np.ndarray, cache: Any
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients of layernorm_forward: (dx (N, D), dgamma (D,), dbeta (D,)), x's dtype.

    ``dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`` per row, with
    ``g = dout * gamma``, in two passes over each row; dgamma and dbeta are summed in double.
    """
    if not isinstance(cache, LayerNormCache):
        raise TypeError(
            "cache must come from fastnn.layernorm_forward (the compiled backend), "
            f"got {type(cache).__name__}"
        )
    x = cache.x
    dout = kernel_buffer(check_dout(dout, x.shape), x.dtype)
    d = x.shape[1]
    dx = empty_apart(x, x, dout)
    dgamma = np.empty(d, x.dtype)
    dbeta = np.empty(d, x.dtype)
    _ext.backward(
        dout,
        x,
        dx,
        cache.gamma,
        cache.mean,
        cache.rstd,
        dgamma,
        dbeta,
        threads_for(x.size, _THRESHOLD),
    )
    return dx, dgamma, dbeta
