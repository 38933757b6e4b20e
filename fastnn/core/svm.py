"""Compiled multiclass SVM (hinge) loss with its gradient, fused in one pass per row.

Same name, signature and return convention as :mod:`fastnn.reference.svm`, with the same
input checks (fastnn.checks.svm).
"""

import numpy as np
from numpy.typing import NDArray

from fastnn._config import threads_for
from fastnn._kernels import svm as _ext
from fastnn._kernels._runtime import kernel_buffer
from fastnn.checks.svm import check_svm_inputs
from fastnn.core.threads import PARALLEL_THRESHOLDS
from fastnn.reference.svm import __all__ as _TWIN_NAMES

__all__ = list(_TWIN_NAMES)  # the twins name the public API

_THRESHOLD = PARALLEL_THRESHOLDS["svm"]


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, NDArray[np.floating]]:
    """Mean multiclass hinge loss (delta 1) and its gradient, as CS231n's ``svm_loss``.

    x: scores (N, C), N, C >= 1, float32/float64 (integers become float64).
    y: labels (N,) of any integer dtype (integer-valued floats accepted), 0 <= y[i] < C.
    Returns ``(loss, dx)``: loss a Python float, the mean over rows of the sum over
    ``j != y[i]`` of ``max(0, x[i, j] - x[i, y[i]] + 1)`` (margins formed and summed in
    float64); dx (N, C) of x's dtype: ``1/N`` at each positive margin, minus their count
    over N at the label, else 0.
    """
    x, y = check_svm_inputs(x, y)
    x = kernel_buffer(x)
    dx = np.empty_like(x)
    loss = _ext.loss_gradient(x, kernel_buffer(y), dx, threads_for(x.size, _THRESHOLD))
    return loss, dx
