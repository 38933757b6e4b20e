"""NumPy reference batch normalization (twins of fastnn.core.batchnorm), CS231n conventions."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._validation import check_dout
from fastnn.checks.batchnorm import check_forward_inputs, warn_single_value

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
]


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Batch normalization of x (N, D) with scale gamma (D,) and shift beta (D,).

    bn_param: dict with ``mode`` ('train' or 'test', required), ``eps`` (1e-5),
    ``momentum`` (0.9), ``running_mean`` / ``running_var`` ((D,), zeros of x's dtype when
    absent). Train mode normalizes with the batch mean and the biased batch variance and
    stores ``running = momentum * running + (1 - momentum) * batch`` back in ``bn_param``
    (CS231n convention: PyTorch's ``momentum=0.1`` is this 0.9, and PyTorch's running
    variance is the unbiased one, N/(N-1) times ours). Test mode normalizes with the
    running statistics.

    Returns (out, cache): out (N, D) of x's dtype; the cache is for batchnorm_backward.
    """
    x, gamma, beta, mode, eps, momentum = check_forward_inputs(x, gamma, beta, bn_param)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if mode == "train":
            warn_single_value(x.shape[0])
            x64 = x.astype(np.float64)
            mean = x64.mean(axis=0)
            var = ((x64 - mean) ** 2).mean(axis=0)
            bn_param["running_mean"] = (
                momentum * np.asarray(bn_param["running_mean"]) + (1 - momentum) * mean
            ).astype(x.dtype)
            bn_param["running_var"] = (
                momentum * np.asarray(bn_param["running_var"]) + (1 - momentum) * var
            ).astype(x.dtype)
        else:
            mean = np.asarray(bn_param["running_mean"], dtype=np.float64)
            var = np.asarray(bn_param["running_var"], dtype=np.float64)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mean) * inv_std  # float64, rounded once in the output
        out = (gamma.astype(np.float64) * xhat + beta).astype(x.dtype)
        cache = {
            "xhat": xhat.astype(x.dtype),
            "gamma": gamma,
            "inv_std": inv_std.astype(x.dtype),
            "mode": mode,
        }
    return out, cache


def _unpack(dout, cache):
    if not (isinstance(cache, dict) and "xhat" in cache):
        raise TypeError(
            "cache must come from fastnn.reference.batchnorm_forward "
            f"(the NumPy backend), got {type(cache).__name__}"
        )
    xhat = cache["xhat"]
    dout = check_dout(dout, xhat.shape)
    return (
        dout.astype(np.float64),
        xhat.astype(np.float64),
        cache["gamma"].astype(np.float64),
        cache["inv_std"].astype(np.float64),
        cache["mode"],
        xhat.dtype,
    )


def batchnorm_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients (dx (N, D), dgamma (D,), dbeta (D,)) of batchnorm_forward, step by step
    through the computational graph."""
    dout, xhat, gamma, inv_std, mode, dtype = _unpack(dout, cache)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dxhat = dout * gamma
        if mode == "test":
            dx = dxhat * inv_std  # the running statistics are constants
        else:
            n = xhat.shape[0]
            # xhat = xc * inv_std, xc = x - mean, inv_std = (var + eps) ** -0.5,
            # var = mean(xc ** 2), mean = mean(x): back through each node in turn.
            xc = xhat / inv_std
            dinv_std = (dxhat * xc).sum(axis=0)
            dvar = -0.5 * dinv_std * inv_std**3
            dxc = dxhat * inv_std + 2.0 * xc * dvar / n
            dx = dxc - dxc.sum(axis=0) / n
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


def batchnorm_backward_alt(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Same as batchnorm_backward, by the simplified closed form
    dx = inv_std / N * (N*dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))."""
    dout, xhat, gamma, inv_std, mode, dtype = _unpack(dout, cache)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dxhat = dout * gamma
        if mode == "test":
            dx = dxhat * inv_std
        else:
            n = xhat.shape[0]
            dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx.astype(dtype), dgamma.astype(dtype), dbeta.astype(dtype)


def spatial_batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[NDArray[np.floating], Any]:
    """Batch normalization of images x (N, C, H, W) with per-channel statistics over
    (N, H, W); gamma, beta: (C,); bn_param as in batchnorm_forward. Returns (out, cache)."""
    x, gamma, beta, _, _, _ = check_forward_inputs(x, gamma, beta, bn_param, ndim=4)
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)  # rows = pixels, columns = channels
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), (cache, x.shape)


def spatial_batchnorm_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[NDArray[np.floating], NDArray[np.floating], NDArray[np.floating]]:
    """Gradients (dx (N, C, H, W), dgamma (C,), dbeta (C,)) of spatial_batchnorm_forward."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[0], dict)):
        raise TypeError(
            "cache must come from fastnn.reference.spatial_batchnorm_forward "
            f"(the NumPy backend), got {type(cache).__name__}"
        )
    inner, shape = cache
    n, c, h, w = shape
    dout = check_dout(dout, shape)
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), inner)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta
