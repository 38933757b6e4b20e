"""NumPy reference activations (twins of fastnn.core.activations).

Textbook formulas, written for clarity and numerical safety rather than speed.  Like the
compiled path they return IEEE results silently (an inf times 0 is NaN, no warning).
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._validation import as_float_array, check_out, check_scalar, same_float_arrays
from fastnn.checks.activations import check_maxout_backward_input, check_maxout_input

__all__ = [
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "elu",
    "elu_backward",
    "maxout",
    "maxout_backward",
]


def _finish(result, out):
    """Copy ``result`` into ``out`` when given; return the output array."""
    result = np.asarray(result)
    if out is None:
        return result
    out[...] = result
    return out


def _unary_input(x, out):
    x = as_float_array(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    return x


def _binary_input(dout, x, out, name="x"):
    dout, x = same_float_arrays([("dout", dout), (name, x)])
    if out is not None:
        check_out(out, x.shape, x.dtype)
    return dout, x


def relu(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """max(x, 0) element-wise; NaN propagates."""
    x = _unary_input(x, out)
    return _finish(np.where(x < 0, x.dtype.type(0), x), out)


def relu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """dout where x > 0, else 0."""
    dout, x = _binary_input(dout, x, out)
    return _finish(np.where(x > 0, dout, x.dtype.type(0)), out)


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """1 / (1 + exp(-x)), evaluated through e = exp(-|x|) so that exp never overflows."""
    x = _unary_input(x, out)
    e = np.exp(-np.abs(x))
    return _finish(np.where(x < 0, e, x.dtype.type(1)) / (1 + e), out)


def sigmoid_backward(
    dout: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """dout * y * (1 - y), where y = sigmoid(x)."""
    dout, y = _binary_input(dout, y, out, "y")
    with np.errstate(invalid="ignore", over="ignore"):
        return _finish(dout * y * (1 - y), out)


def tanh(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Hyperbolic tangent."""
    x = _unary_input(x, out)
    return _finish(np.tanh(x), out)


def tanh_backward(
    dout: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """dout * (1 - y * y), where y = tanh(x)."""
    dout, y = _binary_input(dout, y, out, "y")
    with np.errstate(invalid="ignore", over="ignore"):
        return _finish(dout * (1 - y * y), out)


def leaky_relu(
    x: np.ndarray,
    alpha: float = 0.01,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """x where x > 0, else alpha * x (= max(alpha * x, x) for 0 <= alpha <= 1)."""
    alpha = check_scalar(alpha, "alpha")
    x = _unary_input(x, out)
    with np.errstate(invalid="ignore", over="ignore"):
        return _finish(np.where(x > 0, x, x.dtype.type(alpha) * x), out)


def leaky_relu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    alpha: float = 0.01,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """dout where x > 0, else alpha * dout."""
    alpha = check_scalar(alpha, "alpha")
    dout, x = _binary_input(dout, x, out)
    with np.errstate(invalid="ignore", over="ignore"):
        return _finish(np.where(x > 0, dout, x.dtype.type(alpha) * dout), out)


def elu(x: np.ndarray, alpha: float = 1.0, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """x where x > 0, else alpha * (exp(x) - 1) (computed with expm1)."""
    alpha = check_scalar(alpha, "alpha")
    x = _unary_input(x, out)
    with np.errstate(invalid="ignore", over="ignore"):
        neg = x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))
        return _finish(np.where(x > 0, x, neg), out)


def elu_backward(
    dout: np.ndarray,
    x: np.ndarray,
    alpha: float = 1.0,
    out: np.ndarray | None = None,
) -> NDArray[np.floating]:
    """dout where x > 0, else dout * alpha * exp(x).

    Where alpha * exp(x) underflows to 0 for a finite x, an infinite dout gives dout * alpha
    (the true factor is positive), not inf * 0 = NaN.
    """
    alpha = check_scalar(alpha, "alpha")
    dout, x = _binary_input(dout, x, out)
    a = x.dtype.type(alpha)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        g = a * np.exp(np.minimum(x, 0))
        inf_times_underflow = (g == 0) & (x > -np.inf) & np.isinf(dout)
        neg = np.where(inf_times_underflow, dout * a, dout * g)
        return _finish(np.where(x > 0, dout, neg), out)


def maxout(
    z: np.ndarray,
    out: np.ndarray | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
    """Max over the last axis of z (..., k) and its first argmax (the first NaN wins).

    Returns (y of shape z.shape[:-1] and z's dtype, argmax intp of the same shape).
    """
    z, _ = check_maxout_input(z)
    if out is not None:
        check_out(out, z.shape[:-1], z.dtype)
    argmax = np.argmax(z, axis=-1)
    y = np.take_along_axis(z, argmax[..., None], axis=-1)[..., 0]
    return _finish(y, out), argmax


def maxout_backward(dout: np.ndarray, argmax: np.ndarray, k: int) -> NDArray[np.floating]:
    """dz of shape dout.shape + (k,): dout routed to each argmax, zeros elsewhere."""
    dout, argmax, k = check_maxout_backward_input(dout, argmax, k)
    dz = np.zeros(dout.shape + (k,), dout.dtype)
    np.put_along_axis(dz, argmax[..., None], dout[..., None], axis=-1)
    return dz
