"""Running trials: serially, in loky worker processes (n_jobs), or on any executor."""

import concurrent.futures as cf
import contextlib
import inspect
import itertools
import math
import os
import pickle
import tempfile
import time
import traceback as _traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fastnn._config.backend import backend as use_backend_here
from fastnn._config.backend import get_backend
from fastnn._config.threads import check_thread_count, num_threads, set_num_threads
from fastnn.workflow.progress import PROGRESS_MISSING, terminal_tqdm
from fastnn.workflow.search._result import Trial, _fill_outcome

# Read by OpenMP and the BLAS libraries NumPy may be linked against when they start.
_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass
class _Job:
    index: int
    round: int
    params: dict
    seed: int
    call_kwargs: dict = field(default_factory=dict)  # more keywords for train_fn (epochs, ...)


def _trial_seed(seed, round_, index):
    ss = np.random.SeedSequence(seed, spawn_key=(round_, 1, index))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _sampling_rng(seed, round_):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(round_, 0)))


def _check_seed(seed):
    if seed is None:
        return int(cast(int, np.random.SeedSequence().entropy))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _accepts_seed(fn):
    return _accepts_keyword(fn, "seed")


def _accepts_keyword(fn, name):
    """True when ``fn`` can be called with the keyword argument ``name``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return True
        if p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            return True
    return False


@contextlib.contextmanager
def _pinned(threads, backend, blas_threads):
    """fastnn at ``threads`` with ``backend`` for this thread, BLAS (when threadpoolctl is
    there) at ``blas_threads`` for the whole process; ``None`` leaves each as it is."""
    with contextlib.ExitStack() as stack:
        if backend is not None:
            stack.enter_context(use_backend_here(backend))
        if threads is not None:
            stack.enter_context(num_threads(threads))
        limits = _threadpool_limits()
        if blas_threads is not None and limits is not None:
            stack.enter_context(limits(limits=blas_threads))
        yield


def _threadpool_limits():
    """threadpoolctl's ``threadpool_limits`` (an optional dependency), or None."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits


def _run_trial(
    train_fn, job, pass_seed, abort_factor, threads=None, backend="cython", blas_threads=None
):
    """Train one configuration; never raises except for infrastructure problems.

    Returns a Trial, or None when the trial was interrupted (KeyboardInterrupt).
    """
    trial = Trial(index=job.index, round=job.round, params=dict(job.params), seed=job.seed)
    start = time.perf_counter()
    try:
        with _pinned(threads, backend, blas_threads):
            if pass_seed:
                result = train_fn(dict(job.params), seed=job.seed, **job.call_kwargs)
            else:
                result = train_fn(dict(job.params), **job.call_kwargs)
            _fill_outcome(trial, result, abort_factor)
    except KeyboardInterrupt:
        return None
    except Exception as exc:
        trial.status = "failed"
        trial.error = f"{type(exc).__name__}: {exc}"
        trial.traceback = _traceback.format_exc()
    trial.seconds = time.perf_counter() - start
    return trial


# In a worker process: the train_fn of the current run, loaded once from its file.  It stays
# until the next run replaces it or the worker exits (an idle loky worker does after 10 s).
_worker_train_fn: dict[str, Any] = {}


def _load_train_fn(path):
    fn = _worker_train_fn.get(path)
    if fn is None:
        with open(path, "rb") as f:
            fn = pickle.load(f)
        _worker_train_fn.clear()  # one run at a time: do not keep an old run's data alive
        _worker_train_fn[path] = fn
    return fn


def _run_trial_from_file(
    path, job, pass_seed, abort_factor, threads=None, backend="cython", blas_threads=None
):
    """_run_trial with the train_fn a worker loads from ``path`` on its first trial of a run."""
    return _run_trial(
        _load_train_fn(path), job, pass_seed, abort_factor, threads, backend, blas_threads
    )


def _init_worker(threads):
    """loky worker start-up: the environment already limits OpenMP/BLAS; pin fastnn too."""
    set_num_threads(threads)
    limits = _threadpool_limits()
    if limits is not None:
        limits(limits=threads)


def require_loky(
    what: str = "n_jobs > 1",
    alternative: str = " (or pass executor=)",
) -> Callable[..., Any]:
    """loky's ``get_reusable_executor``, or ImportError naming the extra to install."""
    try:
        from joblib.externals.loky import get_reusable_executor
    except ImportError:
        raise ImportError(
            f"{what} runs trials in worker processes with joblib's loky: install it with "
            f'pip install "fastnn[parallel]"{alternative}'
        ) from None
    return get_reusable_executor


def _process_executor(n_jobs, threads):
    get_reusable_executor = require_loky()
    env = {name: str(threads) for name in _THREAD_ENV_VARS}
    return get_reusable_executor(
        max_workers=n_jobs, env=env, initializer=_init_worker, initargs=(threads,)
    )


def _in_process(executor):
    """True for executors whose trials share this process (and its thread settings)."""
    return isinstance(executor, cf.ThreadPoolExecutor)


def _shared(executor, own, train_fn, payload, stack):
    """(task function, its first argument) so that train_fn and the data it holds reach each
    worker once per search (all rounds) instead of being pickled with every trial.

    A Dask client broadcasts it; worker processes on this machine (our loky pool, a
    ProcessPoolExecutor) load it from a file written once and removed when ``stack`` closes
    (a worker keeps what it loaded while the path stays the same); other executors get it
    with each task.  ``payload``: train_fn already pickled (or None).
    """
    if type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "scatter"):
        return _run_trial, executor.scatter(train_fn, broadcast=True, hash=False)
    if not (own or isinstance(executor, cf.ProcessPoolExecutor)):
        return _run_trial, train_fn
    # the path is the workers' cache key: the uuid keeps it from ever naming another search
    fd, path = tempfile.mkstemp(prefix=f"fastnn-train-fn-{uuid.uuid4().hex}-", suffix=".pkl")
    stack.callback(os.unlink, path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload if payload is not None else _dumps(train_fn))
    except OSError:  # no room in the temporary folder: send it with each trial, as before
        return _run_trial, train_fn
    return _run_trial_from_file, path


def _dumps(train_fn):
    try:
        from joblib.externals import cloudpickle as pickler  # what loky and Dask use
    except ImportError:
        try:
            import cloudpickle as pickler
        except ImportError:
            pickler = pickle
    try:
        return pickler.dumps(train_fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise TypeError(
            "train_fn must be picklable to run in worker processes (define it at module level "
            f"or use make_train_fn): {type(exc).__name__}: {exc}"
        ) from None


def _as_completed(futures):
    """Yield futures as they finish; works for concurrent.futures and Dask futures alike."""
    if all(isinstance(f, cf.Future) for f in futures):
        yield from cf.as_completed(futures)
        return
    pending = list(futures)
    delay = 0.001
    while pending:
        still = []
        for f in pending:
            if f.done():
                delay = 0.001
                yield f
            else:
                still.append(f)
        pending = still
        if pending:
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


class _Progress:
    """tqdm bar over trials showing the best accuracy so far (only on a terminal)."""

    def __init__(self, total, verbose, desc):
        self.bar = None
        self.best = -math.inf
        if not verbose:
            return
        try:
            tqdm = terminal_tqdm(required=True)
        except ImportError:
            raise ImportError(f"{PROGRESS_MISSING}, or pass verbose=False") from None
        if tqdm is None:
            return
        self.bar = tqdm(total=total, desc=desc, unit="trial", leave=True)

    def update(self, trial):
        if self.bar is None:
            return
        if trial.status == "ok" and trial.val_acc > self.best:
            self.best = trial.val_acc
        if self.best > -math.inf:
            self.bar.set_postfix_str(f"best val_acc {self.best:.4f}", refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_n_jobs(n_jobs, executor):
    n_jobs = check_thread_count(n_jobs, "n_jobs")
    if executor is not None:
        if n_jobs != 1:
            raise ValueError("give either n_jobs or executor, not both")
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(
                f"executor must have a submit(fn, *args) method, got {type(executor).__name__}"
            )
    return int(n_jobs)


class _Runner:
    """Runs lists of jobs serially, in loky processes, or on a user executor.

    A context manager: train_fn is shipped to the workers once, on the first parallel
    :meth:`run`, and what holds it (a temporary file) goes away on exit.
    """

    def __init__(self, train_fn, n_jobs, executor, threads_per_trial, abort_factor, verbose):
        if not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        self.train_fn = train_fn
        self.n_jobs = _check_n_jobs(n_jobs, executor)
        self.executor = executor
        self.threads = check_thread_count(threads_per_trial, "threads_per_trial")
        self.abort_factor = abort_factor
        self.verbose = verbose
        self.pass_seed = _accepts_seed(train_fn)
        self.backend = get_backend()
        self.parallel = executor is not None or self.n_jobs > 1
        self._payload = None
        if self.parallel and not _in_process(executor):
            self._payload = _dumps(train_fn)  # fails now with a clear message, not per trial
        self._stack = contextlib.ExitStack()
        self._shipped = None  # (task, its first argument) once train_fn reached the workers

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._shipped = None
        self._stack.close()

    def run(self, jobs, desc="search"):
        """Returns (finished trials, interrupted)."""
        progress = _Progress(len(jobs), self.verbose, desc)
        try:
            if not self.parallel:
                return self._serial(jobs, progress)
            return self._parallel(jobs, progress)
        finally:
            progress.close()

    def _serial(self, jobs, progress):
        trials: list[Trial] = []
        for job in jobs:
            try:
                trial = _run_trial(
                    self.train_fn, job, self.pass_seed, self.abort_factor, None, self.backend
                )
            except KeyboardInterrupt:  # between trials
                trial = None
            if trial is None:
                return trials, True
            trials.append(trial)
            progress.update(trial)
        return trials, False

    def _parallel(self, jobs, progress):
        executor, own, task, fn, settings, pin = self.pool()
        with pin:
            return self._collect(executor, own, task, fn, settings, jobs, progress)

    def pool(self):
        """(executor, own, task, fn, settings, pin) of a parallel run: submit a job with
        ``executor.submit(task, fn, job, self.pass_seed, self.abort_factor, *settings)`` inside
        the context manager ``pin``; ``own``: the executor is our loky pool."""
        own = self.executor is None
        pin: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if own:
            executor = _process_executor(self.n_jobs, self.threads)
            # the worker start-up pinned fastnn's and BLAS's threads
            settings = (None, self.backend, None)
        elif _in_process(self.executor):
            # fastnn's settings are per thread; BLAS's are process-wide, so overlapping
            # trials would restore them out of order: pin BLAS once here
            executor, settings = self.executor, (self.threads, self.backend, None)
            pin = _pinned(None, None, self.threads)
        else:
            executor, settings = self.executor, (self.threads, self.backend, self.threads)
        # Every round runs on the same kind of executor (our loky pool, even if it had to be
        # restarted, or the user's): what reached the workers once serves every round.
        if self._shipped is None:
            self._shipped = _shared(executor, own, self.train_fn, self._payload, self._stack)
            self._payload = None  # in the file now (or never needed): do not hold it twice
        task, fn = self._shipped
        return executor, own, task, fn, settings, pin

    def _collect(self, executor, own, task, fn, settings, jobs, progress):
        trials, in_flight, interrupted = [], {}, False
        todo = iter(jobs)

        def submit(count):
            for job in itertools.islice(todo, count):
                try:
                    future = executor.submit(
                        task, fn, job, self.pass_seed, self.abort_factor, *settings
                    )
                except Exception as exc:  # the pool broke (a worker died): no trial can run
                    for lost in itertools.chain([job], todo):
                        trials.append(_failed(lost, exc))
                        progress.update(trials[-1])
                    return
                in_flight[future] = job

        try:
            # Our pool gets no more trials than loky's call queue holds (one per worker +
            # one), so that every trial submitted is soon dispatched (see _kill); measured
            # as fast as submitting all at once.  Other executors (Dask) get every trial.
            submit(self.n_jobs + 1 if own else len(jobs))
            while in_flight:
                for future in _as_completed(list(in_flight)):
                    job = in_flight.pop(future)
                    trial = _outcome(future, job)
                    if trial is None:
                        interrupted = True
                        return trials, interrupted
                    trials.append(trial)
                    progress.update(trial)
                    submit(1)
                    if own:
                        break  # wait again, now including the trial just submitted
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if interrupted and own:
                _kill(executor, in_flight)
            elif interrupted:
                for f in in_flight:
                    if not f.done():
                        f.cancel()
        return trials, interrupted


def _kill(executor, futures, timeout=1.0):
    """Stop our loky pool's running trials instead of letting them finish unseen.

    loky's kill_workers shutdown drops its pending work items but not their ids in its
    work-id queue, and its manager thread then raises KeyError on them; cancelling the
    futures first makes it raise InvalidStateError instead.  So wait (briefly) until loky has
    dispatched every submitted trial (a dispatched future is running or done), then kill.
    """
    deadline = time.monotonic() + timeout
    try:
        while any(not (f.running() or f.done()) for f in futures) and time.monotonic() < deadline:
            time.sleep(0.001)
    finally:  # a second Ctrl-C during the wait still stops the workers
        executor.shutdown(wait=False, kill_workers=True)


def _outcome(future, job):
    """The Trial a finished future holds (None: interrupted), or a failed one."""
    try:
        return future.result()
    except Exception as exc:  # the worker died, or the result could not travel back
        return _failed(job, exc)


def _failed(job, exc):
    return Trial(
        index=job.index,
        round=job.round,
        params=dict(job.params),
        seed=job.seed,
        status="failed",
        error=f"{type(exc).__name__}: {exc}",
    )
