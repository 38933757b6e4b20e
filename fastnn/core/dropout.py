"""Compiled inverted dropout with a counter-based mask.

Same names, signatures and return conventions as :mod:`fastnn.reference.dropout`, with the
same checks and the same mask (fastnn.checks.dropout gives both the key; the generator is in
fastnn/_kernels/dropout_bits.h).  The cache is a :class:`DropoutCache`: the key, p and the
shape, no mask; the backward regenerates the mask in the same pass that applies it.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import dropout as _ext
from fastnn._kernels._runtime import empty_apart, kernel_buffer
from fastnn._validation import as_float_array, check_dout
from fastnn.checks.dropout import check_dropout_inputs, dropout_key, keep_threshold
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.dropout import __all__ as _TWIN_NAMES
from fastnn.reference.dropout import dropout_mask

__all__ = list(_TWIN_NAMES)  # the twins name the public API

_THRESHOLD = PARALLEL_THRESHOLDS["dropout"]


class DropoutCache:
    """What the compiled backward needs: the ``dropout_param`` of the forward, its mode,
    the mask's key and keep probability p, and x's shape and dtype."""

    __slots__ = ("dropout_param", "mode", "key", "p", "shape", "dtype")

    def __init__(self, dropout_param, mode, key, p, shape, dtype):
        self.dropout_param = dropout_param
        self.mode = mode
        self.key = key
        self.p = p
        self.shape = shape
        self.dtype = dtype

    @property
    def mask(self) -> NDArray[np.floating] | None:
        """The forward's mask (1/p where kept, else 0; None in test mode), built on request."""
        if self.mode == "test":
            return None
        return dropout_mask(self.key, self.p, self.shape, self.dtype)

    def __repr__(self):
        return f"DropoutCache(mode={self.mode!r}, p={self.p}, shape={self.shape})"


def _apply(x, key, p):
    out = empty_apart(x, x)
    scale = float(np.asarray(1.0 / p, dtype=x.dtype))
    _ext.apply_mask(x, out, key, keep_threshold(p), scale, threads_for(x.size, _THRESHOLD))
    return out


def dropout_forward(
    x: np.ndarray, dropout_param: dict[str, Any]
) -> tuple[NDArray[np.floating], Any]:
    """Inverted dropout: ``out = x * mask``, mask ``1/p`` with probability p (keep), else 0.

    x: any shape, float32/float64 (integers become float64).  dropout_param: ``mode``
    'train' or 'test' (required; else ValueError), ``p`` the keep probability in (0, 1]
    (else ValueError), optional ``seed`` (an integer in [0, 2**64): the same mask for the
    same seed and shape, whatever the thread count).  Without a seed the key is drawn from
    ``np.random`` (so ``np.random.seed`` makes runs repeatable).  Test mode returns x itself.
    Returns (out of x's dtype, C-contiguous, and a DropoutCache).
    """
    x, mode, p = check_dropout_inputs(x, dropout_param)
    if mode == "test":
        return x, DropoutCache(dropout_param, mode, None, p, x.shape, x.dtype)
    key = dropout_key(dropout_param)
    x = kernel_buffer(x)
    return _apply(x, key, p), DropoutCache(dropout_param, mode, key, p, x.shape, x.dtype)


def dropout_backward(dout: np.ndarray, cache: Any) -> NDArray[np.floating]:
    """``dx = dout * mask`` (the forward's mask, regenerated) in train mode, dout in test mode."""
    if not isinstance(cache, DropoutCache):
        raise TypeError(
            "cache must come from fastnn.dropout_forward (the compiled backend), "
            f"got {type(cache).__name__}"
        )
    if cache.mode == "test":
        return as_float_array(dout, "dout")
    dout = check_dout(dout, cache.shape)
    return _apply(kernel_buffer(dout, cache.dtype), cache.key, cache.p)
