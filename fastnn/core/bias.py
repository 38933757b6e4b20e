"""Compiled bias kernels: the bias add with the ReLU in place, the bias gradient with the
ReLU's backward, one pass each.

Same names, signatures and return conventions as :mod:`fastnn.reference.bias`, with the same
input checks (fastnn.checks.bias).
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import bias as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn.checks.bias import (
    check_bias_backward_input,
    check_bias_forward_inputs,
    check_relu_bias_backward_inputs,
)
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.bias import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

_THRESHOLD = PARALLEL_THRESHOLDS["bias"]


def _add_in_place(z, b, relu):
    z, b = check_bias_forward_inputs(z, b)
    b = kernel_buffer(b)
    if np.may_share_memory(z, b):  # a b inside z must not change while z is written
        b = b.copy()
    n_threads = threads_for(z.size, _THRESHOLD)
    buffer = kernel_buffer(z)
    _ext.add(buffer, b, relu, n_threads)
    if buffer is not z:  # a strided or unaligned z: computed in a copy, written back
        z[...] = buffer
    return z


def bias_add(z: np.ndarray, b: np.ndarray) -> NDArray[np.floating]:
    """``z += b`` in place: z (N, M) float32/float64 ndarray, b (M,) (cast to z's dtype).

    Returns z.
    """
    return _add_in_place(z, b, False)


def bias_relu(z: np.ndarray, b: np.ndarray) -> NDArray[np.floating]:
    """``z = max(z + b, 0)`` in place, one pass over z (the sum rounded to z's dtype first;
    NaN propagates).

    z: (N, M) float32/float64 ndarray (e.g. the product ``x @ W``); b: (M,), cast to z's
    dtype.  Returns z, equal to ``relu(z + b)`` bit for bit.
    """
    return _add_in_place(z, b, True)


def bias_backward(dout: np.ndarray) -> NDArray[np.floating]:
    """db = dout.sum(axis=0) for dout (N, M): summed in float64 (each column over the rows in
    order), rounded to dout's dtype."""
    dout = kernel_buffer(check_bias_backward_input(dout))
    db = np.empty(dout.shape[1], dout.dtype)
    _ext.grad(dout, None, None, db, threads_for(dout.size, _THRESHOLD))
    return db


def relu_bias_backward(
    dout: np.ndarray,
    out: np.ndarray,
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """(dz, db) of ``out = max(z + b, 0)`` in one pass over dout: dz = dout where out > 0
    else 0 (N, M), and db = dz.sum(axis=0) (M,), summed in float64 and rounded to the
    arrays' dtype.

    out is the ReLU's output (out > 0 exactly where its input is > 0).
    """
    dout, out = check_relu_bias_backward_inputs(dout, out)
    dout, out = kernel_buffer(dout), kernel_buffer(out)
    dz = np.empty_like(dout)
    db = np.empty(dout.shape[1], dout.dtype)
    _ext.grad(dout, out, dz, db, threads_for(dout.size, _THRESHOLD))
    return dz, db
