"""Registry specs of dropout: arguments, benchmark shapes, PyTorch peers.

Calls carry a seed, so the compiled kernel and its twin draw the same mask; the backward's
cache comes from the forward of the implementation being called.
"""

import numpy as np

from fastnn.core import dropout as core
from fastnn.reference import dropout as reference
from fastnn.registry.spec import KernelSpec

_SHAPES = ((64, 100), (256, 512), (4096, 1024))
KEEP = 0.5


def _forward_args(rng, shape, dtype, impl):
    param = {"mode": "train", "p": KEEP, "seed": int(rng.integers(0, 1 << 62))}
    return (rng.standard_normal(shape).astype(dtype), param), {}


def _backward_args(rng, shape, dtype, impl):
    (x, param), _ = _forward_args(rng, shape, dtype, impl)
    forward = core.dropout_forward if impl is core.dropout_backward else reference.dropout_forward
    _, cache = forward(x, param)
    return (rng.standard_normal(shape).astype(dtype), cache), {}


def _torch_forward(torch, args, kwargs):
    x = torch.from_numpy(np.ascontiguousarray(args[0]))
    return lambda: torch.ops.aten.native_dropout(x, 1.0 - KEEP, True)


def _torch_backward(torch, args, kwargs):
    """native_dropout_backward on the twin's mask (kept where nonzero)."""
    dout, (_, mask) = args
    tdout = torch.from_numpy(np.ascontiguousarray(dout))
    tmask = torch.from_numpy(mask != 0)
    return lambda: torch.ops.aten.native_dropout_backward(tdout, tmask, 1.0 / KEEP)


KERNELS = [
    KernelSpec(
        "dropout_forward",
        "dropout",
        core.dropout_forward,
        reference.dropout_forward,
        _forward_args,
        _SHAPES,
        1.0,
        _torch_forward,
    ),
    KernelSpec(
        "dropout_backward",
        "dropout",
        core.dropout_backward,
        reference.dropout_backward,
        _backward_args,
        _SHAPES,
        1.0,
        _torch_backward,
    ),
]
