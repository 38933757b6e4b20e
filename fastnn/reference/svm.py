"""NumPy reference multiclass SVM (hinge) loss: the twin of fastnn.core.svm.

The course's vectorised ``svm_loss`` (CS231n layers.py), computed in float64 and cast to the
scores' dtype at the end.  NaN scores give a NaN loss (np.maximum propagates NaN) and a zero
gradient entry (NaN > 0 is false).
"""

import numpy as np
from numpy.typing import NDArray

from fastnn.checks.svm import check_svm_inputs

__all__ = ["svm_loss"]


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, NDArray[np.floating]]:
    """Mean multiclass hinge loss (delta 1) and its gradient.

    x: scores (N, C) float32/float64; y: integer labels (N,), 0 <= y[i] < C.
    Returns (loss, dx): loss a Python float, dx (N, C) of x's dtype.
    """
    x, y = check_svm_inputs(x, y)
    n = x.shape[0]
    rows = np.arange(n)
    scores = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        margins = np.maximum(0.0, scores - scores[rows, y][:, np.newaxis] + 1.0)
        margins[rows, y] = 0.0
        loss = float(np.sum(margins) / n)
        positive = margins > 0
        dx = positive.astype(np.float64)
        dx[rows, y] = -np.sum(positive, axis=1)
    dx /= n
    return loss, dx.astype(x.dtype)
