"""Registry specs of layer normalization: argument makers, benchmark shapes, PyTorch peers.

The backward's cache comes from the forward of the implementation being called (the compiled
and the NumPy caches differ).
"""

import numpy as np

from fastnn.core import layernorm as core
from fastnn.reference import layernorm as reference
from fastnn.registry.spec import KernelSpec

_SHAPES = ((64, 100), (256, 512), (4096, 1024))
_EPS = 1e-5


def _forward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    gamma = rng.standard_normal(shape[1]).astype(dtype)
    beta = rng.standard_normal(shape[1]).astype(dtype)
    return (x, gamma, beta, {"eps": _EPS}), {}


def _backward_args(rng, shape, dtype, impl):
    (x, gamma, beta, ln_param), _ = _forward_args(rng, shape, dtype, impl)
    forward = (
        core.layernorm_forward if impl is core.layernorm_backward else reference.layernorm_forward
    )
    _, cache = forward(x, gamma, beta, ln_param)
    return (rng.standard_normal(shape).astype(dtype), cache), {}


def _t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _torch_forward(torch, args, kwargs):
    x, gamma, beta, _ = args
    tx, tg, tb = _t(torch, x), _t(torch, gamma), _t(torch, beta)
    return lambda: torch.ops.aten.native_layer_norm(tx, [x.shape[1]], tg, tb, _EPS)


def _torch_backward(torch, args, kwargs):
    """PyTorch's backward on the twin's cache: xhat stands in for x (same work)."""
    dout, cache = args
    x = cache["xhat"].astype(dout.dtype)
    tx, td = _t(torch, x), _t(torch, dout)
    tg = _t(torch, cache["gamma"].astype(dout.dtype))
    tb = torch.zeros_like(tg)
    _, mean, rstd = torch.ops.aten.native_layer_norm(tx, [x.shape[1]], tg, tb, _EPS)
    return lambda: torch.ops.aten.native_layer_norm_backward(
        td, tx, [x.shape[1]], mean, rstd, tg, tb, [True, True, True]
    )


KERNELS = [
    KernelSpec(
        "layernorm_forward",
        "layernorm",
        core.layernorm_forward,
        reference.layernorm_forward,
        _forward_args,
        _SHAPES,
        1.0,
        _torch_forward,
    ),
    KernelSpec(
        "layernorm_backward",
        "layernorm",
        core.layernorm_backward,
        reference.layernorm_backward,
        _backward_args,
        _SHAPES,
        1.5,
        _torch_backward,
    ),
]
