"""Hyper-parameter search: parallel speed-up and per-trial overhead (benchmark, not a test).

    pytest bench/test_bench_search.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,min,max,rounds

Groups:
* ``random search 16 trials``: the same seeded 16-trial random search of a FullyConnectedNet
  on the shipped digits, serially (``n_jobs=1`` with the default threads, and pinned to one
  thread), with ``n_jobs=2`` (loky workers, one thread each) and on a 2-worker Dask
  ``LocalCluster``. Target: ``n_jobs=2`` at least 1.7x faster than ``n_jobs=1`` on 2 cores.
  Worker start-up is excluded (one warm-up round; loky reuses its workers).
* ``overhead per trial``: 32 trials of a train_fn that returns at once, so the time per trial
  is the machinery's overhead (``extra_info['per_trial_ms']``).
"""

import contextlib
import logging

import numpy as np
import pytest

import fastnn
from fastnn import search

N_TRIALS = 16
N_EMPTY = 32
SPACE = {"lr": search.loguniform(1e-4, 1e-2), "reg": search.loguniform(1e-6, 1e-2)}


@pytest.fixture(scope="module")
def train_fn():
    X, y = fastnn.datasets.load_digits()
    X_train, X_val, y_train, y_val = fastnn.datasets.train_val_split(X, y, val_size=0.25, seed=0)
    mean = X_train.mean(axis=0)
    return search.make_train_fn(
        (X_train - mean) / 16,
        y_train,
        (X_val - mean) / 16,
        y_val,
        model="fc",
        hidden_dims=(128,),
        num_epochs=8,
        batch_size=50,
        update="adam",
    )


def empty_trial(params):
    return {"val_acc": params["lr"]}


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@contextlib.contextmanager
def _one_thread():
    from threadpoolctl import threadpool_limits

    with fastnn.num_threads(1), threadpool_limits(limits=1):
        yield


def _run(benchmark, fn, n, mode, request):
    kwargs = {"seed": 0, "verbose": False}
    context = contextlib.nullcontext()
    if mode == "n_jobs=2":
        kwargs["n_jobs"] = 2
    elif mode == "dask":
        kwargs["executor"] = request.getfixturevalue("dask_client")
    elif mode == "n_jobs=1, 1 thread":
        context = _one_thread()
    with context:
        result = benchmark.pedantic(
            search.random_search,
            args=(fn, SPACE, n),
            kwargs=kwargs,
            rounds=3,
            iterations=1,
            warmup_rounds=1,
        )
    assert len(result) == n and not result.by_status("failed")
    if benchmark.stats is not None:  # None under --benchmark-disable (the CI smoke run)
        benchmark.extra_info["per_trial_ms"] = 1e3 * benchmark.stats.stats.median / n
    benchmark.extra_info["trial_seconds_median"] = float(np.median([t.seconds for t in result]))
    return result


MODES = ["n_jobs=1", "n_jobs=1, 1 thread", "n_jobs=2", "dask"]


@pytest.mark.parametrize("mode", MODES)
def test_random_search_16_trials(benchmark, train_fn, mode, request):
    benchmark.group = f"random search {N_TRIALS} trials"
    _run(benchmark, train_fn, N_TRIALS, mode, request)


@pytest.mark.parametrize("mode", ["n_jobs=1", "n_jobs=2", "dask"])
def test_overhead_per_trial(benchmark, mode, request):
    benchmark.group = f"overhead per trial ({N_EMPTY} empty trials)"
    _run(benchmark, empty_trial, N_EMPTY, mode, request)
