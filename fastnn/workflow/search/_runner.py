"""Running trials: serially, in loky worker processes (n_jobs), or on any executor.

Our own pool (``n_jobs > 1``) without ``trial_timeout`` talks to its workers over one
connection each (:mod:`._transport`); with ``trial_timeout`` every trial is a loky task of its
own (its start marks the trial's clock, and a late one's pool is replaced)."""

import atexit
import collections
import concurrent.futures as cf
import contextlib
import inspect
import math
import os
import pickle
import re
import sys
import threading
import time
import traceback as _traceback
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fastnn._config.backend import backend as use_backend_here
from fastnn._config.backend import get_backend
from fastnn._config.threads import check_thread_count, num_threads, set_num_threads
from fastnn.workflow.progress import PROGRESS_MISSING, terminal_tqdm
from fastnn.workflow.search import _transport
from fastnn.workflow.search._result import Trial, _fill_outcome
from fastnn.workflow.search._scratch import scratch_dir, scratch_file
from fastnn.workflow.search._transport import _cloudpickle
from fastnn.workflow.search.journal import trial_key
from fastnn.workflow.search.median import MedianStop, median_rule

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
    rung: int | None = None  # successive halving: the rung this job trains to


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
        if blas_threads is not None:
            controller = _blas_controller()
            if controller is not None:
                stack.enter_context(controller.limit(limits=blas_threads))
        yield


# threadpoolctl's view of this process's thread pools, kept while no module was imported
# since it was made: finding the pools scans every loaded library (about 0.5 ms, paid per
# trial on an executor's workers before), while limiting known ones takes microseconds.  A
# library that brings its own BLAS (torch, say) arrives with an import, which renews it.
_controller: tuple[int, Any] | None = None


def _blas_controller():
    """A ``threadpoolctl.ThreadpoolController`` for the pools loaded now, or None without
    threadpoolctl."""
    global _controller
    if _controller is None or _controller[0] != len(sys.modules):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _controller = (len(sys.modules), ThreadpoolController())
    return _controller[1]


def _run_trial(
    train_fn,
    job,
    pass_seed,
    abort_factor,
    threads=None,
    backend="cython",
    blas_threads=None,
    started_marker=None,
):
    """Train one configuration; never raises except for infrastructure problems.

    Returns a Trial, or None when the trial was interrupted (KeyboardInterrupt).
    ``started_marker``: a file to create as the trial starts (the parent's timeout clock).
    """
    if started_marker is not None:
        open(started_marker, "wb").close()
    trial = Trial(index=job.index, round=job.round, params=dict(job.params), seed=job.seed)
    trial.rung = job.rung
    start = time.perf_counter()
    try:
        kwargs = job.call_kwargs
        if isinstance(kwargs.get("state"), PackedState):
            kwargs = {**kwargs, "state": kwargs["state"].unpack()}
        with _pinned(threads, backend, blas_threads):
            if pass_seed:
                result = train_fn(dict(job.params), seed=job.seed, **kwargs)
            else:
                result = train_fn(dict(job.params), **kwargs)
            continued = kwargs.get("state") is not None
            _fill_outcome(trial, result, abort_factor, continued)
        rule = job.call_kwargs.get("on_epoch")
        if isinstance(rule, MedianStop) and trial.status == "ok":
            trial.stopped = rule.stopped(trial.epochs, trial.val_acc_history)
    except KeyboardInterrupt:
        return None
    except (Exception, SystemExit) as exc:  # sys.exit() in train_fn fails its trial only
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


def _run_jobs(task, fn, jobs, *args):
    """One submission: ``task(fn, job, *args)`` (_run_trial or _run_trial_from_file) for each
    of ``jobs`` in turn; their trials, ending at the first one interrupted (None)."""
    trials = []
    for job in jobs:
        trial = task(fn, job, *args)
        trials.append(trial)
        if trial is None:
            break
    return trials


def _run_trial_from_file(path, job, *args):
    """_run_trial with the train_fn a worker loads from ``path`` on its first trial of a run.
    A halving job's state (which the search process only keeps and forwards) travels back
    packed (:class:`PackedState`)."""
    trial = _run_trial(_load_train_fn(path), job, *args)
    if trial is not None and job.rung is not None and trial.extra.get("state") is not None:
        try:
            trial.extra["state"] = PackedState.pack(trial.extra["state"])
        except Exception:  # not picklable at all: sending the result fails as it did unpacked
            pass
    return trial


class PackedState(bytes):
    """A resumable trial's ``state`` pickled once, in the worker process that returned it.

    The search process keeps it and sends it back with the trial's next job without
    unpickling it (pickling a model's arrays twice per job through loky's cloudpickle was most
    of that process's CPU per job); :func:`_run_trial` unpacks it before calling train_fn.
    """

    __slots__ = ()

    @classmethod
    def pack(cls, state):
        return cls(_transport.dumps(state))

    def unpack(self):
        return pickle.loads(self)


# How often a worker checks that the search process that started it is still there (seconds).
_PARENT_POLL_SECONDS = 0.5


def _init_worker(threads, parent_pid=None):
    """loky worker start-up: the environment already limits OpenMP/BLAS; pin fastnn too.

    With ``parent_pid`` the worker exits as soon as that process is gone (killed by SIGKILL,
    say), instead of finishing its trial unseen while holding the parent's pipes open."""
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent_pid,), daemon=True, name="fastnn-parent"
        ).start()
    set_num_threads(threads)
    controller = _blas_controller()
    if controller is not None:
        controller.limit(limits=threads)
    _widen_pipes()


# Bytes a pipe between the search process and a worker holds (Linux: F_SETPIPE_SZ, up to
# /proc/sys/fs/pipe-max-size, 1 MB by default; else 64 kB).  A job or a result carrying a
# trial's state (64 kB on the digits) then goes through in one write, instead of the writer
# waiting, a pipe-full at a time, for the reader to be scheduled: a worker sending its
# result cannot start its next job until then.
PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031  # linux/fcntl.h; Python's fcntl names it from 3.10, on Linux


def _widen_pipes():
    """Best effort, in a worker process: each pipe it holds (loky's queues to the search
    process, which are all the pipes a fresh worker has) takes :data:`PIPE_BYTES`; where the
    system refuses (not Linux, a user over its pipe quota) it keeps its size."""
    import fcntl
    import stat

    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: not Linux
        return
    for fd in fds:
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", _F_SETPIPE_SZ), PIPE_BYTES)
        except OSError:
            pass


def _exit_with_parent(parent_pid):
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_POLL_SECONDS)
    os._exit(1)


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


# Idle worker processes exit after this long; a search started meanwhile reuses them.
IDLE_WORKER_SECONDS = 60.0
_live_pools: "weakref.WeakSet[Any]" = weakref.WeakSet()


# glibc's malloc in a worker process (read when the process starts; other C libraries ignore
# them): allocations up to 32 MB from the heap, freed memory kept up to 64 MB.  These are the
# limits glibc's own dynamic thresholds reach in a process that has freed one large block
# (a search process that loaded its data); a fresh worker that only unpickled its train_fn
# starts at 128 kB instead, and then maps and unmaps every activation array of a training
# step: 790 page faults per 3-epoch digits call, 15-20 % of its time (docs/perf/search.md).
_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def _worker_env(threads):
    """The environment our worker processes start with: threads pinned, malloc tuned (unless
    this process's environment sets malloc's variables itself)."""
    env = {name: str(threads) for name in _THREAD_ENV_VARS}
    if not any(name in os.environ for name in _MALLOC_ENV):
        env.update(_MALLOC_ENV)
    return env


def _process_executor(n_jobs, threads):
    """loky's reusable pool: the workers of the last search if its settings were the same."""
    get_reusable_executor = require_loky()
    env = _worker_env(threads)
    pool = get_reusable_executor(
        max_workers=n_jobs,
        timeout=IDLE_WORKER_SECONDS,
        env=env,
        initializer=_init_worker,
        initargs=(threads, os.getpid()),
    )
    if not _live_pools:
        atexit.register(_kill_live_pools)
    _live_pools.add(pool)
    return pool


def _kill_live_pools():
    """At interpreter exit: idle workers must not hold this process's pipes open."""
    for pool in list(_live_pools):
        with contextlib.suppress(Exception):
            pool.shutdown(wait=True, kill_workers=True)
    _live_pools.clear()


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
    try:
        f, path = scratch_file(stack, "train-fn-", suffix=".pkl")
        with f:
            f.write(payload if payload is not None else _dumps(train_fn))
    except OSError:  # no room in the temporary folder: send it with each trial, as before
        return _run_trial, train_fn
    return _run_trial_from_file, path


def _dumps(train_fn):
    try:
        return _cloudpickle().dumps(train_fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise TypeError(
            "train_fn must be picklable to run in worker processes (define it at module level "
            f"or use make_train_fn): {type(exc).__name__}: {exc}"
        ) from None


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


def _check_abort_factor(abort_factor):
    if abort_factor is None:
        return None
    if isinstance(abort_factor, bool) or not isinstance(abort_factor, (int, float, np.number)):
        raise TypeError(f"abort_factor must be a number > 1 or None, got {abort_factor!r}")
    if not (math.isfinite(abort_factor) and abort_factor > 1):
        # at or below 1 every loss above the first would count as diverging
        raise ValueError(f"abort_factor must be a finite number > 1 or None, got {abort_factor}")
    return float(abort_factor)


def _check_trial_timeout(trial_timeout, executor):
    if trial_timeout is None:
        return None
    if isinstance(trial_timeout, bool) or not isinstance(trial_timeout, (int, float, np.number)):
        raise TypeError(f"trial_timeout must be a number of seconds or None, got {trial_timeout!r}")
    if not (math.isfinite(trial_timeout) and trial_timeout > 0):
        raise ValueError(f"trial_timeout must be a positive number of seconds, got {trial_timeout}")
    if executor is not None:
        raise ValueError(
            "trial_timeout needs fastnn's own worker processes (n_jobs), whose hung worker it "
            "can replace; an executor's workers cannot be stopped from here"
        )
    return float(trial_timeout)


# Jobs submitted per worker in a parallel run: the one it runs and the one it starts next.
QUEUED_PER_WORKER = 2
# The search stops when this many trials in a row lost their worker process.
CRASHES_IN_A_ROW = 3
# How often a run with trial_timeout checks the running trials' clocks (seconds).
_TIMEOUT_POLL_SECONDS = 0.05


class _Runner:
    """Runs jobs serially, in our loky processes, or on a user executor; journals every trial.

    A context manager: train_fn is shipped to the workers once, on the first parallel job,
    and what holds it (a temporary file) and our worker processes go away on exit.

    Two ways to use it: :meth:`run` (a list of jobs, with a progress bar), or :meth:`submit`
    jobs and iterate :meth:`finished`, which yields each trial as it finishes, already in the
    journal (a strategy may submit more jobs from inside that loop).  Jobs the journal holds
    (``done``) are not run again: their recorded trial comes back at once.

    With our own pool (``n_jobs > 1`` or ``trial_timeout``) a worker that dies fails only its
    own trial (the trials it shared the pool with are run again, one at a time, until the one
    that kills its worker is found), the pool is replaced, and after :data:`CRASHES_IN_A_ROW`
    such trials in a row ``crash_stop`` holds the reason and the run stops.  A trial running
    longer than ``trial_timeout`` seconds (counted from when its worker starts it) gets
    status ``"timeout"`` and the pool is replaced; the other trials in flight run again.
    """

    def __init__(
        self,
        train_fn,
        n_jobs,
        executor,
        threads_per_trial,
        abort_factor,
        verbose,
        *,
        journal=None,
        done=None,
        trial_timeout=None,
    ):
        if not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        self.train_fn = train_fn
        self.n_jobs = _check_n_jobs(n_jobs, executor)
        self.executor = executor
        self.threads = check_thread_count(threads_per_trial, "threads_per_trial")
        self.abort_factor = _check_abort_factor(abort_factor)
        self.trial_timeout = _check_trial_timeout(trial_timeout, executor)
        self.verbose = verbose
        self.pass_seed = _accepts_seed(train_fn)
        self.backend = get_backend()
        self.own_pool = executor is None and (self.n_jobs > 1 or self.trial_timeout is not None)
        self.parallel = executor is not None or self.own_pool
        # our pool without trial_timeout: jobs go over one connection per worker
        # (_transport); with it, each trial is its own loky task, whose clock starts with it
        self.lean = self.own_pool and self.trial_timeout is None
        self.journal = journal
        self.done = dict(done or {})
        self.interrupted = False
        self.crash_stop: str | None = None
        self._payload = None
        if self.parallel and not _in_process(executor):
            self._payload = _dumps(train_fn)  # fails now with a clear message, not per trial
        self._stack = contextlib.ExitStack()
        self._shipped = None  # (task, its first argument) once train_fn reached the workers
        self._pool = None  # our loky executor while it lives
        self._workers: _transport.Workers | None = None  # its connected workers (lean)
        self._spill_dir: str | None = None
        # submissions (tuples of jobs, usually one) not yet submitted
        self._queue: collections.deque = collections.deque()
        self._suspects: collections.deque = collections.deque()  # (job,): run alone after a crash
        self._ready: collections.deque = collections.deque()  # trials to hand out next
        self._in_flight: dict[Any, tuple[_Job, ...]] = {}
        self._started: dict[Any, float] = {}  # future -> when its trial was seen starting
        self._markers: dict[Any, str] = {}  # future -> the file its trial creates as it starts
        self._marker_dir: str | None = None
        self._crashes = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc_info):
        self._shipped = None
        try:
            # a clean finish leaves our idle workers to the next search (they exit after
            # IDLE_WORKER_SECONDS or with this process); anything else stops them now
            broken = self.interrupted or self.crash_stop is not None or exc_type is not None
            busy = self._workers is not None and self._workers.busy()
            if broken or busy or self._in_flight or self._queue or self._suspects:
                self._stop(wait=True)
            elif self._workers is not None:  # idle: they go back to loky's pool
                workers, self._workers = self._workers, None
                workers.close()
        finally:
            self._stack.close()

    # ---- the two ways in

    def run(self, jobs, desc="search", *, median_stop=False):
        """Run ``jobs``; returns (finished trials, interrupted).  ``interrupted`` is also true
        when the run stopped after repeated worker crashes (``crash_stop``).

        With ``median_stop`` every job gets the median-stopping rule as its ``on_epoch``,
        built from this run's trials finished when the job is submitted; jobs are then
        submitted only as :meth:`slots` free up, so that each sees every result so far.
        """
        progress = _Progress(len(jobs), self.verbose, desc)
        trials: list[Trial] = []
        pending = collections.deque(jobs)
        slots = self.slots() if median_stop else len(pending)
        running = 0

        def top_up():
            nonlocal running
            while pending and running < slots:
                job = pending.popleft()
                if median_stop:
                    job.call_kwargs["on_epoch"] = median_rule(t.val_acc_history for t in trials)
                self.submit(job)
                running += 1

        try:
            top_up()
            for trial in self.finished():
                trials.append(trial)
                running -= 1
                progress.update(trial)
                top_up()
        except KeyboardInterrupt:  # while the caller's loop body ran
            self.interrupted = True
            self._stop()
        finally:
            progress.close()
        return trials, self.interrupted or self.crash_stop is not None

    def slots(self):
        """Jobs worth having submitted at once: one serially; in parallel two per worker (our
        pool's or a user's executor's), one running and one queued behind it, so that a
        worker that finishes starts its next job at once instead of waiting for this
        process to hear of it and choose one."""
        return QUEUED_PER_WORKER * self.workers() if self.parallel else 1

    def workers(self):
        """Jobs that run at once: our pool's workers, a user's executor's, or one serially."""
        if not self.parallel:
            return 1
        return self.n_jobs if self.own_pool else _executor_slots(self.executor)

    def submit(self, *jobs):
        """Queue ``jobs`` as one submission: one worker runs them in turn and returns their
        trials together (a batch of short jobs pays one round trip through this process).
        A job the journal holds comes back from :meth:`finished` as it was.  Serially, and
        with ``trial_timeout`` (each trial has its own clock), every job is its own
        submission; a batch lost with its worker is rerun job by job, like any lost job."""
        todo = []
        for job in jobs:
            recorded = self.done.get(trial_key(job.round, job.index, job.rung))
            if recorded is not None:
                self._ready.append(recorded)
            else:
                todo.append(job)
        if self.trial_timeout is not None or not self.parallel:
            self._queue.extend((job,) for job in todo)
        elif todo:
            self._queue.append(tuple(todo))

    def finished(self):
        """Yield the submitted jobs' trials as they finish (each already in the journal).

        Ends when nothing is queued or running, on Ctrl-C (``interrupted`` set, workers
        stopped) or after repeated crashes (``crash_stop`` set).
        """
        try:
            with self._pin():
                while True:
                    while self._ready:
                        yield self._ready.popleft()
                    busy = self._workers is not None and self._workers.busy()
                    if not (self._queue or self._suspects or self._in_flight or busy):
                        return
                    for trial in self._step():
                        if self.journal is not None:
                            self.journal.record(trial)
                        yield trial
                    if self.crash_stop is not None:
                        self._stop()
                        return
        except KeyboardInterrupt:
            self.interrupted = True
            self._stop()

    # ---- one step: run or wait for at least one trial

    def _step(self):
        if not self.parallel:
            (job,) = self._queue.popleft()
            trial = _run_trial(
                self.train_fn,
                job,
                self.pass_seed,
                self.abort_factor,
                None,
                self.backend,
            )
            if trial is None:
                raise KeyboardInterrupt
            return [trial]
        if self.lean:
            return self._step_lean()
        finished = self._fill()
        if finished:  # a submission failed
            return finished
        done = _wait_any(list(self._in_flight), self._wait_timeout())
        finished, broken = [], []
        for future in done:
            jobs = self._in_flight.pop(future)
            self._forget(future)
            trials, exc = _outcome(future, jobs, self.own_pool)
            if exc is not None:
                broken.append((jobs, exc))
            elif None in trials:
                raise KeyboardInterrupt  # the trial was interrupted in its worker
            else:
                finished += trials
        if finished:
            self._crashes = 0
        if broken:
            finished += self._after_crash(broken)
        elif self.trial_timeout is not None:
            finished += self._expire()
        return finished

    def _fill(self):
        """Submit queued jobs up to the pool's limit; returns trials whose submission failed."""
        if self._suspects:
            if self._in_flight:
                return []
            todo, limit = self._suspects, 1
        elif not self.own_pool:
            todo, limit = self._queue, len(self._queue) + len(self._in_flight)
        else:
            # no more trials than loky's call queue holds (two per worker + one), so that
            # every trial submitted is dispatched at once (see _kill)
            todo, limit = self._queue, QUEUED_PER_WORKER * self.n_jobs
        failed = []
        while todo and len(self._in_flight) < limit:
            jobs = todo.popleft()
            try:
                future = self._submit(jobs)
            except Exception as exc:  # the pool broke or its workers could not start
                if self._in_flight and isinstance(exc, cf.BrokenExecutor):
                    # a worker died under a running job, not this one: the futures in
                    # flight say which (_after_crash); these run on the next pool
                    todo.appendleft(jobs)
                    break
                failed.append(self._crashed(jobs[0], exc))
                todo.extendleft((job,) for job in reversed(jobs[1:]))  # the rest: next pool
                if self.own_pool:  # a fresh pool for the next submission
                    self._drop_pool()
                if self.crash_stop is not None:
                    break
                continue
            self._in_flight[future] = jobs
        return failed

    # ---- our pool over its connections (no trial_timeout)

    def _step_lean(self):
        finished = self._fill_lean()
        if finished or self._workers is None:  # a pool failed to start
            return finished
        finished, gone = [], []
        for worker in self._workers.wait():
            try:
                job, trial = self._workers.receive(worker)
            except (EOFError, OSError):
                gone.append(worker)
                continue
            if trial is None:
                raise KeyboardInterrupt  # the trial was interrupted in its worker
            finished.append(trial)
        if finished:
            self._crashes = 0
        if gone:
            finished += self._lean_crash(gone)
        return finished

    def _fill_lean(self):
        """Send queued jobs to the workers (starting them first if need be) up to two
        submissions per worker, one after a crash; returns trials whose pool failed."""
        failed: list[Trial] = []
        while True:
            if self._suspects:
                if self._workers is not None and self._workers.busy():
                    return failed
                todo, limit = self._suspects, 1
            else:
                todo, limit = self._queue, _transport.PER_WORKER * self.n_jobs
            if not todo:
                return failed
            if self._workers is None:
                try:
                    self._workers = self._start_workers()
                except Exception as exc:  # the workers could not start
                    jobs = todo.popleft()
                    failed.append(self._crashed(jobs[0], exc))
                    todo.extendleft((job,) for job in reversed(jobs[1:]))  # the next pool's
                    self._drop_pool()
                    if self.crash_stop is not None:
                        return failed
                    continue
            workers = self._workers
            while todo and workers.submitted() < limit:
                try:
                    if not workers.send(todo[0]):
                        break
                except OSError:  # that worker is gone: the wait sees its connection close
                    break
                todo.popleft()
            return failed

    def _start_workers(self):
        executor, settings = self._executor()
        if self._shipped is None:
            self._shipped = _shared(
                executor, self.own_pool, self.train_fn, self._payload, self._stack
            )
            self._payload = None
        task, fn = self._shipped
        args = (self.pass_seed, self.abort_factor, *settings)
        return _transport.Workers(executor, self.n_jobs, task, fn, args, self._spill_path)

    def _spill_path(self):
        """The folder for jobs sent ahead through files, made on the first such job (on Linux
        a digits-sized state goes inline: most searches never make it)."""
        if self._spill_dir is None:
            self._spill_dir = _transport.spill_dir(self._stack)
        return self._spill_dir

    def _lean_crash(self, gone):
        """A worker's connection closed: it died (loky then stops the whole pool, so every
        job in flight is lost), or its serve task failed (its jobs fail, the others rerun)."""
        workers = self._workers
        assert workers is not None
        exc = workers.failure(timeout=10.0)
        if exc is None:
            exc = ConnectionError("the connection to its worker process closed")
        lost = [job for worker in workers.workers for job in worker.pending()]
        if not isinstance(exc, cf.BrokenExecutor):
            ended = {job.index for worker in gone for job in worker.pending()}
            failed = [_failed(job, exc) for job in lost if job.index in ended]
            rerun = sorted((j for j in lost if j.index not in ended), key=_job_order)
            self._drop_pool()
            target = self._suspects if self._suspects else self._queue
            target.extendleft((job,) for job in reversed(rerun))
            return failed
        self._drop_pool()
        if len(lost) == 1:  # it ran alone: it is the one that kills its worker
            return [self._crashed(lost[0], exc)]
        # run each alone to find the culprit; the innocent ones just finish
        self._suspects.extend((job,) for job in sorted(lost, key=_job_order))
        return []

    def _submit(self, jobs):
        executor, settings = self._executor()
        if self._shipped is None:
            # every pool (ours, even restarted, or the user's) gets what was shipped once
            self._shipped = _shared(
                executor, self.own_pool, self.train_fn, self._payload, self._stack
            )
            self._payload = None  # in the file now (or never needed): do not hold it twice
        task, fn = self._shipped
        args = (_run_jobs, task, fn, jobs, self.pass_seed, self.abort_factor, *settings)
        if self.trial_timeout is None:
            return executor.submit(*args)
        if self._marker_dir is None:
            self._marker_dir = scratch_dir(self._stack, "trial-starts-")
        marker = os.path.join(self._marker_dir, uuid.uuid4().hex)
        future = executor.submit(*args, marker)
        self._markers[future] = marker
        return future

    def _executor(self):
        """(executor, the per-trial settings _run_trial applies there)."""
        if self.own_pool:
            if self._pool is None:
                self._pool = _process_executor(self.n_jobs, self.threads)
            # the worker start-up pinned fastnn's and BLAS's threads
            return self._pool, (None, self.backend, None)
        if _in_process(self.executor):
            return self.executor, (self.threads, self.backend, None)  # BLAS: see _pin
        return self.executor, (self.threads, self.backend, self.threads)

    def _pin(self):
        # fastnn's settings are per thread; BLAS's are process-wide, so overlapping trials
        # would restore them out of order: pin BLAS once around the whole run
        if self.executor is not None and _in_process(self.executor):
            return _pinned(None, None, self.threads)
        return contextlib.nullcontext()

    def _wait_timeout(self):
        return _TIMEOUT_POLL_SECONDS if self.trial_timeout is not None else None

    # ---- crashes and timeouts (our pool only)

    def _after_crash(self, broken):
        """A worker died: every trial in flight on that pool was lost with it."""
        lost = [job for jobs, _ in broken for job in jobs]
        for future, jobs in list(self._in_flight.items()):
            trials, exc = _outcome(future, jobs, True) if future.done() else (None, True)
            if trials is not None and exc is None and None not in trials:
                for trial in trials:  # finished before the crash: keep them
                    self._ready.append(trial)
                    if self.journal is not None:
                        self.journal.record(trial)
            else:
                lost += jobs
        self._drop_pool()
        if len(lost) == 1:  # it ran alone: it is the one that kills its worker
            return [self._crashed(lost[0], broken[0][1])]
        # run each alone to find the culprit; the innocent ones just finish
        self._suspects.extend((job,) for job in sorted(lost, key=lambda j: (j.round, j.index)))
        return []

    def _crashed(self, job, exc):
        self._crashes += 1
        trial = _failed(job, exc, f"its worker process died ({_death_cause(exc)})")
        if self._crashes >= CRASHES_IN_A_ROW:
            self.crash_stop = (
                f"{self._crashes} trials in a row lost their worker process (the last, trial "
                f"{job.index}: {_death_cause(exc)}): stopped the search"
            )
        return trial

    def _forget(self, future):
        self._started.pop(future, None)
        marker = self._markers.pop(future, None)
        if marker is not None:
            with contextlib.suppress(OSError):
                os.unlink(marker)

    def _expire(self):
        """Trials past trial_timeout: status 'timeout', the pool replaced, the others rerun.

        A trial's clock starts when its worker starts it (it creates its marker file), so
        that starting a fresh pool's processes does not count."""
        now = time.monotonic()
        for future, marker in self._markers.items():
            if future not in self._started and os.path.exists(marker):
                self._started[future] = now
        late = [
            f
            for f, since in self._started.items()
            if now - since > self.trial_timeout and not f.done()
        ]
        if not late:
            return []
        expired = []
        for future in late:
            (job,) = self._in_flight.pop(future)  # with a timeout, one job per submission
            self._forget(future)
            expired.append(
                _failed(job, None, f"still running after {self.trial_timeout:g} s", "timeout")
            )
        innocent = sorted(
            (job for jobs in self._in_flight.values() for job in jobs),
            key=lambda j: (j.round, j.index),
        )
        target = self._suspects if self._suspects else self._queue
        target.extendleft((job,) for job in reversed(innocent))
        self._drop_pool()
        self._crashes = 0
        return expired

    # ---- stopping

    def _drop_pool(self, wait=False):
        """Kill our pool's workers (a fresh pool starts on the next submission)."""
        futures = list(self._in_flight)
        self._in_flight.clear()
        for future in futures:
            self._forget(future)
        if self._workers is not None:
            workers, self._workers = self._workers, None
            futures += workers.futures
            workers.discard()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            _kill(pool, futures, wait=wait)

    def _stop(self, wait=False):
        """Stop what runs: our workers are killed, an executor's futures cancelled."""
        self._queue.clear()
        self._suspects.clear()
        if self.own_pool:
            self._drop_pool(wait=wait)
            return
        for future in self._in_flight:
            if not future.done():
                future.cancel()
        self._in_flight.clear()


def _job_order(job):
    return (job.round, job.index)


def _executor_slots(executor):
    """Trials a user's executor runs at once (a Dask client's threads, a pool's workers)."""
    nthreads = getattr(executor, "nthreads", None)
    if type(executor).__module__.split(".")[0] == "distributed" and callable(nthreads):
        deadline = time.monotonic() + 10.0
        while True:
            count = sum(nthreads().values())
            if count or time.monotonic() > deadline:
                return max(count, 1)
            time.sleep(0.05)
    return max(int(getattr(executor, "_max_workers", 0) or 0), 1)


def _wait_any(futures, timeout):
    """The futures done once at least one is (or ``timeout`` passed); concurrent.futures and
    Dask futures alike."""
    if all(isinstance(f, cf.Future) for f in futures):
        finished, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(finished)
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.001
    while True:
        done = [f for f in futures if f.done()]
        if done or (deadline is not None and time.monotonic() >= deadline):
            return done
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def _kill(executor, futures, timeout=1.0, wait=False):
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
        executor.shutdown(wait=wait, kill_workers=True)


def _outcome(future, jobs, own_pool):
    """(the trials of a finished submission of ``jobs``, ending with None if one was
    interrupted; None) or (None, the exception) when our pool broke under it (a worker
    died)."""
    try:
        return future.result(), None
    except cf.BrokenExecutor as exc:
        if own_pool:
            return None, exc
        return [_failed(job, exc) for job in jobs], None
    except Exception as exc:  # the result could not travel back, or the executor failed
        return [_failed(job, exc) for job in jobs], None


def _death_cause(exc):
    """'killed by SIGKILL' / 'exit code 3' from loky's message, else the exception."""
    text = str(exc)
    match = re.search(r"exit codes of the workers are \{([^}]*)\}", text)
    if match is None:
        return f"{type(exc).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"
    causes = []
    for code in match.group(1).split(", "):
        name, _, number = code.partition("(")
        number = number.rstrip(")")
        if name.startswith("SIG"):
            what = f"killed by {name}"
            if name == "SIGKILL":
                what += " (out of memory, or killed by hand)"
            causes.append(what)
        elif number:
            causes.append(f"exit code {number}")
        else:
            causes.append(code)
    return "; ".join(causes) or "exit code unknown"


def _failed(job, exc, error=None, status="failed"):
    return Trial(
        index=job.index,
        round=job.round,
        params=dict(job.params),
        seed=job.seed,
        status=status,
        error=error if error is not None else f"{type(exc).__name__}: {exc}",
    )
