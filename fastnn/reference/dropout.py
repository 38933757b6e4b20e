"""NumPy reference inverted dropout: the twins of fastnn.core.dropout.

The mask comes from the same counter-based generator as the compiled kernel
(fastnn/_kernels/dropout_bits.h), here in vectorised uint64 arithmetic (NumPy's uint64
multiplication wraps modulo 2**64, like C's): pair j of elements (2j, 2j + 1) takes the
SplitMix64 output number j + 1 of the stream seeded with the key, element 2j its low and
element 2j + 1 its high 32 bits; an element is kept when its word is below round(p * 2**32).
The cache is ``(dropout_param, mask)`` as in the course, the mask of x's dtype holding 1/p
or 0.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastnn._validation import as_float_array
from fastnn.checks.dropout import check_dropout_inputs, dropout_key, keep_threshold

__all__ = ["dropout_forward", "dropout_backward"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW_WORD = np.uint64(0xFFFFFFFF)


def random_words(key: int, size: int) -> NDArray[np.uint64]:
    """The 32-bit words (as uint64) of elements 0..size-1 for ``key``."""
    z = np.uint64(key) + (np.arange(1, (size + 1) // 2 + 1, dtype=np.uint64) * _GAMMA)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return np.stack([z & _LOW_WORD, z >> np.uint64(32)], axis=1).ravel()[:size]


def dropout_mask(key: int, p: float, shape: tuple, dtype: Any) -> NDArray[np.floating]:
    """The dropout mask of an array of ``shape`` (C order): 1/p where kept, else 0."""
    size = int(np.prod(shape))
    keep = random_words(key, size) < np.uint64(keep_threshold(p))
    scale = np.asarray(1.0 / p, dtype=dtype)
    return np.where(keep, scale, np.zeros((), dtype)).reshape(shape)


def mask_bits(key: int, p: float, size: int) -> NDArray[np.uint32]:
    """The keep mask of ``size`` elements packed as the compiled forward stores it on the paths
    that store it (fastnn.core.dropout.STORES_MASK_BITS): uint32 words, bit t of word g set
    when element 32 * g + t is kept, the bits past the last element 0."""
    keep = random_words(key, size) < np.uint64(keep_threshold(p))
    padded = np.zeros(-(-size // 32) * 32, dtype=bool)
    padded[:size] = keep
    return np.packbits(padded, bitorder="little").view("<u4").astype(np.uint32)


def dropout_forward(
    x: np.ndarray, dropout_param: dict[str, Any]
) -> tuple[NDArray[np.floating], Any]:
    """Inverted dropout: ``out = x * mask``, mask ``1/p`` with probability p (keep), else 0.

    dropout_param: ``mode`` 'train' or 'test', ``p`` the keep probability in (0, 1], optional
    ``seed``.  Test mode returns x itself.  Returns (out of x's dtype, cache).
    """
    x, mode, p = check_dropout_inputs(x, dropout_param)
    if mode == "test":
        return x, (dropout_param, None)
    mask = dropout_mask(dropout_key(dropout_param), p, x.shape, x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return x * mask, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: Any) -> NDArray[np.floating]:
    """``dx = dout * mask`` in train mode, dout in test mode."""
    dropout_param, mask = cache
    dout = as_float_array(dout, "dout")
    if mask is None:
        return dout
    if dout.shape != mask.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {mask.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        return (dout * mask).astype(mask.dtype, copy=False)
