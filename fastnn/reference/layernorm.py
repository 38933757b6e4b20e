"""NumPy reference layer normalization: the twins of fastnn.core.layernorm.

Each row is normalised over its D features with its own mean and biased variance, computed in
float64 (cast to x's dtype at the end), as in the course's layernorm_forward/backward.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._validation import check_dout
from fastnn.checks.layernorm import check_layernorm_inputs

__all__ = ["layernorm_forward", "layernorm_backward"]


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Layer normalization of x (N, D) over D, then scale gamma (D,) and shift beta (D,).

    ln_param: dict with optional ``eps`` (default 1e-5).  Returns (out (N, D) of x's dtype,
    cache).
    """
    x, gamma, beta, eps = check_layernorm_inputs(x, gamma, beta, ln_param)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mean = x64.mean(axis=1, keepdims=True)
        var = ((x64 - mean) ** 2).mean(axis=1, keepdims=True)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat = (x64 - mean) * rstd
        out = xhat * gamma + beta
    cache = {"xhat": xhat, "rstd": rstd, "gamma": gamma.astype(np.float64), "dtype": x.dtype}
    return out.astype(x.dtype), cache


def layernorm_backward(
    dout: np.ndarray, cache: Any
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients of layernorm_forward: (dx (N, D), dgamma (D,), dbeta (D,)), x's dtype.

    ``dx = rstd * (g - mean(g) - xhat * mean(g * xhat))`` per row, with ``g = dout * gamma``.
    """
    xhat, rstd, gamma, dtype = cache["xhat"], cache["rstd"], cache["gamma"], cache["dtype"]
    d64 = check_dout(dout, xhat.shape).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        g = d64 * gamma
        dx = rstd * (
            g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True)
        )
        dgamma = np.sum(d64 * xhat, axis=0)
        dbeta = np.sum(d64, axis=0)
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)
