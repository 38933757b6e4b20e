"""Argument checks of the SVM loss (fastnn.core and fastnn.reference)."""

from fastnn._validation import check_labels, check_scores


def check_svm_inputs(x, y):
    """Scores x (N, C), N, C >= 1, as float32/float64, and labels y (N,) as intp in [0, C)."""
    x = check_scores(x)
    return x, check_labels(y, x.shape[0], x.shape[1])
