"""The median-stopping rule (Golovin et al. 2017, Google Vizier): stop a trial after an epoch
whose best validation accuracy so far is below the median of the other trials' running means
at that epoch.

The rule travels with the job as the trial's ``on_epoch``; once the call returns it is replayed
on the epochs the call reported (:meth:`MedianStop.stopped`) to mark the trial, since the
train_fn reports no decision and a stop on the last epoch leaves no trace in the epoch count.
"""

import math
import statistics
from collections.abc import Iterable

# The rule needs this many other trials' curves before it stops anything.
MEDIAN_MIN_TRIALS = 5


class MedianStop:
    """``on_epoch`` of the median-stopping rule: stop after epoch ``e`` when the trial's best
    validation accuracy so far is below ``medians[e - 1]``, the median of the other trials'
    mean accuracies over their first ``e`` epochs (None: no rule yet)."""

    def __init__(self, medians: list[float | None], best: float) -> None:
        self.medians = medians
        self.start = self.best = best

    def __call__(self, epoch: int, stats: dict[str, float]) -> bool:
        self.best = max(self.best, float(stats["val_acc"]))
        median = self.medians[epoch - 1] if epoch <= len(self.medians) else None
        return median is not None and self.best < median

    def stopped(self, epochs: int | None, val_acc_history: list[float]) -> bool:
        """Whether the rule fired in a call that ended at ``epochs`` (the trial's total) with
        ``val_acc_history`` (one entry per epoch of that call)."""
        if epochs is None or not val_acc_history:
            return False
        replay = MedianStop(self.medians, self.start)
        first = epochs - len(val_acc_history) + 1
        return any(replay(first + i, {"val_acc": v}) for i, v in enumerate(val_acc_history))


def median_table(curves: Iterable[list[float]], epochs: int) -> list[float | None]:
    """Per epoch 1..``epochs``: the median over ``curves`` of each curve's mean over its first
    ``e`` epochs (all of it when shorter); None while fewer than MEDIAN_MIN_TRIALS curves."""
    curves = [c for c in curves if c]
    if len(curves) < MEDIAN_MIN_TRIALS:
        return [None] * epochs
    return [
        statistics.median(statistics.fmean(c[:e]) for c in curves) for e in range(1, epochs + 1)
    ]


def median_rule(curves: Iterable[list[float]], best: float = -math.inf) -> MedianStop:
    """The rule for a new call given the other trials' validation curves (one entry per epoch)
    and the trial's best accuracy before the call (-inf for a fresh trial)."""
    curves = [c for c in curves if c]
    return MedianStop(median_table(curves, max(map(len, curves), default=0)), best)
