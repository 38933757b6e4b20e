"""NumPy reference batch normalization (twins of fastnn.core.batchnorm), CS231n conventions."""

import warnings

import numpy as np

from fastnn._validation import as_float_array, check_scalar

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
]


def _check_inputs(x, gamma, beta, bn_param):
    x = as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be 2-d (N, D), got shape {x.shape}")
    n, d = x.shape
    if d == 0:
        raise ValueError("x has no features (D = 0)")
    gamma = as_float_array(gamma, "gamma").astype(x.dtype, copy=False)
    beta = as_float_array(beta, "beta").astype(x.dtype, copy=False)
    if gamma.shape != (d,):
        raise ValueError(f"gamma must have shape ({d},), got {gamma.shape}")
    if beta.shape != (d,):
        raise ValueError(f"beta must have shape ({d},), got {beta.shape}")
    if not isinstance(bn_param, dict):
        raise TypeError(f"bn_param must be a dict, got {type(bn_param).__name__}")
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = check_scalar(bn_param.get("eps", 1e-5), "eps")
    momentum = check_scalar(bn_param.get("momentum", 0.9), "momentum")
    for key in ("running_mean", "running_var"):
        if key not in bn_param:
            bn_param[key] = np.zeros(d, dtype=x.dtype)
        elif np.shape(bn_param[key]) != (d,):
            raise ValueError(f"bn_param[{key!r}] must have shape ({d},), got {np.shape(bn_param[key])}")
    return x, gamma, beta, mode, eps, momentum


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x (N, D) with scale gamma (D,) and shift beta (D,).

    Train mode normalizes with the biased batch statistics and updates
    ``running = momentum * running + (1 - momentum) * batch`` in ``bn_param``; test mode uses
    the running statistics. Returns (out, cache).
    """
    x, gamma, beta, mode, eps, momentum = _check_inputs(x, gamma, beta, bn_param)
    n = x.shape[0]
    if mode == "train":
        if n == 0:
            raise ValueError("batchnorm in train mode needs at least one row (N = 0)")
        if n == 1:
            warnings.warn("batchnorm with a batch of 1 row: the variance is 0 and the output "
                          "equals beta", RuntimeWarning, stacklevel=2)
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=0)
        var = ((x64 - mean) ** 2).mean(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = ((x64 - mean) * inv_std).astype(x.dtype)
        out = (gamma * xhat + beta).astype(x.dtype)
        bn_param["running_mean"] = (momentum * bn_param["running_mean"]
                                    + (1 - momentum) * mean).astype(x.dtype)
        bn_param["running_var"] = (momentum * bn_param["running_var"]
                                   + (1 - momentum) * var).astype(x.dtype)
        cache = {"xhat": xhat, "gamma": gamma, "inv_std": inv_std.astype(x.dtype)}
    else:
        mean = np.asarray(bn_param["running_mean"], dtype=np.float64)
        var = np.asarray(bn_param["running_var"], dtype=np.float64)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = ((x - mean) * inv_std).astype(x.dtype)
        out = (gamma * xhat + beta).astype(x.dtype)
        cache = {"xhat": xhat, "gamma": gamma, "inv_std": inv_std.astype(x.dtype), "mode": "test"}
    return out, cache


def batchnorm_backward(dout, cache):
    """Gradients (dx, dgamma, dbeta) of batchnorm_forward, by the computational graph."""
    xhat, gamma, inv_std = cache["xhat"], cache["gamma"], cache["inv_std"]
    dout = as_float_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {xhat.shape}")
    d64 = dout.astype(np.float64)
    xh = xhat.astype(np.float64)
    inv = inv_std.astype(np.float64)
    dbeta = d64.sum(axis=0)
    dgamma = (d64 * xh).sum(axis=0)
    dxhat = d64 * gamma.astype(np.float64)
    if cache.get("mode") == "test":
        dx = dxhat * inv
    else:
        n = xhat.shape[0]
        # xhat = xc * inv_std with xc = x - mean: chain through var and mean step by step.
        xc = xh / inv
        dinv = (dxhat * xc).sum(axis=0)
        dvar = -0.5 * dinv * inv ** 3
        dxc = dxhat * inv + 2.0 * xc * dvar / n
        dx = dxc - dxc.mean(axis=0)
    return dx.astype(xhat.dtype), dgamma.astype(xhat.dtype), dbeta.astype(xhat.dtype)


def batchnorm_backward_alt(dout, cache):
    """Same as batchnorm_backward, by the simplified closed form
    dx = inv_std / N * (N*dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))."""
    xhat, gamma, inv_std = cache["xhat"], cache["gamma"], cache["inv_std"]
    dout = as_float_array(dout, "dout")
    if dout.shape != xhat.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {xhat.shape}")
    d64 = dout.astype(np.float64)
    xh = xhat.astype(np.float64)
    dbeta = d64.sum(axis=0)
    dgamma = (d64 * xh).sum(axis=0)
    if cache.get("mode") == "test":
        dx = d64 * gamma * inv_std
    else:
        dxhat = d64 * gamma.astype(np.float64)
        dx = inv_std.astype(np.float64) * (dxhat - dxhat.mean(axis=0) - xh * (dxhat * xh).mean(axis=0))
    return dx.astype(xhat.dtype), dgamma.astype(xhat.dtype), dbeta.astype(xhat.dtype)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of images x (N, C, H, W) with per-channel statistics."""
    x = as_float_array(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x must be 4-d (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    """Gradients (dx, dgamma, dbeta) of spatial_batchnorm_forward."""
    inner, shape = cache
    n, c, h, w = shape
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {shape}")
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), inner)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta
