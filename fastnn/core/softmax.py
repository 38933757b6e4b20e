"""Compiled softmax, log-softmax and the fused softmax cross-entropy loss with gradient.

The common call (a C-contiguous float32/float64 score matrix, intp labels, no ``out`` or a
contiguous one) goes straight to the compiled entry points, which check it with the NumPy
C-API in well under a microsecond.  Everything else (lists, strided views, other dtypes,
float labels, invalid input) takes the general path below: the shared checks of
fastnn._validation (the very ones the NumPy twin runs, so both raise the same errors),
then a contiguous copy and the same kernel.

Non-finite scores: a row containing NaN or +inf (or only -inf) gives an all-NaN row of
probabilities, log-probabilities and gradient, and makes the loss NaN.  A -inf score in an
otherwise finite row has probability 0; at the label it makes the loss +inf (the gradient
stays finite).  The NumPy twin does the same.
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import softmax as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn._validation import check_labels, check_out, check_scores
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.softmax import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

# The thread count of a call whose x is not an ndarray is 1: such a call takes the general
# path, which decides again from the checked array.
_THRESHOLD = PARALLEL_THRESHOLDS["softmax"]


def _general(kernel, x, out):
    x = check_scores(x, allow_empty=True)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    if x.shape[0] == 0:  # no rows: an empty result, as NumPy and PyTorch give
        dst = np.empty(x.shape, x.dtype)
    else:
        dst = kernel(kernel_buffer(x), None, threads_for(x.size, _THRESHOLD))
    if out is None:
        return dst
    out[...] = dst
    return out


def softmax(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Row-wise softmax: probabilities ``exp(x - max) / sum(exp(x - max))``.

    x: scores (N, C), C >= 1 (N = 0 gives an empty result), float32/float64 (integers
    become float64).
    Returns an (N, C) array of x's dtype whose rows sum to 1 (``out`` if given).
    """
    n_threads = threads_for(x.size, _THRESHOLD) if type(x) is np.ndarray else 1
    result = _ext.softmax(x, out, n_threads)
    if result is NotImplemented:
        result = _general(_ext.softmax, x, out)
    return result


def log_softmax(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Row-wise log-probabilities ``x - max - log(sum(exp(x - max)))``.

    x: scores (N, C), C >= 1 (N = 0 gives an empty result), float32/float64 (integers
    become float64).
    Returns an (N, C) array of x's dtype (``out`` if given).
    """
    n_threads = threads_for(x.size, _THRESHOLD) if type(x) is np.ndarray else 1
    result = _ext.log_softmax(x, out, n_threads)
    if result is NotImplemented:
        result = _general(_ext.log_softmax, x, out)
    return result


def softmax_loss(
    x: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> tuple[float, NDArray[np.floating]]:
    """Mean softmax cross-entropy loss and its gradient, in one pass.

    x: scores (N, C), N, C >= 1, float32/float64 (integers become float64).
    y: labels (N,) of any integer dtype (integer-valued floats accepted), 0 <= y[i] < C.
    Returns ``(loss, dx)``: loss a Python float (mean of -log softmax(x)[i, y[i]],
    accumulated in float64), dx (N, C) of x's dtype equal to (softmax(x) - onehot(y)) / N,
    written into ``out`` when given.
    """
    n_threads = threads_for(x.size, _THRESHOLD) if type(x) is np.ndarray else 1
    result = _ext.loss_gradient(x, y, out, n_threads)
    if result is NotImplemented:
        x = check_scores(x)
        labels = check_labels(y, x.shape[0], x.shape[1])
        if out is not None:
            check_out(out, x.shape, x.dtype)
        result = _ext.loss_gradient(
            kernel_buffer(x), np.ascontiguousarray(labels), None, threads_for(x.size, _THRESHOLD)
        )
        if out is not None:
            out[...] = result[1]
            result = (result[0], out)
    return result
