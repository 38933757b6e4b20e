"""Compiled element-wise activations: validation, layouts and threads around the kernels.

Every function accepts any shape (0-d and empty included) and any memory layout, returns
an array of the input's shape and float dtype, and never modifies its inputs unless the
caller passes one of them as ``out``.
"""

import numpy as np

from fastnn import reference as _ref
from fastnn._config import threads_for
from fastnn._kernels import activations as _ext
from fastnn._validation import as_float_array, check_out
from fastnn.registry import KernelSpec

__all__ = ["relu"]

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


def relu(x, out=None):
    """ReLU, ``max(x, 0)`` element-wise; NaN propagates.

    x: array of any shape, float32/float64 (ints and bools become float64).
    Returns an array of x's shape and dtype (``out`` if given).
    """
    return _unary(_ext.relu, x, out)


def _unary_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


KERNELS = [
    KernelSpec("relu", "activations", relu, _ref.relu, _unary_args,
               shapes=((1 << 16,), (1 << 23,)), floor_bytes=1.0),
]
