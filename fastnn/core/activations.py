"""Compiled element-wise activations: validation, layouts and threads around the kernels.

Every function accepts any shape (0-d and empty included) and any memory layout, returns
an array of the input's shape and float dtype, and never modifies its inputs unless the
caller passes one of them as ``out``.  C-contiguous arrays go straight to the kernel; other
layouts are copied to a contiguous buffer first (same results, one extra pass).
"""


import numpy as np

from fastnn import reference as _ref
from fastnn._config import threads_for
from fastnn._kernels import activations as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn._validation import (FLOAT_DTYPES, as_float_array, check_out, check_scalar,
                                same_float_arrays)
from fastnn.reference.activations import check_maxout_backward_input, check_maxout_input
from fastnn.reference.activations import __all__ as _TWIN_NAMES
from fastnn.registry import KernelSpec

__all__ = list(_TWIN_NAMES)  # the twins name the public API

# Below this many elements one thread beats two.  Measured with
# `python bench/test_bench_activations.py --threshold --rounds 300` (2-core AMD EPYC, AVX-512):
# two threads win from about 64K elements for the memory-bound kernels (relu, leaky, the
# simple backward ones, maxout) and from 8K-16K for the exp/tanh ones.
PARALLEL_THRESHOLD = 1 << 16
PARALLEL_THRESHOLD_EXP = 1 << 14
_EXP_OPS = {_ext.OPS[name] for name in ("sigmoid", "tanh", "elu", "elu_backward")}

_OP = _ext.OPS


def _target(out, shape, dtype):
    """The array the kernel writes: ``out`` when the kernel can write it directly (it handles
    aliasing), else a fresh buffer copied into ``out`` afterwards."""
    if out is not None and out.flags.c_contiguous and out.flags.aligned:
        return out
    return np.empty(shape, dtype)


def _finish(dst, out):
    if out is not None and dst is not out:
        out[...] = dst
        return out
    return dst


def _threads(op, n):
    return threads_for(n, PARALLEL_THRESHOLD_EXP if op in _EXP_OPS else PARALLEL_THRESHOLD)


def _is_float_array(a):
    return type(a) is np.ndarray and a.dtype in FLOAT_DTYPES  # native order only


def _unary(op, x, out, alpha=0.0):
    x = as_float_array(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    src = kernel_buffer(x)
    dst = _target(out, x.shape, x.dtype)
    _ext.apply(op, src, None, dst, alpha, _threads(op, src.size))
    return _finish(dst, out)


def _binary(op, dout, x, out, alpha=0.0, name="x"):
    # the common case (two float arrays of one dtype and shape) skips the generic checks
    if not (_is_float_array(dout) and _is_float_array(x) and dout.dtype == x.dtype
            and dout.shape == x.shape):
        dout, x = same_float_arrays([("dout", dout), (name, x)])
    if out is not None:
        check_out(out, x.shape, x.dtype)
    a = kernel_buffer(dout)
    b = kernel_buffer(x)
    dst = _target(out, x.shape, x.dtype)
    _ext.apply(op, a, b, dst, alpha, _threads(op, b.size))
    return _finish(dst, out)


def relu(x, out=None):
    """ReLU, ``max(x, 0)`` element-wise; NaN propagates.

    x: array of any shape, float32/float64 (ints and bools become float64).
    Returns an array of x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["relu"], x, out)


def relu_backward(dout, x, out=None):
    """Gradient of ReLU: dout where x > 0, else 0 (0 at x == 0).

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["relu_backward"], dout, x, out)


def sigmoid(x, out=None):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, within 4 ulp; never overflows.

    sigmoid(-1000) == 0, sigmoid(1000) == 1, NaN propagates.
    x: any shape, float32/float64. Returns x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["sigmoid"], x, out)


def sigmoid_backward(dout, y, out=None):
    """Gradient of the sigmoid from its output y = sigmoid(x): ``dout * y * (1 - y)``.

    dout, y: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["sigmoid_backward"], dout, y, out, name="y")


def tanh(x, out=None):
    """Hyperbolic tangent, within 4 ulp (tanh(x) == x for tiny x; tanh(-0.0) == -0.0).

    x: any shape, float32/float64. Returns x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["tanh"], x, out)


def tanh_backward(dout, y, out=None):
    """Gradient of tanh from its output y = tanh(x): ``dout * (1 - y * y)``.

    dout, y: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["tanh_backward"], dout, y, out, name="y")


def leaky_relu(x, alpha=0.01, out=None):
    """Leaky ReLU: x where x > 0, else ``alpha * x`` (= max(alpha*x, x) for 0 <= alpha <= 1).

    x: any shape, float32/float64; alpha: finite real (rounded to x's dtype).
    Returns x's shape and dtype (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _unary(_OP["leaky_relu"], x, out, alpha)


def leaky_relu_backward(dout, x, alpha=0.01, out=None):
    """Gradient of leaky ReLU: dout where x > 0, else ``alpha * dout`` (alpha at 0, like
    PyTorch).

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _binary(_OP["leaky_relu_backward"], dout, x, out, alpha)


def elu(x, alpha=1.0, out=None):
    """ELU: x where x > 0, else ``alpha * (exp(x) - 1)``, within 4 ulp; elu(-1000) == -alpha.

    x: any shape, float32/float64; alpha: finite real. Returns x's shape and dtype.
    """
    alpha = check_scalar(alpha, "alpha")
    return _unary(_OP["elu"], x, out, alpha)


def elu_backward(dout, x, alpha=1.0, out=None):
    """Gradient of ELU: dout where x > 0, else ``dout * alpha * exp(x)``.

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _binary(_OP["elu_backward"], dout, x, out, alpha)


def maxout(z, out=None):
    """Maxout: the max over the last axis of z and where it is.

    z: (..., k) float32/float64 with k >= 1. Returns ``(y, argmax)``: y of shape z.shape[:-1]
    and z's dtype (``out`` if given), argmax intp of the same shape (first maximum wins ties;
    a NaN wins over numbers, like ``np.argmax``).
    """
    z, k = check_maxout_input(z)
    shape = z.shape[:-1]
    if out is not None:
        check_out(out, shape, z.dtype)
    src = kernel_buffer(z)
    y = _target(out, shape, z.dtype)
    if y is out and np.may_share_memory(out, src):
        y = np.empty(shape, z.dtype)
    argmax = np.empty(shape, np.intp)
    _ext.maxout(src, y, argmax, k, threads_for(src.size, PARALLEL_THRESHOLD))
    return _finish(y, out), argmax


def maxout_backward(dout, argmax, k):
    """Gradient of maxout: dz of shape dout.shape + (k,), dout at each argmax, zeros elsewhere.

    dout: float array; argmax: integer array of dout's shape with values in [0, k).
    """
    dout, argmax, k = check_maxout_backward_input(dout, argmax, k)
    dz = np.empty(dout.shape + (k,), dout.dtype)  # the kernel writes every element
    _ext.maxout_backward(kernel_buffer(dout), kernel_buffer(argmax), dz, k,
                         threads_for(dz.size, PARALLEL_THRESHOLD))
    return dz


# ---- registry: argument makers and PyTorch peers -------------------------------------

SIZES = ((1 << 16,), (1 << 23,))
MAXOUT_K = 4
MAXOUT_SHAPES = ((1 << 14, MAXOUT_K), (1 << 21, MAXOUT_K))


def _unary_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _backward_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)), {}


def _sigmoid_backward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    return (rng.standard_normal(shape).astype(dtype), _ref.sigmoid(x)), {}


def _tanh_backward_args(rng, shape, dtype, impl):
    x = rng.standard_normal(shape).astype(dtype)
    return (rng.standard_normal(shape).astype(dtype), _ref.tanh(x)), {}


def _maxout_backward_args(rng, shape, dtype, impl):
    z = rng.standard_normal(shape).astype(dtype)
    _, argmax = _ref.maxout(z)
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
        lambda t, x, kw: t.nn.functional.leaky_relu(x, kw.get("alpha", 0.01))),
    "leaky_relu_backward": _torch_backward(
        lambda t, d, x, kw: t.ops.aten.leaky_relu_backward(d, x, kw.get("alpha", 0.01), False)),
    "elu": _torch_forward(lambda t, x, kw: t.nn.functional.elu(x, kw.get("alpha", 1.0))),
    "elu_backward": _torch_backward(
        lambda t, d, x, kw: t.ops.aten.elu_backward(d, kw.get("alpha", 1.0), 1, 1, False, x)),
    "maxout": _torch_maxout,
    "maxout_backward": _torch_maxout_backward,
}


def _spec(name, make_args, floor_bytes, shapes=SIZES):
    return KernelSpec(name, "activations", globals()[name], getattr(_ref, name), make_args,
                      shapes=shapes, floor_bytes=floor_bytes, torch=TORCH_PEERS[name])


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
