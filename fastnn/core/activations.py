"""Compiled element-wise activations: validation, layouts and threads around the kernels.

Every function accepts any shape (0-d and empty included) and any memory layout, returns
an array of the input's shape and float dtype, and never modifies its inputs unless the
caller passes one of them as ``out``.
"""

import numpy as np

from fastnn import reference as _ref
from fastnn._config import threads_for
from fastnn._kernels import activations as _ext
from fastnn._validation import as_float_array, check_out, same_float_arrays
from fastnn.registry import KernelSpec

__all__ = ["relu", "relu_backward"]

# Below this many elements one thread beats a team (measured in bench/, see the issue notes).
PARALLEL_THRESHOLD = 1 << 16


def _unary(kernel, x, out, *scalars):
    """Run ``kernel(x_flat, out_flat, *scalars, n_threads)`` with layout and ``out`` handling."""
    x = as_float_array(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    src = np.ascontiguousarray(x)
    dst = out if (out is not None and out.flags.c_contiguous) else np.empty_like(src)
    if src.size:
        kernel(src.reshape(-1), dst.reshape(-1), *scalars, threads_for(src.size, PARALLEL_THRESHOLD))
    if out is not None and dst is not out:
        out[...] = dst
        return out
    return dst


def _binary(kernel, dout, x, out, *scalars):
    """Run ``kernel(dout_flat, x_flat, out_flat, *scalars, n_threads)`` (backward kernels)."""
    dout, x = same_float_arrays([("dout", dout), ("x", x)])
    if out is not None:
        check_out(out, x.shape, x.dtype)
    a = np.ascontiguousarray(dout)
    b = np.ascontiguousarray(x)
    dst = out if (out is not None and out.flags.c_contiguous) else np.empty_like(b)
    if b.size:
        kernel(a.reshape(-1), b.reshape(-1), dst.reshape(-1), *scalars,
               threads_for(b.size, PARALLEL_THRESHOLD))
    if out is not None and dst is not out:
        out[...] = dst
        return out
    return dst


def relu(x, out=None):
    """ReLU, ``max(x, 0)`` element-wise; NaN propagates.

    x: array of any shape, float32/float64 (ints and bools become float64).
    Returns an array of x's shape and dtype (``out`` if given).
    """
    return _unary(_ext.relu, x, out)


def relu_backward(dout, x, out=None):
    """Gradient of ReLU: dout where x > 0, else 0 (0 at x == 0).

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_ext.relu_backward, dout, x, out)


def _unary_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _backward_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)), {}


KERNELS = [
    KernelSpec("relu", "activations", relu, _ref.relu, _unary_args,
               shapes=((1 << 16,), (1 << 23,)), floor_bytes=1.0),
    KernelSpec("relu_backward", "activations", relu_backward, _ref.relu_backward, _backward_args,
               shapes=((1 << 16,), (1 << 23,)), floor_bytes=1.5),
]
