"""NumPy reference softmax, log-softmax and softmax cross-entropy loss (twins of fastnn.core.softmax)."""

import numpy as np

from fastnn._validation import check_labels, check_out, check_scores

__all__ = ["softmax", "log_softmax", "softmax_loss"]


def log_softmax(x, out=None):
    """Row-wise log-probabilities of scores x (N, C): x - max - log(sum(exp(x - max)))."""
    x = check_scores(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - np.max(x, axis=1, keepdims=True)
        result = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    if out is None:
        return result
    out[...] = result
    return out


def softmax(x, out=None):
    """Row-wise probabilities of scores x (N, C), same dtype."""
    x = check_scores(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - np.max(x, axis=1, keepdims=True))
        result = e / np.sum(e, axis=1, keepdims=True)
    if out is None:
        return result
    out[...] = result
    return out


def softmax_loss(x, y, out=None):
    """Mean softmax cross-entropy and its gradient.

    x: scores (N, C) float32/float64; y: integer labels (N,), 0 <= y[i] < C.
    Returns (loss, dx): loss a Python float (accumulated in float64), dx (N, C) of x's dtype
    equal to (softmax(x) - onehot(y)) / N, written into ``out`` when given.
    """
    x = check_scores(x)
    n, c = x.shape
    labels = check_labels(y, n, c)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    logp = log_softmax(x.astype(np.float64))
    loss = float(-np.sum(logp[np.arange(n), labels]) / n)
    dx = np.exp(logp)
    dx[np.arange(n), labels] -= 1.0
    dx /= n
    if out is None:
        return loss, dx.astype(x.dtype)
    out[...] = dx
    return loss, out
