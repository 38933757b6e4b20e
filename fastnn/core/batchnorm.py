"""Compiled batch normalization (lecture notes, section 5): forward (train/test), backward.

Same names, signatures and return conventions as :mod:`fastnn.reference.batchnorm`, with
the same input checks (shared code).  The cache of a forward is a :class:`BatchNormCache`:
x itself (no copy when x is already a C-contiguous float array; do not modify x in place
before the backward), gamma, and the batch (or running) mean and 1/std in float64.  The
backward recomputes xhat from them on the fly, so no normalized copy of x is kept.
"""

import numpy as np

from fastnn import reference as _ref
from fastnn._config import threads_for
from fastnn._kernels import batchnorm as _ext
from fastnn._kernels._runtime import empty_apart, kernel_buffer
from fastnn._validation import as_float_array
from fastnn.reference.batchnorm import _check_inputs, _warn_single
from fastnn.reference.batchnorm import __all__ as _TWIN_NAMES
from fastnn.registry import KernelSpec

__all__ = list(_TWIN_NAMES)  # the twins name the public API

# Elements of x below which one thread beats a team of two (measured on 2 busy cores: the
# team wins from about 64K elements, e.g. (256, 512); (64, 100) stays serial).
PARALLEL_THRESHOLD = 1 << 16


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
    n_threads = threads_for(x.size, PARALLEL_THRESHOLD)
    train = mode == "train"
    if train:
        _warn_single(n * s)
        new_rm = np.empty(c, dtype)
        new_rv = np.empty(c, dtype)
        _ext.forward_train(x, out, n, c, s, gamma, beta, eps, momentum, rm, rv, new_rm, new_rv,
                           mean, inv_std, n_threads)
        bn_param["running_mean"] = new_rm
        bn_param["running_var"] = new_rv
    else:
        _ext.forward_test(x, out, n, c, s, gamma, beta, eps, rm, rv, mean, inv_std, n_threads)
    return out, BatchNormCache(x, gamma, mean, inv_std, eps, train)


def _backward(dout, cache, ndim, forward_name):
    if not isinstance(cache, BatchNormCache) or cache.x.ndim != ndim:
        raise TypeError(f"cache must come from fastnn.{forward_name} (the compiled backend), "
                        f"got {type(cache).__name__}")
    x = cache.x
    dout = as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {x.shape}")
    dout = kernel_buffer(dout, x.dtype)
    n, c = x.shape[0], x.shape[1]
    s = x.size // (n * c) if n else 1
    dx = empty_apart(x, x, dout)
    dgamma = np.empty(c, x.dtype)
    dbeta = np.empty(c, x.dtype)
    _ext.backward(dout, x, dx, n, c, s, cache.gamma, cache.mean, cache.inv_std, cache.eps,
                  cache.train, dgamma, dbeta, threads_for(x.size, PARALLEL_THRESHOLD))
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x (N, D) with scale gamma (D,) and shift beta (D,).

    bn_param: dict with ``mode`` ('train' or 'test', required; anything else raises
    ValueError), ``eps`` (default 1e-5), ``momentum`` (default 0.9), ``running_mean`` and
    ``running_var`` ((D,); created as zeros of x's dtype when absent). Train mode normalizes
    with the batch mean and biased batch variance (accumulated in double, two-pass) and
    stores ``running = momentum * running + (1 - momentum) * batch`` back in ``bn_param`` as
    new arrays of x's dtype. This is the CS231n convention: PyTorch's ``momentum=0.1`` means
    this 0.9, and PyTorch keeps the *unbiased* variance (N/(N-1) times ours) as running_var.
    Test mode normalizes with the running statistics. A batch of one row warns
    (RuntimeWarning: the variance is 0 and the output is beta).

    x: float32/float64 (other numeric types become float64); any memory layout.
    Returns (out, cache): out (N, D) of x's dtype, C-contiguous.
    """
    x, gamma, beta, mode, eps, momentum = _check_inputs(x, gamma, beta, bn_param)
    return _forward(x, gamma, beta, bn_param, mode, eps, momentum)


def batchnorm_backward(dout, cache):
    """Gradients of batchnorm_forward: (dx (N, D), dgamma (D,), dbeta (D,)), x's dtype.

    Train mode: dx = gamma*inv_std * (dout - mean(dout) - xhat * mean(dout*xhat)) (means over
    the batch), in two fused passes; test mode: dx = gamma*inv_std*dout in one pass.
    """
    return _backward(dout, cache, 2, "batchnorm_forward")


def batchnorm_backward_alt(dout, cache):
    """Same as batchnorm_backward (the compiled kernel already is the simplified closed
    form; the step-by-step graph version lives in fastnn.reference)."""
    return _backward(dout, cache, 2, "batchnorm_forward")


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of images x (N, C, H, W) with statistics per channel over
    (N, H, W); gamma, beta: (C,); bn_param as in batchnorm_forward.

    Works on x in place of layout (no transposed copy). Returns (out (N, C, H, W), cache).
    """
    x, gamma, beta, mode, eps, momentum = _check_inputs(x, gamma, beta, bn_param, ndim=4)
    return _forward(x, gamma, beta, bn_param, mode, eps, momentum)


def spatial_batchnorm_backward(dout, cache):
    """Gradients (dx (N, C, H, W), dgamma (C,), dbeta (C,)) of spatial_batchnorm_forward."""
    return _backward(dout, cache, 4, "spatial_batchnorm_forward")


# ---- registry: make_args builds valid calls; backward args come from the same impl's forward

_SHAPES = ((64, 100), (256, 512), (4096, 1024))
_SPATIAL_SHAPES = ((32, 64, 32, 32),)


def _params(rng, c, dtype):
    return rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)


def _forward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    gamma, beta = _params(rng, shape[1], dtype)
    return (x, gamma, beta, {"mode": "train"}), {}


def _backward_args(rng, shape, dtype, impl):
    # The cache must come from the forward of the implementation being called.
    (x, gamma, beta, bn_param), _ = _forward_args(rng, shape, dtype, impl)
    _, cache = _FORWARD_OF[impl](x, gamma, beta, bn_param)
    return (rng.standard_normal(shape).astype(dtype), cache), {}


def _torch_forward(torch, args, kwargs):
    x, gamma, beta, _ = args
    tx, tg, tb = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, gamma, beta))
    rm, rv = torch.zeros_like(tg), torch.ones_like(tg)
    return lambda: torch.ops.aten.native_batch_norm(tx, tg, tb, rm, rv, True, 0.1, 1e-5)


def _torch_backward(torch, args, kwargs):
    """PyTorch's train-mode backward on a reference cache: xhat (the normalized batch)
    stands in for x, which does not change the work."""
    dout, cache = args
    inner = cache[0] if isinstance(cache, tuple) else cache
    x = inner["xhat"]
    if dout.ndim == 4:  # the reference's spatial xhat is (N*H*W, C)
        n, c, h, w = dout.shape
        x = x.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    tx, tg, td = (torch.from_numpy(np.ascontiguousarray(a)) for a in (x, inner["gamma"], dout))
    rm, rv = torch.zeros_like(tg), torch.ones_like(tg)
    _, smean, sinv = torch.ops.aten.native_batch_norm(tx, tg, None, rm, rv, True, 0.1, 1e-5)
    return lambda: torch.ops.aten.native_batch_norm_backward(
        td, tx, tg, rm, rv, smean, sinv, True, 1e-5, [True, True, True])


_FORWARD_OF = {
    batchnorm_forward: batchnorm_forward,
    batchnorm_backward: batchnorm_forward,
    batchnorm_backward_alt: batchnorm_forward,
    spatial_batchnorm_forward: spatial_batchnorm_forward,
    spatial_batchnorm_backward: spatial_batchnorm_forward,
    _ref.batchnorm_forward: _ref.batchnorm_forward,
    _ref.batchnorm_backward: _ref.batchnorm_forward,
    _ref.batchnorm_backward_alt: _ref.batchnorm_forward,
    _ref.spatial_batchnorm_forward: _ref.spatial_batchnorm_forward,
    _ref.spatial_batchnorm_backward: _ref.spatial_batchnorm_forward,
}

KERNELS = [
    KernelSpec("batchnorm_forward", "batchnorm", batchnorm_forward, _ref.batchnorm_forward,
               _forward_args, _SHAPES, 1.0, _torch_forward),
    KernelSpec("batchnorm_backward", "batchnorm", batchnorm_backward, _ref.batchnorm_backward,
               _backward_args, _SHAPES, 1.5, _torch_backward),
    # Same compiled kernel as batchnorm_backward: benchmarked at one small shape only.
    KernelSpec("batchnorm_backward_alt", "batchnorm", batchnorm_backward_alt,
               _ref.batchnorm_backward_alt, _backward_args, _SHAPES[:1], 1.5, _torch_backward),
    KernelSpec("spatial_batchnorm_forward", "batchnorm", spatial_batchnorm_forward,
               _ref.spatial_batchnorm_forward, _forward_args, _SPATIAL_SHAPES, 1.0,
               _torch_forward),
    KernelSpec("spatial_batchnorm_backward", "batchnorm", spatial_batchnorm_backward,
               _ref.spatial_batchnorm_backward, _backward_args, _SPATIAL_SHAPES, 1.5,
               _torch_backward),
]
