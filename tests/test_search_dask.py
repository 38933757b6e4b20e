"""fastnn.workflow.search on a real Dask cluster (2 worker processes on localhost) = the serial
run."""

import logging
import math

import numpy as np
import pytest

import fastnn
from fastnn.workflow import search

distributed = pytest.importorskip("distributed")

SPACE = {
    "lr": search.loguniform(1e-6, 1e-2),
    "reg": search.loguniform(1e-5, 1e1),
    "update": search.choice(["sgd", "momentum"]),
}


def small_trial(params, seed):
    """A few milliseconds of seeded work whose result depends on params and seed."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((32, 8))
    loss = [float(np.abs(w).mean() * (1 + params["lr"] * 100 * i)) for i in range(10)]
    if params["update"] == "sgd" and params["reg"] > 0.1:
        raise RuntimeError("simulated failure")
    return {
        "val_acc": float(rng.uniform()),
        "loss_history": loss,
        "threads": fastnn.get_num_threads(),
    }


def _nan_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def outcome(result):
    return [
        (t.index, t.params, t.status, _nan_none(t.val_acc), t.seed, t.error, t.loss_history)
        for t in result
    ]


@pytest.fixture(scope="module")
def client():
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


def test_dask_cluster_matches_serial(client):
    # the tests directory is not importable on the workers: ship this module's code by value
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        serial = search.random_search(small_trial, SPACE, 12, seed=21, verbose=False)
        remote = search.random_search(
            small_trial, SPACE, 12, seed=21, executor=client, verbose=False
        )
        staged = search.coarse_to_fine(
            small_trial,
            SPACE,
            rounds=[(6, 1), (4, 2)],
            seed=3,
            executor=client,
            verbose=False,
            edge_fraction=0.0,
        )
        staged_serial = search.coarse_to_fine(
            small_trial, SPACE, rounds=[(6, 1), (4, 2)], seed=3, verbose=False, edge_fraction=0.0
        )
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert outcome(remote) == outcome(serial)
    assert outcome(staged) == outcome(staged_serial)
    assert {t.status for t in serial} == {"ok", "diverged", "failed"}  # all paths crossed
    assert all(t.extra["threads"] == 1 for t in remote if t.status == "ok")
    workers = client.run(lambda: __import__("os").getpid())
    assert len(workers) == 2


def test_the_client_journals_what_its_workers_return(client, tmp_path):
    import sqlite3
    import sys

    import cloudpickle

    db = tmp_path / "search.db"
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        remote = search.random_search(
            small_trial, SPACE, 8, seed=4, executor=client, storage=db, verbose=False
        )
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT number, status FROM trial ORDER BY number").fetchall()
    assert rows == [(t.index, t.status) for t in remote]
    resumed = search.random_search(small_trial, SPACE, 8, storage=db, resume=True, verbose=False)
    assert outcome(resumed) == outcome(remote)  # read back, nothing run again
