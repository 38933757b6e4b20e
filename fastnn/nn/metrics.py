"""Classification accuracy from class scores (the one definition the trainer, the babysitter
and the command line share)."""

import numpy as np


def correct_count(scores, y):
    """Number of rows of ``scores`` (N, C) whose highest score is at the label ``y`` (N,)."""
    return int(np.count_nonzero(np.argmax(scores, axis=1) == y))


def accuracy(scores, y):
    """Fraction of rows of ``scores`` (N, C) whose highest score is at the label ``y`` (N,)."""
    return correct_count(scores, y) / len(y)
