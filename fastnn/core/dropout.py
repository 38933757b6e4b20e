"""Compiled inverted dropout with a counter-based mask.

Same names, signatures and return conventions as :mod:`fastnn.reference.dropout`, with the
same checks and the same mask (fastnn.checks.dropout gives both the key; the generator is in
fastnn/_kernels/dropout_bits.h).  The cache is a :class:`DropoutCache`: the key, p and the
shape, and, on the paths that store it (``STORES_MASK_BITS``: the baseline path), the mask as
packed bits (1 bit per element); the backward applies those bits, or else regenerates the mask
from the key in the same pass that applies it.
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

# Whether the forward stores the mask's bits for the backward: decided in
# fastnn/_kernels/dropout.pyx (the baseline path, where regenerating is dearer than reading).
STORES_MASK_BITS: bool = _ext.STORES_MASK_BITS


class DropoutCache:
    """What the compiled backward needs: the ``dropout_param`` of the forward, its mode,
    the mask's key and keep probability p, x's shape and dtype, and ``bits``: the mask packed
    one bit per element (uint32 words, bit t of word g for element 32 * g + t of x in C order)
    where the forward stored it (``STORES_MASK_BITS``), else None (regenerated from the key)."""

    __slots__ = ("dropout_param", "mode", "key", "p", "shape", "dtype", "bits")

    def __init__(self, dropout_param, mode, key, p, shape, dtype, bits=None):
        self.dropout_param = dropout_param
        self.mode = mode
        self.key = key
        self.p = p
        self.shape = shape
        self.dtype = dtype
        self.bits = bits

    @property
    def mask(self) -> NDArray[np.floating] | None:
        """The forward's mask (1/p where kept, else 0; None in test mode), built on request."""
        if self.mode == "test":
            return None
        return dropout_mask(self.key, self.p, self.shape, self.dtype)

    def __repr__(self):
        bits = "" if self.bits is None else ", bits stored"
        return f"DropoutCache(mode={self.mode!r}, p={self.p}, shape={self.shape}{bits})"


def _scale(p, dtype):
    """1/p rounded to the dtype (what a kept element is multiplied by)."""
    return float(np.asarray(1.0 / p, dtype=dtype))


def _forward(x, key, p):
    """(out, bits): the mask applied to x and, where STORES_MASK_BITS, its bits (else None)."""
    out = empty_apart(x, x)
    bits = np.empty(_ext.bits_size(x.size), np.uint32) if STORES_MASK_BITS else None
    n_threads = threads_for(x.size, _THRESHOLD)
    _ext.apply_mask(x, out, key, keep_threshold(p), _scale(p, x.dtype), bits, n_threads)
    return out, bits


def _backward(dout, cache):
    out = empty_apart(dout, dout)
    scale = _scale(cache.p, dout.dtype)
    n_threads = threads_for(dout.size, _THRESHOLD)
    if cache.bits is not None:
        _ext.apply_bits(dout, out, cache.bits, scale, n_threads)
    else:
        _ext.apply_mask(dout, out, cache.key, keep_threshold(cache.p), scale, None, n_threads)
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
    out, bits = _forward(x, key, p)
    return out, DropoutCache(dropout_param, mode, key, p, x.shape, x.dtype, bits)


def dropout_backward(dout: np.ndarray, cache: Any) -> NDArray[np.floating]:
    """``dx = dout * mask`` (the forward's mask: its stored bits, or regenerated from its key)
    in train mode, dout in test mode."""
    if not isinstance(cache, DropoutCache):
        raise TypeError(
            "cache must come from fastnn.dropout_forward (the compiled backend), "
            f"got {type(cache).__name__}"
        )
    if cache.mode == "test":
        return as_float_array(dout, "dout")
    dout = check_dout(dout, cache.shape)
    return _backward(kernel_buffer(dout, cache.dtype), cache)
