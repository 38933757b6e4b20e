"""Running a halving scheduler's jobs: serially, or asynchronously on the runner's executors.

The parent process holds the scheduler, every trial's record and every resumable trial's
``state`` between its rungs: a worker returns the state with its result and gets it back with
the trial's next job, so no worker needs a shared disk (a Dask cluster works as a process pool
does) and a trial can resume on any worker.  A state is the model and its optimizer's arrays,
small next to the data (sizes in docs/perf/search.md).

In parallel, jobs the scheduler gives without speculating (new trials, promotions from a
complete rung) are submitted in batches sized from the measured time per epoch
(:meth:`_HalvingSearch.batch_size`): the round trip through this process is paid once per
batch, which on 3 ms digits epochs was most of what two workers lost against one process.
"""

import itertools
import math
import statistics
import warnings
from typing import Any

from fastnn.workflow.search._result import SearchResult, Trial, _history_diverged, _nanmax
from fastnn.workflow.search._runner import (
    _accepts_keyword,
    _Job,
    _Progress,
    _Runner,
    _sampling_rng,
    _trial_seed,
)
from fastnn.workflow.search._space import _sample, _searched
from fastnn.workflow.search.halving import BracketScheduler
from fastnn.workflow.search.journal import trial_key
from fastnn.workflow.search.median import MedianStop, median_table

# A batch of jobs handed out together (new trials and promotions the scheduler gives without
# speculating, which no pending result could change) is sized to train about this long, so
# that the round trip through this process, paid once per submission, stays a few per cent.
BATCH_SECONDS = 0.02
# Jobs timed before any is batched (the time of an epoch is their median).
TIMED_BEFORE_BATCHING = 2


class _HalvingSearch:
    """The parent's side of a halving search: jobs out, results in, trial records kept."""

    def __init__(self, runner, space, brackets, ladder, seed, epochs_key, median_stop):
        train_fn = runner.train_fn
        rungs, eta, asynchronous, promotion = ladder
        self.abort_factor = runner.abort_factor
        self.rungs, self.seed, self.epochs_key = rungs, seed, epochs_key
        self.scheduler = BracketScheduler(brackets, len(rungs), eta, asynchronous, promotion)
        self.params, self.offsets = [], []
        for b, (n, _) in enumerate(brackets):
            rng = _sampling_rng(seed, b)
            self.offsets.append(sum(len(p) for p in self.params))
            self.params.append([_sample(space, rng) for _ in range(n)])
        self.takes_epochs = _accepts_keyword(train_fn, "epochs")
        self.takes_state = self.takes_epochs and _accepts_keyword(train_fn, "state")
        self.median_stop = median_stop
        self.records: dict[int, Trial] = {}
        self.states: dict[int, Any] = {}
        self.jobs: dict[int, tuple[int, int, int]] = {}  # trial index -> (bracket, trial, rung)
        self.warned: set[str] = set()
        # journal rows a resumed search replays (their trials' states were not journaled)
        self.recorded = set(runner.done)
        self.replayed: set[int] = set()  # trials with a replayed rung
        self.trial_seeds: dict[int, int] = {}
        self.call_epochs: dict[int, int] = {}  # trial index -> epochs its current job trains
        self.epoch_seconds: list[float] = []  # per finished job: seconds per epoch trained
        self.handed: dict[tuple[int, int], int] = {}  # (bracket, rung) -> jobs handed out
        self.planned = {
            (b, rung): n
            for b, bracket in enumerate(self.scheduler.brackets)
            for rung, n in bracket.planned_per_rung().items()
        }

    def next_job(self, speculate=True):
        job = self.scheduler.next_job(speculate)
        if job is None:
            return None
        b, t, rung = job
        index = self.offsets[b] + t
        params, kwargs = dict(self.params[b][t]), {}
        if self.takes_epochs:
            kwargs["epochs"] = self.rungs[rung]
        else:
            params[self.epochs_key] = self.rungs[rung]
        state = self.states.pop(index, None)
        if self.takes_state:
            kwargs["state"] = state
        replay = trial_key(b, index, rung) in self.recorded
        if rung > self.scheduler.brackets[b].first_rung and state is None and not replay:
            if index in self.replayed:
                self._warn_once(
                    "resume",
                    "resumed from the journal, which keeps no trial states: a trial promoted "
                    "past a recorded rung trains again from its first epoch",
                )
            else:
                self._warn_once(
                    "restart",
                    "train_fn takes no state= or returned none: a promoted trial trains again "
                    "from its first epoch (see the train_fn contract in fastnn.search)",
                )
        if self.median_stop:
            others = [r.val_acc_history for i, r in self.records.items() if i != index]
            record = self.records.get(index)
            best = -math.inf if record is None or math.isnan(record.val_acc) else record.val_acc
            kwargs["on_epoch"] = MedianStop(median_table(others, self.rungs[-1]), best)
        self.jobs[index] = job
        self.handed[b, rung] = self.handed.get((b, rung), 0) + 1
        resumes = self.takes_state and state is not None
        done = (self.records[index].epochs or 0) if resumes and index in self.records else 0
        self.call_epochs[index] = max(self.rungs[rung] - done, 1)
        seed = self.trial_seeds.get(index)
        if seed is None:  # drawn once per trial, not per rung (a SeedSequence is slow)
            seed = self.trial_seeds[index] = _trial_seed(self.seed, b, index)
        return _Job(index, b, params, seed, kwargs, rung)

    def batch_size(self, job, slots):
        """How many jobs to submit together, ``job`` first (the others: jobs of the same
        rung the scheduler gives without speculating): about :data:`BATCH_SECONDS` of
        training at the measured time per epoch, and no more than an equal share per slot
        of the jobs the rung has left in a synchronous run, so that a rung's last jobs
        still spread over every worker.  One until :data:`TIMED_BEFORE_BATCHING` jobs
        were timed."""
        if len(self.epoch_seconds) < TIMED_BEFORE_BATCHING:
            return 1
        left = self.planned.get((job.round, job.rung), 0) - self.handed[job.round, job.rung]
        share = (left + 1) // slots
        seconds = statistics.median(self.epoch_seconds[-32:]) * self.call_epochs[job.index]
        by_time = int(BATCH_SECONDS / seconds) if seconds > 0 else share
        return max(1, min(by_time, share))

    def report(self, job, result):
        """Merge a job's Trial into the trial's record and tell the scheduler its score."""
        b, t, rung = self.jobs.pop(job.index)
        budget = self.rungs[rung]
        epochs = self.call_epochs.pop(job.index)
        if result.status == "ok" and result.seconds > 0 and not result.stopped:
            self.epoch_seconds.append(result.seconds / epochs)
        resumed = self.takes_state and job.call_kwargs.get("state") is not None
        if trial_key(b, job.index, rung) in self.recorded:
            self.replayed.add(job.index)
            # a recorded continuation holds only its own epochs: fewer than the total
            resumed = result.epochs is not None and len(result.val_acc_history) < result.epochs
        state = result.extra.pop("state", None)
        record = self.records.get(job.index)
        if record is None:
            record = self.records[job.index] = Trial(
                index=job.index, round=b, params=dict(self.params[b][t]), seed=job.seed
            )
        _merge(record, result, resumed)
        if resumed and record.status == "ok":
            # the call judged only its own losses: judge the trial's from its first
            if _history_diverged(record.loss_history, self.abort_factor):
                record.status = "diverged"
        record.rung = rung
        stopped = result.status == "ok" and result.stopped  # the median rule fired
        if result.status == "ok" and result.epochs != budget and not stopped:
            told = "no epoch count" if result.epochs is None else f"{result.epochs} epochs"
            self._warn_once(
                "epochs",
                f"train_fn reported {told} when asked to train to {budget}: successive "
                "halving needs a train_fn that honours epochs= (or params[epochs_key]) and "
                "returns 'epochs' or 'val_acc_history'",
            )
        if result.status == "ok" and state is not None:
            self.states[job.index] = state
        record.stopped = stopped
        ok = record.status == "ok" and not record.stopped
        self.scheduler.report(b, t, record.val_acc if ok else None)

    def result(self, space, interrupted):
        last = len(self.rungs) - 1
        for record in self.records.values():
            record.stopped = record.stopped or record.rung != last
        n_planned = sum(len(p) for p in self.params)
        self.states.clear()
        return SearchResult(
            self.records.values(), _searched(space), self.seed, n_planned, interrupted, [space]
        )

    def _warn_once(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=4)


def _merge(record, result, resumed):
    """Fold one call's outcome into the trial's record (histories continue when resumed)."""
    for key in ("loss_history", "train_acc_history", "val_acc_history"):
        new = getattr(result, key)
        setattr(record, key, getattr(record, key) + new if resumed else list(new))
    if resumed:
        record.epochs = result.epochs
    else:
        record.epochs = (record.epochs or 0) + (result.epochs or 0)
    better = math.isnan(record.val_acc) or not result.val_acc <= record.val_acc
    if better or not resumed:
        record.train_acc = result.train_acc
        record.extra = result.extra
    record.val_acc = _nanmax([record.val_acc, result.val_acc]) if resumed else result.val_acc
    record.status, record.error, record.traceback = result.status, result.error, result.traceback
    record.seconds += result.seconds


def run_halving(runner: _Runner, space, brackets, ladder, seed, epochs_key, median_stop):
    """Run successive halving over ``brackets`` (see ``halving.BracketScheduler``) and the
    ``ladder`` (rung epochs, eta, asynchronous, promotion order) with ``runner``'s train_fn:
    synchronous rungs or ASHA (``asynchronous``, chosen by the caller and kept in the journal
    so that a resume cannot switch it), serially or on the runner's executor; the runner's
    crash isolation, timeouts and Ctrl-C handling apply to every job."""
    search = _HalvingSearch(runner, space, brackets, ladder, seed, epochs_key, median_stop)
    progress = _Progress(search.scheduler.planned_jobs(), runner.verbose, "successive halving")
    slots, workers = runner.slots(), runner.workers()
    outstanding: dict[int, _Job] = {}
    batch_of: dict[int, int] = {}  # trial index -> its submission's number
    unfinished: dict[int, int] = {}  # submission number -> its jobs not yet back
    numbers = itertools.count()

    def top_up():
        # a submission is chosen only when a slot frees (a worker's running or queued one):
        # its promotions see every result so far.  A speculative promotion only fills a slot
        # that leaves a worker idle, never a queued one.  New trials, which depend on no
        # result, go in batches when they are short (see batch_size).
        while (
            len(unfinished) < slots
            and (job := search.next_job(speculate=len(unfinished) < workers)) is not None
        ):
            batch = [job]
            if runner.parallel:
                for _ in range(search.batch_size(job, slots) - 1):
                    more = search.next_job(speculate=False)
                    if more is None:
                        break
                    batch.append(more)
                    if more.rung != job.rung:  # another rung's job closes the batch
                        break
            number = next(numbers)
            unfinished[number] = len(batch)
            for queued in batch:
                outstanding[queued.index] = queued
                batch_of[queued.index] = number
            runner.submit(*batch)

    try:
        top_up()
        for trial in runner.finished():
            search.report(outstanding.pop(trial.index), trial)
            number = batch_of.pop(trial.index)
            unfinished[number] -= 1
            if not unfinished[number]:
                del unfinished[number]
            progress.update(trial)
            top_up()
    finally:
        progress.close()
    return search.result(space, runner.interrupted or runner.crash_stop is not None)
