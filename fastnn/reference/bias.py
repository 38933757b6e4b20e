"""NumPy reference bias kernels: the twins of fastnn.core.bias.

The bias add and the ReLU as the course writes them (``out += b``, ``np.maximum``-like ReLU),
and the bias gradient ``dz.sum(axis=0)`` accumulated in float64 and rounded once to the
arrays' dtype.
"""

import numpy as np
from numpy.typing import NDArray

from fastnn.checks.bias import (
    check_bias_backward_input,
    check_bias_forward_inputs,
    check_relu_bias_backward_inputs,
)

__all__ = ["bias_add", "bias_relu", "bias_backward", "relu_bias_backward"]


def bias_add(z: np.ndarray, b: np.ndarray) -> NDArray[np.floating]:
    """``z += b`` in place: z (N, M) float32/float64 ndarray, b (M,) (cast to z's dtype).

    Returns z.
    """
    z, b = check_bias_forward_inputs(z, b)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, silently
        z += b
    return z


def bias_relu(z: np.ndarray, b: np.ndarray) -> NDArray[np.floating]:
    """``z = max(z + b, 0)`` in place (the sum rounded to z's dtype first; NaN propagates).

    z: (N, M) float32/float64 ndarray (e.g. the product ``x @ W``); b: (M,), cast to z's
    dtype.  Returns z, equal to ``relu(z + b)`` bit for bit.
    """
    z, b = check_bias_forward_inputs(z, b)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is NaN, silently
        z += b
    z[z < 0] = 0
    return z


def bias_backward(dout: np.ndarray) -> NDArray[np.floating]:
    """db = dout.sum(axis=0) for dout (N, M): summed in float64, rounded to dout's dtype."""
    dout = check_bias_backward_input(dout)
    return _column_sums(dout)


def relu_bias_backward(
    dout: np.ndarray,
    out: np.ndarray,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """(dz, db) of ``out = max(z + b, 0)``: dz = dout where out > 0 else 0 (N, M), and
    db = dz.sum(axis=0) (M,), summed in float64 and rounded to the arrays' dtype.

    out is the ReLU's output (out > 0 exactly where its input is > 0).
    """
    dout, out = check_relu_bias_backward_inputs(dout, out)
    dz = np.where(out > 0, dout, dout.dtype.type(0))
    return dz, _column_sums(dz)


def _column_sums(a):
    """a.sum(axis=0) in float64, rounded to a's dtype (inf - inf is NaN, silently)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return a.sum(axis=0, dtype=np.float64).astype(a.dtype)
