"""Hyper-parameter search: grid, random, coarse-to-fine, early abort, parallel and on Dask.

The implementation behind the public namespace ``fastnn.search``, which documents it.
"""

import contextlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from fastnn._config.threads import check_thread_count
from fastnn.workflow.search._halving_runner import run_halving
from fastnn.workflow.search._models import ModelTrainFn, make_train_fn
from fastnn.workflow.search._result import (
    STATUSES,
    SearchResult,
    Trial,
    _format_value,
    should_abort,
)
from fastnn.workflow.search._runner import (
    CRASHES_IN_A_ROW,
    _accepts_keyword,
    _check_seed,
    _Job,
    _Runner,
    _sampling_rng,
    _trial_seed,
    require_loky,
)
from fastnn.workflow.search._solver_fn import SolverTrainFn
from fastnn.workflow.search._space import (
    RangeEdgeWarning,
    _check_space,
    _Distribution,
    _grid,
    _Interval,
    _sample,
    _searched,
    choice,
    loguniform,
    randint,
    uniform,
)
from fastnn.workflow.search.halving import (
    check_halving,
    check_promotion,
    hyperband_brackets,
    rung_epochs,
    schedule_name,
)
from fastnn.workflow.search.journal import Journal
from fastnn.workflow.search.median import MedianStop

__all__ = [
    "loguniform",
    "uniform",
    "choice",
    "randint",
    "grid_search",
    "random_search",
    "coarse_to_fine",
    "successive_halving",
    "hyperband",
    "rung_epochs",
    "hyperband_brackets",
    "MedianStop",
    "should_abort",
    "make_train_fn",
    "ModelTrainFn",
    "SolverTrainFn",
    "Trial",
    "SearchResult",
    "RangeEdgeWarning",
    "STATUSES",
    "require_loky",
    "SearchStopped",
    "CRASHES_IN_A_ROW",
]


class SearchStopped(RuntimeError):
    """The search stopped because :data:`CRASHES_IN_A_ROW` trials in a row lost their worker
    process; ``result`` holds the trials that finished (the journal, if any, has them too)."""

    def __init__(self, message: str, result: SearchResult) -> None:
        super().__init__(message)
        self.result = result


_RUN_PARAMETERS = """
    median_stop : bool, default False
        Also stop a trial after any epoch whose best validation accuracy is below the median
        of the other trials' mean accuracies up to that epoch (Golovin et al. 2017, once 5
        trials have reported; in :func:`coarse_to_fine`, the trials of the same round).  Needs
        a ``train_fn`` taking ``on_epoch`` and returning ``val_acc_history`` (one entry per
        epoch); a stopped trial has ``stopped`` True.  A trial is compared with the trials
        finished when it is submitted: serially that is every earlier one, so the result
        depends on the seed only; in parallel (two jobs submitted per worker, one running
        and one queued) it also depends on the order trials finish.
    n_jobs : int, default 1
        Worker processes (``-1``: all cores); each trial's kernels and BLAS run on
        ``threads_per_trial`` threads. Needs the ``parallel`` extra (joblib): loky starts
        the workers, and jobs and results then travel over one direct connection per worker.
    executor : concurrent.futures.Executor-like, optional
        Run trials with ``executor.submit`` instead (e.g. a ``distributed.Client``).
        ``train_fn`` must be picklable for both. It and the data it holds reach each worker
        once per run, not with every trial: a ``distributed.Client`` broadcasts it, and
        worker processes on this machine (``n_jobs``, a ``ProcessPoolExecutor``) load it
        from a temporary file written once.
    threads_per_trial : int, default 1
        Threads per trial in workers (``-1``: all cores; ignored when running serially).
    abort_factor : float or None, default 3.0
        A trial whose loss history exceeds this x its first loss, or holds NaN/inf, is recorded
        as ``"diverged"`` (``None``: only non-finite losses count).
    trial_timeout : float, optional
        Seconds a trial may run (from when a worker starts it) before it is stopped and recorded
        as ``"timeout"``; its worker process is replaced.  Runs trials in worker processes (one
        when ``n_jobs`` is 1); not with ``executor``.
    storage : str or os.PathLike, optional
        The search journal: an SQLite file (a path or an ``sqlite:///FILE`` URL) that gets
        every trial as it finishes.  Refused if it holds an earlier search, unless ``resume``.
    resume : bool, default False
        Continue the search in ``storage``: the same seed (``seed=None`` takes the journal's),
        finished trials are read back instead of run again, and the result holds the same
        trials as an uninterrupted search.  The space and settings must be the same.
    verbose : bool, default True
        Progress bar (tqdm, the ``progress`` extra) on a terminal; nothing otherwise.

    A worker process that dies (``n_jobs``) fails only its own trial and the pool is restarted;
    after ``CRASHES_IN_A_ROW`` such trials in a row the search raises :class:`SearchStopped`.
"""


def _with_run_parameters(fn):
    """Put the parameters every search shares into ``fn``'s docstring (a real string, so
    ``help()``, Sphinx and ``fn.__doc__`` all see it); None under ``python -OO``."""
    if fn.__doc__ is not None:
        fn.__doc__ = fn.__doc__.replace("{run_parameters}", _RUN_PARAMETERS.strip())
    return fn


def _make_jobs(params_list, seed, round_, start):
    return [
        _Job(start + i, round_, p, _trial_seed(seed, round_, start + i))
        for i, p in enumerate(params_list)
    ]


@_with_run_parameters
def grid_search(
    train_fn: Callable[..., Mapping[str, Any]],
    space: Mapping[str, Any],
    *,
    num: int | None = None,
    median_stop: bool = False,
    seed: int | None = None,
    n_jobs: int = 1,
    executor: Any = None,
    threads_per_trial: int = 1,
    abort_factor: float | None = 3.0,
    trial_timeout: float | None = None,
    storage: Any = None,
    resume: bool = False,
    verbose: bool = True,
) -> SearchResult:
    """Train every combination of the values in ``space``.

    Parameters
    ----------
    train_fn : callable
        ``train_fn(params) -> dict`` with at least ``val_acc`` (see the module docstring).
    space : dict
        Parameter name -> list of values (a grid axis), a distribution (needs ``num``), or a
        fixed value (anything else, tuples included).
    num : int, optional
        Points per range for distributions (log-spaced for :class:`loguniform`).
    seed : int, optional
        Seeds the trials (passed to ``train_fn`` when it takes ``seed``).
    {run_parameters}

    Returns
    -------
    SearchResult
    """
    space = _check_space(space)
    _check_params(train_fn, space)
    median_stop = _check_median_stop(train_fn, median_stop)
    definition = {"space": _describe(space), "num": num, "median_stop": median_stop}
    with contextlib.ExitStack() as stack:
        seed, runner = _start(
            stack,
            train_fn,
            ("grid search", seed, definition, storage, resume),
            (n_jobs, executor, threads_per_trial, abort_factor, verbose, trial_timeout),
        )
        jobs = _make_jobs(_grid(space, num), seed, 0, 0)
        trials, interrupted = runner.run(jobs, "grid search", median_stop=median_stop)
    result = SearchResult(trials, _searched(space), seed, len(jobs), interrupted, [space])
    return _finish(runner, result)


@_with_run_parameters
def random_search(
    train_fn: Callable[..., Mapping[str, Any]],
    space: Mapping[str, Any],
    n_trials: int,
    *,
    median_stop: bool = False,
    seed: int | None = None,
    n_jobs: int = 1,
    executor: Any = None,
    threads_per_trial: int = 1,
    abort_factor: float | None = 3.0,
    trial_timeout: float | None = None,
    storage: Any = None,
    resume: bool = False,
    verbose: bool = True,
) -> SearchResult:
    """Train ``n_trials`` configurations sampled from ``space``.

    Parameters
    ----------
    train_fn : callable
        ``train_fn(params) -> dict`` with at least ``val_acc`` (see the module docstring).
    space : dict
        Parameter name -> distribution (:class:`loguniform`, :class:`uniform`,
        :class:`choice`, :class:`randint`), list (sampled like ``choice``), or fixed value.
    n_trials : int
    seed : int, optional
        Same seed, same configurations and trial seeds, whatever ``n_jobs``/``executor``.
    {run_parameters}

    Returns
    -------
    SearchResult
    """
    space = _check_space(space)
    n_trials = _check_count(n_trials, "n_trials")
    _check_params(train_fn, space)
    median_stop = _check_median_stop(train_fn, median_stop)
    definition = {"space": _describe(space), "n_trials": n_trials, "median_stop": median_stop}
    with contextlib.ExitStack() as stack:
        seed, runner = _start(
            stack,
            train_fn,
            ("random search", seed, definition, storage, resume),
            (n_jobs, executor, threads_per_trial, abort_factor, verbose, trial_timeout),
        )
        rng = _sampling_rng(seed, 0)
        jobs = _make_jobs([_sample(space, rng) for _ in range(n_trials)], seed, 0, 0)
        trials, interrupted = runner.run(jobs, "random search", median_stop=median_stop)
    result = SearchResult(trials, _searched(space), seed, n_trials, interrupted, [space])
    return _finish(runner, result)


def _describe(space):
    """``space`` as JSON-ready text that tells two spaces apart (the journal compares them)."""
    described = {}
    for name, spec in space.items():
        if isinstance(spec, _Interval):
            described[name] = f"{type(spec).__name__}({spec.low!r}, {spec.high!r})"
        else:
            described[name] = repr(spec)
    return described


def _start(stack, train_fn, journal_options, run_options):
    """(the search's seed, its _Runner) once the journal is open; both close with ``stack``.
    journal_options: (kind, seed, definition, storage, resume); run_options: (n_jobs,
    executor, threads_per_trial, abort_factor, verbose, trial_timeout)."""
    kind, seed, definition, storage, resume = journal_options
    *runner_args, trial_timeout = run_options
    seed, done = _open_journal(stack, storage, resume, kind, seed, definition)
    runner = stack.enter_context(
        _Runner(train_fn, *runner_args, **done, trial_timeout=trial_timeout)
    )
    return seed, runner


def _open_journal(stack, storage, resume, kind, seed, definition):
    """(the search's seed, the Runner's journal arguments); the journal is closed with
    ``stack``.  Without ``storage`` there is no journal."""
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if storage is None:
        if resume:
            raise ValueError("resume=True needs storage=, the journal of the search to resume")
        return _check_seed(seed), {}
    seed = None if seed is None else _check_seed(seed)
    journal = stack.enter_context(Journal(storage))
    if seed is None and not (resume and journal.study() is not None):
        seed = _check_seed(None)
    seed = journal.start(kind, seed, definition, resume=resume)
    return seed, {"journal": journal, "done": journal.trials()}


def _finish(runner, result):
    """``result``, or SearchStopped holding it when the runner stopped after crashes."""
    if runner.crash_stop is not None:
        raise SearchStopped(runner.crash_stop, result)
    return result


def _check_params(train_fn, names):
    """Let a train_fn that knows its parameters (ModelTrainFn) reject a bad name up front."""
    check = getattr(train_fn, "check_params", None)
    if callable(check):
        check(list(names))


def _check_median_stop(train_fn, median_stop):
    if not isinstance(median_stop, (bool, np.bool_)):
        raise TypeError(f"median_stop must be True or False, got {median_stop!r}")
    if median_stop and not _accepts_keyword(train_fn, "on_epoch"):
        raise TypeError(
            "median_stop=True needs a train_fn that takes on_epoch= (see fastnn.search)"
        )
    return bool(median_stop)


def _check_count(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def _check_rounds(rounds, epochs_key):
    if isinstance(rounds, (Mapping, str)) or not hasattr(rounds, "__iter__"):
        raise TypeError("rounds must be a list of (n_trials, epochs) pairs or dicts")
    checked = []
    for r in rounds:
        if isinstance(r, Mapping):
            r = dict(r)
            if "n_trials" not in r:
                raise ValueError(f"round {r} has no 'n_trials'")
            n = _check_count(r.pop("n_trials"), "n_trials")
            fixed = r
        else:
            try:
                n, epochs = r
            except (TypeError, ValueError):
                raise TypeError(
                    f"a round must be (n_trials, epochs) or a dict, got {r!r}"
                ) from None
            n = _check_count(n, "n_trials")
            fixed = {epochs_key: _check_count(epochs, "epochs")}
        checked.append((n, fixed))
    if not checked:
        raise ValueError("rounds is empty")
    return checked


@_with_run_parameters
def coarse_to_fine(
    train_fn: Callable[..., Mapping[str, Any]],
    space: Mapping[str, Any],
    rounds: Sequence[Any] = ((20, 1), (10, 5)),
    *,
    top_k: int = 3,
    margin: float = 0.1,
    epochs_key: str = "num_epochs",
    median_stop: bool = False,
    seed: int | None = None,
    n_jobs: int = 1,
    executor: Any = None,
    threads_per_trial: int = 1,
    abort_factor: float | None = 3.0,
    edge_fraction: float = 0.1,
    trial_timeout: float | None = None,
    storage: Any = None,
    resume: bool = False,
    verbose: bool = True,
) -> SearchResult:
    """Random search in rounds, narrowing the ranges around the best trials each time.

    The notes' recipe: a few epochs over wide (log) ranges, then narrow each range to the span of
    the ``top_k`` best trials (padded by ``margin`` x the range's width, on the log scale for
    :class:`loguniform`, never beyond the previous range) and train longer.

    Parameters
    ----------
    train_fn, space
        As for :func:`random_search`.
    rounds : sequence
        One entry per round: ``(n_trials, epochs)`` (epochs passed as ``params[epochs_key]``) or
        a dict ``{"n_trials": n, **fixed_params}``.
    top_k : int, default 3
        Trials the next round's ranges are fitted around.
    margin : float, default 0.1
    edge_fraction : float, default 0.1
        Warn (:class:`RangeEdgeWarning`) when the best value of a parameter lies within this
        fraction of the width of an end of its original range: the optimum may lie outside.
    {run_parameters}

    Returns
    -------
    SearchResult
        All rounds' trials (``trial.round``); ``spaces`` holds each round's space.
    """
    space = _check_space(space)
    plan = _check_rounds(rounds, epochs_key)
    top_k = _check_count(top_k, "top_k")
    _check_params(train_fn, [*space, *(k for _, fixed in plan for k in fixed)])
    median_stop = _check_median_stop(train_fn, median_stop)
    n_planned = sum(n for n, _ in plan)
    searched = _searched(space)
    current, spaces = dict(space), []
    trials: list[Trial] = []
    interrupted = False
    definition = {
        "space": _describe(space),
        "rounds": [[n, _describe(fixed)] for n, fixed in plan],
        "top_k": top_k,
        "margin": margin,
        "median_stop": median_stop,
    }
    with contextlib.ExitStack() as stack:
        seed, runner = _start(
            stack,
            train_fn,
            ("coarse-to-fine", seed, definition, storage, resume),
            (n_jobs, executor, threads_per_trial, abort_factor, verbose, trial_timeout),
        )
        for round_, (n, fixed) in enumerate(plan):
            if round_ > 0:
                previous = [t for t in trials if t.round == round_ - 1]
                top = SearchResult(previous, searched).top(top_k)
                if not top:
                    warnings.warn(
                        f"coarse_to_fine: no trial of round {round_} finished without "
                        "diverging or failing; the next round keeps the same ranges",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                else:
                    current = _narrow(current, top, margin)
            round_space = {**current, **fixed}
            spaces.append(round_space)
            rng = _sampling_rng(seed, round_)
            jobs = _make_jobs(
                [_sample(round_space, rng) for _ in range(n)],
                seed,
                round_,
                sum(n_before for n_before, _ in plan[:round_]),
            )
            desc = f"round {round_ + 1} / {len(plan)}"
            finished, interrupted = runner.run(jobs, desc, median_stop=median_stop)
            trials += finished
            if interrupted:
                break
    result = _finish(runner, SearchResult(trials, searched, seed, n_planned, interrupted, spaces))
    if result.best is not None:
        for name, where, value in _edges(space, result.best.params, edge_fraction):
            warnings.warn(
                f"the best {name} ({_format_value(value)}) lies at the {where} edge of its range "
                f"{space[name]!r}: the optimum may be outside it; widen the range and search again",
                RangeEdgeWarning,
                stacklevel=2,
            )
    return result


def _narrow(space, top, margin):
    narrowed = {}
    for name, spec in space.items():
        values = [t.params[name] for t in top]
        if isinstance(spec, _Distribution):
            narrowed[name] = spec.narrow(values, margin)
        elif isinstance(spec, list):
            narrowed[name] = choice(spec).narrow(values, margin).options
        else:
            narrowed[name] = spec
    return narrowed


def _edges(space, params, fraction):
    for name, spec in space.items():
        if isinstance(spec, (_Interval, randint)) and name in params:
            where = spec.edge(params[name], fraction)
            if where:
                yield name, where, params[name]


_HALVING_PARAMETERS = """
    min_epochs : int, default 1
        Epochs of the first rung (at least; see :func:`rung_epochs`).
    max_epochs : int, default 9
        Epochs of the last rung: what the best trials train to.
    eta : int, default 3
        Keep the best ``1 / eta`` of a rung's trials; rungs grow by ``eta`` x.
    epochs_key : str, default "num_epochs"
        For a ``train_fn`` without an ``epochs`` keyword: the budget goes in
        ``params[epochs_key]`` and every promoted trial restarts.
    promotion : {"lazy", "eager"}, default "lazy"
        In parallel, when a trial may leave a rung that is still filling.  ``"lazy"``: new
        trials and promotions from complete rungs go first, and a trial is promoted early
        only when a worker would otherwise wait; the run trains about the trials and epochs
        of the serial one.  ``"eager"``: Li et al.'s ASHA, every promotion first (the best
        trials reach ``max_epochs`` sooner, and more epochs go to trials a complete rung
        would not have promoted).  Serially the rungs are synchronous either way.
    seed : int, optional
        Same seed, same configurations and trial seeds, serially or in parallel.
"""


def _with_halving_parameters(fn):
    if fn.__doc__ is not None:
        fn.__doc__ = fn.__doc__.replace("{halving_parameters}", _HALVING_PARAMETERS.strip())
    return _with_run_parameters(fn)


@_with_halving_parameters
def successive_halving(
    train_fn: Callable[..., Mapping[str, Any]],
    space: Mapping[str, Any],
    n_trials: int,
    *,
    min_epochs: int = 1,
    max_epochs: int = 9,
    eta: int = 3,
    epochs_key: str = "num_epochs",
    median_stop: bool = False,
    promotion: str = "lazy",
    seed: int | None = None,
    n_jobs: int = 1,
    executor: Any = None,
    threads_per_trial: int = 1,
    abort_factor: float | None = 3.0,
    verbose: bool = True,
    trial_timeout: float | None = None,
    storage: Any = None,
    resume: bool = False,
) -> SearchResult:
    """Successive halving: train ``n_trials`` sampled configurations a few epochs, continue
    the best ``1 / eta`` of them ``eta`` x longer, and so on up to ``max_epochs``.

    Serially the rungs are synchronous (Jamieson and Talwalkar 2016); with ``n_jobs > 1`` or an
    ``executor`` it is asynchronous (ASHA, Li et al. 2020): a trial in the top ``1 / eta`` of
    its rung so far may be promoted before the rung is complete, so no worker waits for a
    rung to fill (``promotion`` says when).  Each worker has one submission queued behind
    the one it runs, chosen from the results finished when its slot freed, so a worker never
    waits for this process to choose its next job.  Short jobs that no pending result could
    change (new trials, promotions from a complete rung) go out in batches of about 20 ms of
    measured training, one round trip each; a worker lost under a batch costs its jobs a
    rerun, one at a time, as for any lost job.

    The ``train_fn`` contract: ``train_fn(params, *, epochs, state=None, seed=None,
    on_epoch=None) -> dict``.  ``epochs`` is the total the trial has trained when the call
    returns; ``state`` is None for a new trial, or the ``"state"`` entry its previous call
    returned (the model, the optimizer's state, the epochs done), to continue from instead of
    starting again.  The result holds what :func:`random_search` reads, ``epochs`` (the total),
    the histories of this call's epochs only, and ``"state"``; ``on_epoch(epoch, stats) ->
    bool`` as in ``ClassifierTrainer.train``.  :func:`make_train_fn` builds such a function.
    A ``train_fn`` without ``state`` restarts a promoted trial (one warning); one that does
    not train the epochs asked for gets a warning.

    Parameters
    ----------
    train_fn, space
        As for :func:`random_search`, with the contract above.
    n_trials : int
        Configurations started at the first rung.
    {halving_parameters}
    {run_parameters}

    Returns
    -------
    SearchResult
        One trial per configuration: histories over all its rungs, ``val_acc`` its best,
        ``rung`` the last rung reached, ``stopped``, ``epochs`` the epochs it ran.
    """
    n_trials = _check_count(n_trials, "n_trials")
    return _halving(
        train_fn,
        space,
        [(n_trials, 0)],
        (min_epochs, max_epochs, eta),
        (seed, epochs_key, median_stop, promotion),
        (n_jobs, executor, threads_per_trial, abort_factor, verbose),
        ("successive halving", storage, resume, trial_timeout),
    )


@_with_halving_parameters
def hyperband(
    train_fn: Callable[..., Mapping[str, Any]],
    space: Mapping[str, Any],
    *,
    min_epochs: int = 1,
    max_epochs: int = 9,
    eta: int = 3,
    epochs_key: str = "num_epochs",
    median_stop: bool = False,
    promotion: str = "lazy",
    seed: int | None = None,
    n_jobs: int = 1,
    executor: Any = None,
    threads_per_trial: int = 1,
    abort_factor: float | None = 3.0,
    verbose: bool = True,
    trial_timeout: float | None = None,
    storage: Any = None,
    resume: bool = False,
) -> SearchResult:
    """Hyperband (Li et al. 2017): successive halving in brackets from aggressive (many trials
    from ``min_epochs``) to none (a few trials trained ``max_epochs``), see
    :func:`hyperband_brackets`; asynchronous (ASHA, see ``promotion``) with ``n_jobs > 1`` or
    an ``executor``.

    Parameters
    ----------
    train_fn, space
        As for :func:`successive_halving` (the same ``train_fn`` contract).
    {halving_parameters}
    {run_parameters}

    Returns
    -------
    SearchResult
        As for :func:`successive_halving`; ``trial.round`` is the bracket.
    """
    return _halving(
        train_fn,
        space,
        hyperband_brackets(*check_halving(min_epochs, max_epochs, eta)),
        (min_epochs, max_epochs, eta),
        (seed, epochs_key, median_stop, promotion),
        (n_jobs, executor, threads_per_trial, abort_factor, verbose),
        ("hyperband", storage, resume, trial_timeout),
    )


def _halving(train_fn, space, brackets, ladder, search_options, run_options, journal_options):
    """Check the settings, then run ``brackets`` over the rungs of ``ladder`` (min_epochs,
    max_epochs, eta); the options are (seed, epochs_key, median_stop, promotion), _Runner's, and
    (kind, storage, resume, trial_timeout).  The journal holds one row per rung a trial ran;
    on resume the recorded rungs are replayed into the scheduler (their states are not
    journaled: a trial promoted past a replayed rung trains again from its first epoch)."""
    min_epochs, max_epochs, eta = check_halving(*ladder)
    rungs = rung_epochs(min_epochs, max_epochs, eta)
    space = _check_space(space)
    seed, epochs_key, median_stop, promotion = search_options
    check_promotion(promotion)
    kind, storage, resume, trial_timeout = journal_options
    _check_params(train_fn, space)
    median_stop = _check_median_stop(train_fn, median_stop)
    n_jobs, executor = run_options[:2]
    # asynchronous when trials run side by side; a resume must keep it (the journal checks)
    asynchronous = executor is not None or check_thread_count(n_jobs, "n_jobs") > 1
    definition = {
        "space": _describe(space),
        "brackets": [list(b) for b in brackets],
        "rungs": rungs,
        "eta": eta,
        "epochs_key": epochs_key,
        "median_stop": median_stop,
        "schedule": schedule_name(asynchronous, promotion),
    }
    with contextlib.ExitStack() as stack:
        seed, runner = _start(
            stack,
            train_fn,
            (kind, seed, definition, storage, resume),
            (*run_options, trial_timeout),
        )
        ladder = (rungs, eta, asynchronous, promotion)
        result = run_halving(runner, space, brackets, ladder, seed, epochs_key, median_stop)
    return _finish(runner, result)
