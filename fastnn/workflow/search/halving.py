"""Successive halving, Hyperband and ASHA as pure schedulers: which trial trains to which rung.

No training and no executors here (the driver, ``_halving_runner``, does that): a scheduler
hands out ``(trial, rung)`` jobs and is told each job's score, so every decision can be checked
against hand-computed tables.

Rules
-----
* Rungs (:func:`rung_epochs`): ``s = floor(log_eta(max_epochs / min_epochs))`` and rung ``k``
  of ``0..s`` trains to ``max_epochs // eta**(s - k)`` epochs in total, so the last rung is
  ``max_epochs`` and the first at least ``min_epochs`` (Li et al. 2017 count down from the
  maximum the same way).
* Promotion from rung ``k``: the best ``floor(reported / eta)`` trials by score (ties: lower
  trial index first); once no trial can still enter or finish rung ``k``, at least the best one
  goes on, so the best configuration is always trained to the last rung.  A score of None or
  NaN (failed, diverged, stopped) is never promoted.
* Synchronous successive halving (Jamieson and Talwalkar 2016) promotes out of a rung only
  when it is complete.  Asynchronous (ASHA, Li et al. 2020) may also promote a trial that is
  in the top ``1 / eta`` of what a rung still filling has reported (a speculative promotion),
  so no worker waits for a rung to fill.  Promotions are tried from the highest rung down.
* The order of an asynchronous scheduler's jobs (``promotion``): ``"eager"`` is Li et al.'s,
  every promotion before any new trial.  ``"lazy"`` hands out promotions from complete rungs,
  then new trials, and a speculative promotion only when the caller says a worker would
  otherwise wait (``next_job(speculate=True)``): it trains the trials and epochs of the
  synchronous run, apart from the speculations made while a rung's last trials run.
* Hyperband (:func:`hyperband_brackets`): bracket ``b`` of ``0..s`` starts
  ``ceil((s + 1) * eta**(s - b) / (s - b + 1))`` trials at rung ``b``.
"""

import math
from collections.abc import Sequence

__all__ = ["rung_epochs", "hyperband_brackets", "HalvingScheduler", "BracketScheduler"]

PROMOTIONS = ("lazy", "eager")


def check_halving(min_epochs: int, max_epochs: int, eta: int) -> tuple[int, int, int]:
    """``(min_epochs, max_epochs, eta)`` as ints; TypeError/ValueError for bad ones."""
    for value, name in ((min_epochs, "min_epochs"), (max_epochs, "max_epochs"), (eta, "eta")):
        if isinstance(value, bool) or not isinstance(value, int) and not _is_integer(value):
            raise TypeError(f"{name} must be an integer, got {value!r}")
    min_epochs, max_epochs, eta = int(min_epochs), int(max_epochs), int(eta)
    if eta < 2:
        raise ValueError(f"eta must be >= 2 (keep 1 / eta of the trials per rung), got {eta}")
    if min_epochs < 1:
        raise ValueError(f"min_epochs must be >= 1, got {min_epochs}")
    if min_epochs > max_epochs:
        raise ValueError(f"min_epochs ({min_epochs}) must not exceed max_epochs ({max_epochs})")
    return min_epochs, max_epochs, eta


def check_promotion(promotion: str) -> str:
    """``promotion`` if it names an order of asynchronous jobs; ValueError otherwise."""
    if promotion not in PROMOTIONS:
        raise ValueError(f"promotion must be one of {', '.join(PROMOTIONS)}, got {promotion!r}")
    return promotion


def schedule_name(asynchronous: bool, promotion: str) -> str:
    """How a halving search hands out its jobs, as its journal records it: ``"synchronous"``
    or ``"asha-lazy"`` / ``"asha-eager"``.  It decides which trials train how far, so a
    resumed search must keep it."""
    return f"asha-{check_promotion(promotion)}" if asynchronous else "synchronous"


def _is_integer(value):
    return hasattr(value, "__index__")


def rung_epochs(min_epochs: int, max_epochs: int, eta: int = 3) -> list[int]:
    """Total epochs a trial has trained at each rung, lowest first.

    >>> from fastnn.search import rung_epochs
    >>> rung_epochs(1, 27, 3)
    [1, 3, 9, 27]
    >>> rung_epochs(1, 10, 3)
    [1, 3, 10]
    """
    min_epochs, max_epochs, eta = check_halving(min_epochs, max_epochs, eta)
    s = 0
    while min_epochs * eta ** (s + 1) <= max_epochs:  # integer log: no rounding surprises
        s += 1
    return [max_epochs // eta ** (s - k) for k in range(s + 1)]


def hyperband_brackets(min_epochs: int, max_epochs: int, eta: int = 3) -> list[tuple[int, int]]:
    """``(n_trials, first_rung)`` of each Hyperband bracket, most aggressive first.

    >>> from fastnn.search import hyperband_brackets
    >>> hyperband_brackets(1, 27, 3)
    [(27, 0), (12, 1), (6, 2), (4, 3)]
    """
    s = len(rung_epochs(min_epochs, max_epochs, eta)) - 1
    return [(-(-(s + 1) * eta ** (s - b) // (s - b + 1)), b) for b in range(s + 1)]


class HalvingScheduler:
    """One bracket of successive halving: ``n_trials`` trials over rungs ``first_rung`` .. last.

    Parameters
    ----------
    n_trials : int
        Trials started at ``first_rung`` (numbered 0 .. n_trials - 1).
    n_rungs : int
        Rungs of the whole ladder (``len(rung_epochs(...))``).
    eta : int
    asynchronous : bool
        ASHA's promotions (see the module docstring) instead of rung by rung.
    first_rung : int, default 0
    promotion : {"eager", "lazy"}, default "eager"
        The order of an asynchronous scheduler's jobs (see the module docstring).
    """

    def __init__(
        self,
        n_trials: int,
        n_rungs: int,
        eta: int,
        asynchronous: bool,
        first_rung: int = 0,
        promotion: str = "eager",
    ) -> None:
        if n_trials < 1 or not 0 <= first_rung < n_rungs or eta < 2:
            raise ValueError(
                f"bad bracket: n_trials={n_trials}, first_rung={first_rung}, "
                f"n_rungs={n_rungs}, eta={eta}"
            )
        self.n_trials, self.n_rungs, self.eta = n_trials, n_rungs, eta
        self.asynchronous, self.first_rung = asynchronous, first_rung
        self.lazy = check_promotion(promotion) == "lazy"
        self.started = 0
        self.scores: list[dict[int, float | None]] = [{} for _ in range(n_rungs)]
        # each rung's scored trials, best first (ties: lower index), made when first needed
        # after a report to that rung
        self._ranked: list[list[int] | None] = [None] * n_rungs
        self.promoted: list[set[int]] = [set() for _ in range(n_rungs)]
        self.running: dict[int, int] = {}  # trial -> the rung it is training to

    def next_job(self, speculate: bool = True) -> tuple[int, int] | None:
        """``(trial, rung)`` to train next (rung: the ladder's index), or None for now.

        ``speculate=False`` (a lazy scheduler only): no promotion from a rung still filling,
        as no worker is waiting for a job.
        """
        job = self._promotion(sure_only=self.lazy)
        if job is None and self.started < self.n_trials:
            trial, self.started = self.started, self.started + 1
            self.running[trial] = self.first_rung
            return trial, self.first_rung
        if job is None and self.lazy and speculate:
            job = self._promotion(sure_only=False)
        return job

    def _promotion(self, sure_only):
        """The next promotion, highest rung first (sure_only: from complete rungs only)."""
        for k in range(self.n_rungs - 2, self.first_rung - 1, -1):
            trial = self._promotable(k, sure_only)
            if trial is not None:
                self.promoted[k].add(trial)
                self.running[trial] = k + 1
                return trial, k + 1
        return None

    def planned_per_rung(self) -> dict[int, int]:
        """Jobs per rung of a synchronous run in which every trial succeeds."""
        planned, n = {}, self.n_trials
        for k in range(self.first_rung, self.n_rungs):
            planned[k] = n
            n = max(n // self.eta, 1)
        return planned

    def report(self, trial: int, score: float | None) -> None:
        """The score ``trial`` reached on the rung it was training to (None: never promote)."""
        rung = self.running.pop(trial)
        if score is not None and math.isnan(score):
            score = None
        self.scores[rung][trial] = score
        self._ranked[rung] = None

    @property
    def finished(self) -> bool:
        """True when nothing runs and no job is left to hand out."""
        return (
            not self.running
            and self.started == self.n_trials
            and all(self._promotable(k) is None for k in range(self.first_rung, self.n_rungs - 1))
        )

    def _complete(self, k):
        """No trial can still enter or finish rung ``k``."""
        if k in self.running.values():
            return False
        if k == self.first_rung:
            return self.started == self.n_trials
        return self._complete(k - 1) and self._promotable(k - 1) is None

    def _quota(self, k, sure_only):
        reported = len(self.scores[k])
        if self._complete(k):
            return max(reported // self.eta, 1 if reported else 0)
        return reported // self.eta if self.asynchronous and not sure_only else 0

    def _promotable(self, k, sure_only=False):
        quota = self._quota(k, sure_only)
        if quota == 0:
            return None
        ranked = self._ranked[k]
        if ranked is None:
            scored = [(-score, t) for t, score in self.scores[k].items() if score is not None]
            ranked = self._ranked[k] = [t for _, t in sorted(scored)]
        promoted = self.promoted[k]
        for trial in ranked[:quota]:
            if trial not in promoted:
                return trial
        return None


class BracketScheduler:
    """Several brackets (Hyperband's, or one for plain successive halving) as one scheduler.

    Jobs are ``(bracket, trial, rung)``; the first bracket with a job gives it, so that in
    parallel a bracket waiting for its rungs never leaves a worker idle.  A lazy scheduler
    asks every bracket for a job that is not speculative before it speculates in any.
    """

    def __init__(
        self,
        brackets: Sequence[tuple[int, int]],
        n_rungs: int,
        eta: int,
        asynchronous: bool,
        promotion: str = "eager",
    ) -> None:
        self.brackets = [
            HalvingScheduler(n, n_rungs, eta, asynchronous, first, promotion)
            for n, first in brackets
        ]

    def next_job(self, speculate: bool = True) -> tuple[int, int, int] | None:
        """``(bracket, trial, rung)``, or None for now (``speculate``: see HalvingScheduler)."""
        for allowed in (False, True) if speculate else (False,):
            for b, bracket in enumerate(self.brackets):
                job = bracket.next_job(speculate=allowed)
                if job is not None:
                    return (b, *job)
        return None

    def report(self, bracket: int, trial: int, score: float | None) -> None:
        self.brackets[bracket].report(trial, score)

    @property
    def finished(self) -> bool:
        return all(b.finished for b in self.brackets)

    def planned_jobs(self) -> int:
        """Jobs of a synchronous run in which every trial succeeds (for a progress bar)."""
        return sum(sum(b.planned_per_rung().values()) for b in self.brackets)
