"""Registry specs of batch normalization: argument makers, benchmark shapes, PyTorch peers.

The backward kernels' arguments come from the forward of the implementation being called
(the compiled and the NumPy caches differ).
"""

import numpy as np

from fastnn.core import batchnorm as core
from fastnn.reference import batchnorm as reference
from fastnn.registry.spec import KernelSpec

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
        td, tx, tg, rm, rv, smean, sinv, True, 1e-5, [True, True, True]
    )


_FORWARD_OF = {
    core.batchnorm_forward: core.batchnorm_forward,
    core.batchnorm_backward: core.batchnorm_forward,
    core.batchnorm_backward_alt: core.batchnorm_forward,
    core.spatial_batchnorm_forward: core.spatial_batchnorm_forward,
    core.spatial_batchnorm_backward: core.spatial_batchnorm_forward,
    reference.batchnorm_forward: reference.batchnorm_forward,
    reference.batchnorm_backward: reference.batchnorm_forward,
    reference.batchnorm_backward_alt: reference.batchnorm_forward,
    reference.spatial_batchnorm_forward: reference.spatial_batchnorm_forward,
    reference.spatial_batchnorm_backward: reference.spatial_batchnorm_forward,
}

KERNELS = [
    KernelSpec(
        "batchnorm_forward",
        "batchnorm",
        core.batchnorm_forward,
        reference.batchnorm_forward,
        _forward_args,
        _SHAPES,
        1.0,
        _torch_forward,
    ),
    KernelSpec(
        "batchnorm_backward",
        "batchnorm",
        core.batchnorm_backward,
        reference.batchnorm_backward,
        _backward_args,
        _SHAPES,
        1.5,
        _torch_backward,
    ),
    # Same compiled kernel as batchnorm_backward: benchmarked at one small shape only.
    KernelSpec(
        "batchnorm_backward_alt",
        "batchnorm",
        core.batchnorm_backward_alt,
        reference.batchnorm_backward_alt,
        _backward_args,
        _SHAPES[:1],
        1.5,
        _torch_backward,
    ),
    KernelSpec(
        "spatial_batchnorm_forward",
        "batchnorm",
        core.spatial_batchnorm_forward,
        reference.spatial_batchnorm_forward,
        _forward_args,
        _SPATIAL_SHAPES,
        1.0,
        _torch_forward,
    ),
    KernelSpec(
        "spatial_batchnorm_backward",
        "batchnorm",
        core.spatial_batchnorm_backward,
        reference.spatial_batchnorm_backward,
        _backward_args,
        _SPATIAL_SHAPES,
        1.5,
        _torch_backward,
    ),
]
