"""NumPy reference softmax, log-softmax and softmax cross-entropy loss.

The twins of fastnn.core.softmax.

Everything is computed in float64 (the oracle should be more accurate than the kernel) and
cast to the scores' dtype at the end.  Non-finite scores: a row with NaN or +inf (or only
-inf) gives an all-NaN row and a NaN loss; a -inf score has probability 0 and, at the label,
makes the loss +inf.
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._validation import check_labels, check_out, check_scores

__all__ = ["softmax", "log_softmax", "softmax_loss"]


def _shifted_exp(x):
    """For scores x (N, C): x - max, exp(x - max), the row sums and the row sums minus 1.

    All float64 with keepdims.  ``sum - 1`` (so log-sum-exp = max + log1p(sum - 1)) is taken
    without cancellation when the max dominates: the max's exp is exactly 1, so it is then
    recomputed as (number of entries equal to 1) - 1 + (sum of the other entries).
    """
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = x - np.max(x, axis=1, keepdims=True)
        e = np.exp(shifted)
        total = np.sum(e, axis=1, keepdims=True)
        sm1 = total - 1.0
        small = sm1 < 1e-3
        if np.any(small):
            is_one = e == 1.0
            exact = (np.sum(is_one, axis=1, keepdims=True) - 1.0) + np.sum(
                np.where(is_one, 0.0, e), axis=1, keepdims=True
            )
            sm1 = np.where(small, exact, sm1)
    return shifted, e, total, sm1


def _finish(result, dtype, out):
    with np.errstate(over="ignore"):  # float64 -> float32: below -3.4e38 is -inf
        if out is None:
            return result.astype(dtype)
        out[...] = result
    return out


def log_softmax(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Row-wise log-probabilities of scores x (N, C): x - max - log(sum(exp(x - max)))."""
    x = check_scores(x, allow_empty=True)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    shifted, _, _, sm1 = _shifted_exp(x)
    with np.errstate(invalid="ignore"):
        result = shifted - np.log1p(sm1)
    return _finish(result, x.dtype, out)


def softmax(x: np.ndarray, out: np.ndarray | None = None) -> NDArray[np.floating]:
    """Row-wise probabilities of scores x (N, C), same dtype."""
    x = check_scores(x, allow_empty=True)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    _, e, total, _ = _shifted_exp(x)
    with np.errstate(invalid="ignore"):
        result = e / total
    return _finish(result, x.dtype, out)


def softmax_loss(
    x: np.ndarray,
    y: np.ndarray,
    out: np.ndarray | None = None,
) -> tuple[float, NDArray[np.floating]]:
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
    rows = np.arange(n)
    shifted, e, total, sm1 = _shifted_exp(x)
    with np.errstate(invalid="ignore", over="ignore"):  # a loss above 1.8e308 is inf
        loss = float(np.sum(np.log1p(sm1[:, 0]) - shifted[rows, labels]) / n)
        dx = e / total
        # p_y - 1 = ((e_y - 1) - (sum - 1)) / sum keeps its digits when p_y is close to 1
        dx[rows, labels] = ((e[rows, labels] - 1.0) - sm1[:, 0]) / total[:, 0]
    dx /= n
    return loss, _finish(dx, x.dtype, out)
