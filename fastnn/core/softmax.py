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

from fastnn import reference as _ref
from fastnn._config import get_num_threads
from fastnn._kernels import softmax as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn._validation import check_labels, check_out, check_scores
from fastnn.reference.softmax import __all__ as _TWIN_NAMES
from fastnn.registry import KernelSpec

__all__ = list(_TWIN_NAMES)  # the twins name the public API

PARALLEL_THRESHOLD = _ext.PARALLEL_THRESHOLD


def _general(kernel, x, out):
    x = check_scores(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    dst = kernel(kernel_buffer(x), None, get_num_threads())
    if out is None:
        return dst
    out[...] = dst
    return out


def softmax(x, out=None):
    """Row-wise softmax: probabilities ``exp(x - max) / sum(exp(x - max))``.

    x: scores (N, C), N, C >= 1, float32/float64 (integers become float64).
    Returns an (N, C) array of x's dtype whose rows sum to 1 (``out`` if given).
    """
    result = _ext.softmax(x, out, get_num_threads())
    if result is NotImplemented:
        result = _general(_ext.softmax, x, out)
    return result


def log_softmax(x, out=None):
    """Row-wise log-probabilities ``x - max - log(sum(exp(x - max)))``.

    x: scores (N, C), N, C >= 1, float32/float64 (integers become float64).
    Returns an (N, C) array of x's dtype (``out`` if given).
    """
    result = _ext.log_softmax(x, out, get_num_threads())
    if result is NotImplemented:
        result = _general(_ext.log_softmax, x, out)
    return result


def softmax_loss(x, y, out=None):
    """Mean softmax cross-entropy loss and its gradient, in one pass.

    x: scores (N, C), N, C >= 1, float32/float64 (integers become float64).
    y: labels (N,) of any integer dtype (integer-valued floats accepted), 0 <= y[i] < C.
    Returns ``(loss, dx)``: loss a Python float (mean of -log softmax(x)[i, y[i]],
    accumulated in float64), dx (N, C) of x's dtype equal to (softmax(x) - onehot(y)) / N,
    written into ``out`` when given.
    """
    result = _ext.loss_gradient(x, y, out, get_num_threads())
    if result is NotImplemented:
        x = check_scores(x)
        labels = check_labels(y, x.shape[0], x.shape[1])
        if out is not None:
            check_out(out, x.shape, x.dtype)
        result = _ext.loss_gradient(kernel_buffer(x), np.ascontiguousarray(labels), None,
                                    get_num_threads())
        if out is not None:
            out[...] = result[1]
            result = (result[0], out)
    return result


def _loss_args(rng, shape, dtype, impl):
    n, c = shape
    return (rng.standard_normal(shape).astype(dtype), rng.integers(0, c, n)), {}


def _scores_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _torch_loss(torch, args, kwargs):
    x, y = args
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))

    def run():
        xt.grad = None
        loss = torch.nn.functional.cross_entropy(xt, yt)
        loss.backward()
        return loss.item(), xt.grad

    return run


def _torch_softmax(torch, args, kwargs):
    xt = torch.from_numpy(args[0])
    return lambda: torch.softmax(xt, dim=1)


def _torch_log_softmax(torch, args, kwargs):
    xt = torch.from_numpy(args[0])
    return lambda: torch.log_softmax(xt, dim=1)


_SHAPES = ((64, 10), (200, 10), (4096, 10), (256, 1000), (4096, 1000))

KERNELS = [
    KernelSpec("softmax_loss", "softmax", softmax_loss, _ref.softmax_loss, _loss_args, _SHAPES,
               1.0, torch=_torch_loss),
    KernelSpec("softmax", "softmax", softmax, _ref.softmax, _scores_args, _SHAPES, 1.0,
               torch=_torch_softmax),
    KernelSpec("log_softmax", "softmax", log_softmax, _ref.log_softmax, _scores_args, _SHAPES,
               1.0, torch=_torch_log_softmax),
]
