"""Compiled element-wise activations: validation, layouts and threads around the kernels.

Every function accepts any shape (0-d and empty included) and any memory layout, returns
an array of the input's shape and float dtype, and never modifies its inputs unless the
caller passes one of them as ``out``.  C-contiguous arrays go straight to the kernel; other
layouts are copied to a contiguous buffer first (same results, one extra pass).
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import activations as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn._validation import (
    FLOAT_DTYPES,
    as_float_array,
    check_out,
    check_scalar,
    same_float_arrays,
)
from fastnn.checks.activations import check_maxout_backward_input, check_maxout_input
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.activations import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

# The activation functions: each has ``<name>`` and ``<name>_backward`` (the one list of them).
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "maxout")

_THRESHOLD = PARALLEL_THRESHOLDS["activations"]
# The kernels with an exp or tanh per element go parallel at a smaller size.
_EXP_THRESHOLD = PARALLEL_THRESHOLDS["activations_exp"]
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
    return threads_for(n, _EXP_THRESHOLD if op in _EXP_OPS else _THRESHOLD)


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
    if not (
        _is_float_array(dout)
        and _is_float_array(x)
        and dout.dtype == x.dtype
        and dout.shape == x.shape
    ):
        dout, x = same_float_arrays([("dout", dout), (name, x)])
    if out is not None:
        check_out(out, x.shape, x.dtype)
    a = kernel_buffer(dout)
    b = kernel_buffer(x)
    dst = _target(out, x.shape, x.dtype)
    _ext.apply(op, a, b, dst, alpha, _threads(op, b.size))
    return _finish(dst, out)


def relu(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """ReLU, ``max(x, 0)`` element-wise; NaN propagates.

    x: array of any shape, float32/float64 (ints and bools become float64).
    Returns an array of x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["relu"], x, out)


def relu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Gradient of ReLU: dout where x > 0, else 0 (0 at x == 0).

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["relu_backward"], dout, x, out)


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, within 4 ulp; never overflows.

    sigmoid(-1000) == 0, sigmoid(1000) == 1, NaN propagates.
    x: any shape, float32/float64. Returns x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["sigmoid"], x, out)


def sigmoid_backward(
    dout: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Gradient of the sigmoid from its output y = sigmoid(x): ``dout * y * (1 - y)``.

    dout, y: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["sigmoid_backward"], dout, y, out, name="y")


def tanh(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Hyperbolic tangent, within 4 ulp (tanh(x) == x for tiny x; tanh(-0.0) == -0.0).

    x: any shape, float32/float64. Returns x's shape and dtype (``out`` if given).
    """
    return _unary(_OP["tanh"], x, out)


def tanh_backward(
    dout: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Gradient of tanh from its output y = tanh(x): ``dout * (1 - y * y)``.

    dout, y: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    return _binary(_OP["tanh_backward"], dout, y, out, name="y")


def leaky_relu(
    x: np.ndarray,
    alpha: float = 0.01,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Leaky ReLU: x where x > 0, else ``alpha * x`` (= max(alpha*x, x) for 0 <= alpha <= 1).

    x: any shape, float32/float64; alpha: finite real (rounded to x's dtype).
    Returns x's shape and dtype (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _unary(_OP["leaky_relu"], x, out, alpha)


def leaky_relu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    alpha: float = 0.01,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Gradient of leaky ReLU: dout where x > 0, else ``alpha * dout`` (alpha at 0, like
    PyTorch).

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _binary(_OP["leaky_relu_backward"], dout, x, out, alpha)


def elu(x: np.ndarray, alpha: float = 1.0, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """ELU: x where x > 0, else ``alpha * (exp(x) - 1)``, within 4 ulp; elu(-1000) == -alpha.

    x: any shape, float32/float64; alpha: finite real. Returns x's shape and dtype.
    """
    alpha = check_scalar(alpha, "alpha")
    return _unary(_OP["elu"], x, out, alpha)


def elu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    alpha: float = 1.0,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """Gradient of ELU: dout where x > 0, else ``dout * alpha * exp(x)``.

    dout, x: arrays of one shape. Returns an array of that shape (``out`` if given).
    """
    alpha = check_scalar(alpha, "alpha")
    return _binary(_OP["elu_backward"], dout, x, out, alpha)


def maxout(
    z: np.ndarray,
    out: np.ndarray | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
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
    _ext.maxout(src, y, argmax, k, threads_for(src.size, _THRESHOLD))
    return _finish(y, out), argmax


def maxout_backward(dout: np.ndarray, argmax: np.ndarray, k: int) -> NDArray[np.floating]:
    """Gradient of maxout: dz of shape dout.shape + (k,), dout at each argmax, zeros elsewhere.

    dout: float array; argmax: integer array of dout's shape with values in [0, k).
    """
    dout, argmax, k = check_maxout_backward_input(dout, argmax, k)
    dz = np.empty(dout.shape + (k,), dout.dtype)  # the kernel writes every element
    _ext.maxout_backward(
        kernel_buffer(dout), kernel_buffer(argmax), dz, k, threads_for(dz.size, _THRESHOLD)
    )
    return dz
