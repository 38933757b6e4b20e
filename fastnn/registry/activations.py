"""Registry specs of the activation kernels: argument makers, benchmark sizes, PyTorch peers."""

import numpy as np

from fastnn.core import activations as core
from fastnn.reference import activations as reference
from fastnn.registry.spec import KernelSpec

SIZES = ((1 << 16,), (1 << 23,))
MAXOUT_K = 4
MAXOUT_SHAPES = ((1 << 14, MAXOUT_K), (1 << 21, MAXOUT_K))


def _unary_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _backward_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)), {}


def _sigmoid_backward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    return (rng.standard_normal(shape).astype(dtype), reference.sigmoid(x)), {}


def _tanh_backward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    return (rng.standard_normal(shape).astype(dtype), reference.tanh(x)), {}


def _maxout_backward_args(rng, shape, dtype, impl):
    z = rng.standard_normal(shape).astype(dtype)
    _, argmax = reference.maxout(z)
    return (rng.standard_normal(shape[:-1]).astype(dtype), argmax, shape[-1]), {}


def _t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _torch_forward(call):
    """A PyTorch peer for a forward kernel: ``call(torch, x, kwargs)`` on a tensor view."""

    def make(torch, args, kwargs):
        x = _t(torch, args[0])
        return lambda: call(torch, x, kwargs)

    return make


def _torch_backward(call):
    """A PyTorch peer for a backward kernel: ``call(torch, dout, x_or_y, kwargs)``."""

    def make(torch, args, kwargs):
        dout, x = _t(torch, args[0]), _t(torch, args[1])
        return lambda: call(torch, dout, x, kwargs)

    return make


def _torch_maxout(torch, args, kwargs):
    z = _t(torch, args[0])
    return lambda: torch.max(z, dim=-1)


def _torch_maxout_backward(torch, args, kwargs):
    dout, argmax, k = _t(torch, args[0]), _t(torch, args[1]).to(torch.int64), args[2]

    def run():
        dz = torch.zeros(tuple(dout.shape) + (k,), dtype=dout.dtype)
        return dz.scatter_(-1, argmax.unsqueeze(-1), dout.unsqueeze(-1))

    return run


TORCH_PEERS = {
    "relu": _torch_forward(lambda t, x, kw: t.relu(x)),
    "relu_backward": _torch_backward(lambda t, d, x, kw: t.ops.aten.threshold_backward(d, x, 0)),
    "sigmoid": _torch_forward(lambda t, x, kw: t.sigmoid(x)),
    "sigmoid_backward": _torch_backward(lambda t, d, y, kw: t.ops.aten.sigmoid_backward(d, y)),
    "tanh": _torch_forward(lambda t, x, kw: t.tanh(x)),
    "tanh_backward": _torch_backward(lambda t, d, y, kw: t.ops.aten.tanh_backward(d, y)),
    "leaky_relu": _torch_forward(
        lambda t, x, kw: t.nn.functional.leaky_relu(x, kw.get("alpha", 0.01))
    ),
    "leaky_relu_backward": _torch_backward(
        lambda t, d, x, kw: t.ops.aten.leaky_relu_backward(d, x, kw.get("alpha", 0.01), False)
    ),
    "elu": _torch_forward(lambda t, x, kw: t.nn.functional.elu(x, kw.get("alpha", 1.0))),
    "elu_backward": _torch_backward(
        lambda t, d, x, kw: t.ops.aten.elu_backward(d, kw.get("alpha", 1.0), 1, 1, False, x)
    ),
    "maxout": _torch_maxout,
    "maxout_backward": _torch_maxout_backward,
}


def _spec(name, make_args, floor_bytes, shapes=SIZES):
    return KernelSpec(
        name,
        "activations",
        getattr(core, name),
        getattr(reference, name),
        make_args,
        shapes=shapes,
        floor_bytes=floor_bytes,
        torch=TORCH_PEERS[name],
    )


KERNELS = [
    _spec("relu", _unary_args, 1.0),
    _spec("relu_backward", _backward_args, 1.5),
    _spec("sigmoid", _unary_args, 1.0),
    _spec("sigmoid_backward", _sigmoid_backward_args, 1.5),
    _spec("tanh", _unary_args, 1.0),
    _spec("tanh_backward", _tanh_backward_args, 1.5),
    _spec("leaky_relu", _unary_args, 1.0),
    _spec("leaky_relu_backward", _backward_args, 1.5),
    _spec("elu", _unary_args, 1.0),
    _spec("elu_backward", _backward_args, 1.5),
    # maxout reads k values and writes one value and one intp per row: for k = 4 that is
    # 0.75 (float64) to 0.875 (float32) of a copy of z; 0.75 is the stricter floor.
    _spec("maxout", _unary_args, 0.75, MAXOUT_SHAPES),
    # maxout_backward reads a value and an intp per row and writes k values: 0.75 to 0.875.
    _spec("maxout_backward", _maxout_backward_args, 0.75, MAXOUT_SHAPES),
]
