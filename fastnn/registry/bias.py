"""Registry specs of the bias kernels: argument makers, benchmark shapes, PyTorch peers.

The shapes are the hidden and score layers of the lecture's two-layer net and the course's
FullyConnectedNet (batch 200, 100 hidden units, 10 classes), and a wide layer.
"""

import numpy as np

from fastnn.core import bias as core
from fastnn.reference import bias as reference
from fastnn.registry.spec import KernelSpec

_SHAPES = ((200, 10), (200, 100), (4096, 1024))


def _forward_args(rng, shape, dtype, impl):
    z = rng.standard_normal(shape).astype(dtype)
    return (z, rng.standard_normal(shape[1]).astype(dtype)), {}


def _backward_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _relu_backward_args(rng, shape, dtype, impl):
    out = np.maximum(rng.standard_normal(shape), 0).astype(dtype)
    return (rng.standard_normal(shape).astype(dtype), out), {}


def _t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _torch_bias_add(torch, args, kwargs):
    z, b = _t(torch, args[0]), _t(torch, args[1])
    return lambda: z.add_(b)


def _torch_bias_relu(torch, args, kwargs):
    z, b = _t(torch, args[0]), _t(torch, args[1])
    return lambda: z.add_(b).relu_()


def _torch_bias_backward(torch, args, kwargs):
    dout = _t(torch, args[0])
    return lambda: dout.sum(0)


def _torch_relu_bias_backward(torch, args, kwargs):
    dout, out = _t(torch, args[0]), _t(torch, args[1])

    def run():
        dz = torch.ops.aten.threshold_backward(dout, out, 0)
        return dz, dz.sum(0)

    return run


KERNELS = [
    KernelSpec(
        "bias_add",
        "bias",
        core.bias_add,
        reference.bias_add,
        _forward_args,
        _SHAPES,
        1.0,
        _torch_bias_add,
        inplace=(0,),
    ),
    KernelSpec(
        "bias_relu",
        "bias",
        core.bias_relu,
        reference.bias_relu,
        _forward_args,
        _SHAPES,
        1.0,
        _torch_bias_relu,
        inplace=(0,),
    ),
    KernelSpec(
        "bias_backward",
        "bias",
        core.bias_backward,
        reference.bias_backward,
        _backward_args,
        _SHAPES,
        0.5,
        _torch_bias_backward,
    ),
    KernelSpec(
        "relu_bias_backward",
        "bias",
        core.relu_bias_backward,
        reference.relu_bias_backward,
        _relu_backward_args,
        _SHAPES,
        1.5,
        _torch_relu_bias_backward,
    ),
]
