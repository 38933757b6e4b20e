"""fastnn.workflow.search on synthetic train_fns (the machinery needs only train_fn(params) ->
dict)."""

import importlib.util
import io
import json
import math
import os
import signal
import sys
import time

import numpy as np
import pytest

import fastnn
from fastnn.workflow import search
from fastnn.workflow.search import choice, loguniform, randint, uniform

SPACE = {"lr": loguniform(1e-6, 1e-2), "reg": loguniform(1e-5, 1e1)}


# ---- module-level train_fns (picklable for the worker processes)


class Peak:
    """val_acc peaks at lr = 10**log_opt; reg does not matter (the Bergstra-Bengio setting)."""

    def __init__(self, log_opt, width=0.25):
        self.log_opt, self.width = log_opt, width

    def __call__(self, params):
        d = (math.log10(params["lr"]) - self.log_opt) / self.width
        return {"val_acc": math.exp(-d * d)}


def noisy(params, seed):
    """Depends on the params and on the trial seed; reports the threads it ran with."""
    rng = np.random.default_rng(seed)
    loss = list(2.3 * np.exp(-np.arange(20) * params["lr"] * 100) + rng.normal(0, 1e-3, 20))
    val = list(rng.uniform(0, 1, 3))
    info = {"fastnn_threads": fastnn.get_num_threads()}
    try:
        from threadpoolctl import threadpool_info

        info["blas_threads"] = [p["num_threads"] for p in threadpool_info()]
    except ImportError:
        pass
    return {
        "val_acc_history": val,
        "train_acc_history": [v + 0.1 for v in val],
        "loss_history": loss,
        **info,
    }


ITERS_PER_EPOCH = 50


def fake_sgd(params, seed=None):
    """A toy training loop that uses the early-break rule; lr > 1 explodes."""
    lr, epochs = params["lr"], params.get("num_epochs", 3)
    growth = 1.0 + (0.5 if lr > 1 else -0.01)
    loss = []
    cost = 2.3
    for it in range(epochs * ITERS_PER_EPOCH):
        loss.append(cost)
        if search.should_abort(cost, loss[0]):
            return {
                "val_acc": 0.1,
                "loss_history": loss,
                "diverged": True,
                "epochs": it // ITERS_PER_EPOCH + 1,
            }
        cost *= growth
    return {"val_acc": 0.5, "loss_history": loss, "epochs": epochs}


def fails_for_some(params):
    if params["k"] % 3 == 1:
        raise ValueError(f"bad k {params['k']}")
    return {"val_acc": params["k"] / 10}


def interrupt_at_3(params):
    if params["k"] == 3:
        raise KeyboardInterrupt
    if params["k"] > 3:
        time.sleep(0.3)
    return {"val_acc": params["k"] / 10}


def sigint_at_2(params):
    if params["k"] == 2:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the signal arrives here
    return {"val_acc": params["k"] / 10}


def nan_loss(params):
    return {"val_acc": 0.3, "loss_history": [2.3, 2.0, float("nan")]}


def spiky_loss(params):
    return {"val_acc": 0.3, "loss_history": [2.3, 2.0, 7.0, 1.0]}


def _nan_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def outcome(result):
    """Everything about a result except wall time."""
    return [
        (
            t.index,
            t.round,
            t.params,
            t.status,
            _nan_none(t.val_acc),
            _nan_none(t.train_acc),
            t.epochs,
            t.seed,
            t.error,
            t.loss_history,
            t.val_acc_history,
            t.train_acc_history,
        )
        for t in result
    ]


# ---- spaces


@pytest.mark.parametrize(
    "dist, check",
    [
        (loguniform(1e-6, 1e-2), lambda v: isinstance(v, float) and 1e-6 <= v < 1e-2),
        (uniform(0.2, 0.8), lambda v: isinstance(v, float) and 0.2 <= v < 0.8),
        (randint(10, 13), lambda v: type(v) is int and 10 <= v < 13),
        (choice(["sgd", "adam", (10, 5)]), lambda v: v in ("sgd", "adam", (10, 5))),
    ],
)
def test_distributions_sample_in_range(dist, check):
    rng = np.random.default_rng(0)
    values = [dist.sample(rng) for _ in range(500)]
    assert all(check(v) for v in values)
    assert len({repr(v) for v in values}) >= min(3, len(values))


def test_loguniform_is_uniform_in_log_space():
    rng = np.random.default_rng(1)
    logs = np.log10([loguniform(1e-6, 1e-2).sample(rng) for _ in range(4000)])
    counts, _ = np.histogram(logs, bins=4, range=(-6, -2))
    assert counts.min() > 850  # ~1000 per decade; a linear sampler would put ~all in the last


def test_randint_covers_both_ends_and_excludes_high():
    rng = np.random.default_rng(2)
    assert {randint(3, 6).sample(rng) for _ in range(200)} == {3, 4, 5}


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: loguniform(0, 1), ValueError),
        (lambda: loguniform(1e-3, 1e-4), ValueError),
        (lambda: uniform(1, float("nan")), ValueError),
        (lambda: uniform("a", 2), TypeError),
        (lambda: randint(1.5, 3), TypeError),
        (lambda: randint(3, 3), ValueError),
        (lambda: choice([]), ValueError),
    ],
)
def test_bad_distributions_raise(make, error):
    with pytest.raises(error):
        make()


def test_bad_spaces_and_arguments_raise():
    with pytest.raises(TypeError, match="dict"):
        search.random_search(Peak(-4), [1, 2], 3, verbose=False)
    with pytest.raises(ValueError, match="empty"):
        search.random_search(Peak(-4), {"lr": []}, 3, verbose=False)
    with pytest.raises(ValueError, match="n_trials"):
        search.random_search(Peak(-4), SPACE, 0, verbose=False)
    with pytest.raises(TypeError, match="seed"):
        search.random_search(Peak(-4), SPACE, 2, seed=-1, verbose=False)
    with pytest.raises(ValueError, match="num="):
        search.grid_search(Peak(-4), SPACE, verbose=False)
    with pytest.raises(ValueError, match="not both"):
        search.random_search(Peak(-4), SPACE, 2, n_jobs=2, executor=object(), verbose=False)
    with pytest.raises(TypeError, match="submit"):
        search.random_search(Peak(-4), SPACE, 2, executor=object(), verbose=False)
    with pytest.raises(TypeError, match="callable"):
        search.random_search("train", SPACE, 2, verbose=False)
    with pytest.raises(ValueError, match="threads_per_trial"):
        search.random_search(Peak(-4), SPACE, 2, threads_per_trial=0, verbose=False)
    with pytest.raises(TypeError, match="threads_per_trial"):
        search.random_search(Peak(-4), SPACE, 2, threads_per_trial="2", verbose=False)


def test_unpicklable_train_fn_is_refused_for_workers():
    import threading

    lock = threading.Lock()

    def holds_a_lock(params):
        with lock:
            return {"val_acc": 0.0}

    with pytest.raises(TypeError, match="picklable"):
        search.random_search(holds_a_lock, SPACE, 2, n_jobs=2, verbose=False)
    # threads share the process: nothing is pickled, so nothing is refused
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        result = search.random_search(holds_a_lock, SPACE, 2, executor=ex, verbose=False)
    assert [t.status for t in result] == ["ok", "ok"]


# ---- grid and random search


def test_grid_search_trains_every_combination_in_order():
    space = {"lr": [1e-4, 1e-3, 1e-2], "reg": loguniform(1e-3, 1e-1), "hidden": 50}
    result = search.grid_search(Peak(-3), space, num=2, seed=0, verbose=False)
    combos = [(t.params["lr"], t.params["reg"], t.params["hidden"]) for t in result]
    assert combos == [(lr, reg, 50) for lr in (1e-4, 1e-3, 1e-2) for reg in (1e-3, 1e-1)]
    assert result.best.params["lr"] == 1e-3
    assert result.searched == ["lr", "reg"]
    assert [t.index for t in result] == list(range(6))


def test_random_search_beats_grid_with_the_same_budget():
    """Bergstra and Bengio (2012): with one unimportant parameter a 4x4 grid tries only 4
    learning rates, 16 random trials try 16. Measured over 20 optima and seeds."""
    wins, grid_best, random_best = 0, [], []
    for seed in range(20):
        train_fn = Peak(np.random.default_rng(seed).uniform(-6, -2))
        g = search.grid_search(train_fn, SPACE, num=4, verbose=False).best.val_acc
        r = search.random_search(train_fn, SPACE, 16, seed=seed, verbose=False).best.val_acc
        grid_best.append(g)
        random_best.append(r)
        wins += r > g
    assert np.mean(random_best) > np.mean(grid_best) + 0.2
    assert wins >= 14


def test_same_seed_same_search_and_different_seed_differs():
    a = search.random_search(noisy, SPACE, 6, seed=11, verbose=False)
    b = search.random_search(noisy, SPACE, 6, seed=11, verbose=False)
    c = search.random_search(noisy, SPACE, 6, seed=12, verbose=False)
    assert outcome(a) == outcome(b)
    assert [t.params for t in a] != [t.params for t in c]
    assert len({t.seed for t in a}) == 6  # every trial has its own seed


def test_seed_none_is_recorded_and_reproduces():
    a = search.random_search(noisy, SPACE, 4, verbose=False)
    assert isinstance(a.seed, int)
    b = search.random_search(noisy, SPACE, 4, seed=a.seed, verbose=False)
    assert outcome(a) == outcome(b)


def test_train_fn_without_seed_and_lists_as_choices():
    space = {"lr": [1e-5, 1e-4, 1e-3], "update": choice(["sgd", "adam"]), "fixed": (3, 4)}
    result = search.random_search(Peak(-4), space, 30, seed=3, verbose=False)
    assert {t.params["lr"] for t in result} == {1e-5, 1e-4, 1e-3}
    assert {t.params["update"] for t in result} == {"sgd", "adam"}
    assert all(t.params["fixed"] == (3, 4) for t in result)
    assert result.best.params["lr"] == 1e-4


def test_result_fields_from_histories():
    result = search.random_search(noisy, SPACE, 3, seed=5, verbose=False)
    for t in result:
        assert t.status == "ok"
        assert t.val_acc == max(t.val_acc_history)
        assert t.train_acc == t.val_acc + 0.1  # train acc of the best epoch
        assert t.epochs == 3
        assert t.seconds >= 0
        assert t.extra["fastnn_threads"] == fastnn.get_num_threads()  # serial: untouched


def test_result_needs_val_acc():
    result = search.grid_search(lambda p: {"acc": 1.0}, {"k": [1]}, verbose=False)
    assert result[0].status == "failed"
    assert "val_acc" in result[0].error
    result = search.grid_search(lambda p: 0.5, {"k": [1]}, verbose=False)
    assert "dict" in result[0].error


# ---- early abort, failures, Ctrl-C


def test_exploding_trial_stops_within_its_first_epoch():
    space = {"lr": [1e-3, 1e6], "num_epochs": 3}
    result = search.grid_search(fake_sgd, space, verbose=False)
    ok, exploded = result
    assert ok.status == "ok" and len(ok.loss_history) == 3 * ITERS_PER_EPOCH
    assert exploded.status == "diverged"
    assert exploded.epochs == 1
    assert len(exploded.loss_history) < ITERS_PER_EPOCH
    assert result.best is ok


@pytest.mark.parametrize("train_fn", [nan_loss, spiky_loss])
def test_divergence_detected_from_the_loss_history(train_fn):
    result = search.grid_search(train_fn, {"k": [1]}, verbose=False)
    assert result[0].status == "diverged"
    assert result.best is None


def test_abort_factor_none_only_flags_non_finite():
    def status(train_fn):
        return search.grid_search(train_fn, {"k": [1]}, abort_factor=None, verbose=False)[0].status

    assert status(spiky_loss) == "ok"
    assert status(nan_loss) == "diverged"


def test_should_abort():
    assert search.should_abort(float("nan"), 2.3)
    assert search.should_abort(float("inf"), 2.3)
    assert search.should_abort(6.91, 2.3)
    assert not search.should_abort(6.89, 2.3)
    assert not search.should_abort(4.0, 2.3, factor=2.0)  # 4.0 < 4.6: keep going
    assert search.should_abort(5.0, 2.3, factor=2.0)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_failing_trials_are_recorded_and_the_search_goes_on(n_jobs):
    result = search.grid_search(fails_for_some, {"k": list(range(7))}, n_jobs=n_jobs, verbose=False)
    assert len(result) == 7
    failed = result.by_status("failed")
    assert [t.params["k"] for t in failed] == [1, 4]
    assert failed[0].error == "ValueError: bad k 1"
    assert "fails_for_some" in failed[0].traceback
    assert math.isnan(failed[0].val_acc)
    assert result.best.params["k"] == 6


def test_ctrl_c_returns_the_finished_trials():
    result = search.grid_search(interrupt_at_3, {"k": list(range(6))}, verbose=False)
    assert result.interrupted
    assert [t.params["k"] for t in result] == [0, 1, 2]
    assert result.n_planned == 6
    assert "interrupted" in repr(result)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX")
def test_real_sigint_returns_the_finished_trials():
    result = search.grid_search(sigint_at_2, {"k": list(range(5))}, verbose=False)
    assert result.interrupted
    assert [t.params["k"] for t in result] == [0, 1]


def test_ctrl_c_in_parallel_returns_the_finished_trials():
    result = search.grid_search(interrupt_at_3, {"k": list(range(8))}, n_jobs=2, verbose=False)
    assert result.interrupted
    ks = [t.params["k"] for t in result]
    assert 3 not in ks and len(ks) < 8
    assert all(t.status == "ok" for t in result)


# ---- parallel


def test_n_jobs_2_gives_the_serial_results_with_one_thread_per_trial():
    serial = search.random_search(noisy, SPACE, 8, seed=7, verbose=False)
    parallel = search.random_search(noisy, SPACE, 8, seed=7, n_jobs=2, verbose=False)
    assert outcome(parallel) == outcome(serial)
    for t in parallel:
        assert t.extra["fastnn_threads"] == 1
        assert all(n == 1 for n in t.extra.get("blas_threads", []))


def test_executor_path_matches_serial_and_pins_threads():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    serial = search.random_search(noisy, SPACE, 5, seed=8, verbose=False)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        remote = search.random_search(noisy, SPACE, 5, seed=8, executor=ex, verbose=False)
    assert outcome(remote) == outcome(serial)
    assert all(t.extra["fastnn_threads"] == 1 for t in remote)
    if importlib.util.find_spec("threadpoolctl") is not None:  # BLAS pinned per trial
        assert all(t.extra["blas_threads"] and set(t.extra["blas_threads"]) == {1} for t in remote)


N_OVERLAP = 4
_met = _left = None


def overlapping(params):
    """All trials run at once, then leave in start order (not the reverse)."""
    k = params["k"]
    _met.wait()
    threads = fastnn.get_num_threads()
    if k:
        assert _left[k - 1].wait(10), f"trial {k - 1} never left"  # else the order is untested
    _left[k].set()
    return {"val_acc": 0.0, "threads": threads}


def test_thread_executor_pins_once_and_restores_the_callers_threads():
    """Thread counts are process-wide: pinned per trial, overlapping trials restored them in
    the wrong order and the caller was left with 1 thread instead of 2."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    global _met, _left
    for _ in range(3):
        _met = threading.Barrier(N_OVERLAP, timeout=10)
        _left = [threading.Event() for _ in range(N_OVERLAP)]
        fastnn.set_num_threads(2)
        with ThreadPoolExecutor(N_OVERLAP) as ex:
            result = search.grid_search(
                overlapping, {"k": list(range(N_OVERLAP))}, executor=ex, verbose=False
            )
        assert [t.status for t in result] == ["ok"] * N_OVERLAP, result[0].error
        assert [t.extra["threads"] for t in result] == [1] * N_OVERLAP
        assert fastnn.get_num_threads() == 2


def test_numpy_backend_reaches_the_workers():
    serial = search.grid_search(backend_name, {"k": [0, 1]}, verbose=False)
    with fastnn.backend("numpy"):
        parallel = search.grid_search(backend_name, {"k": [0, 1]}, n_jobs=2, verbose=False)
    assert [t.extra["backend"] for t in serial] == ["cython", "cython"]
    assert [t.extra["backend"] for t in parallel] == ["numpy", "numpy"]


def backend_name(params):
    return {"val_acc": 0.0, "backend": fastnn.get_backend()}


def freed_blocks_page_faults(params):
    """Page faults of 50 steps each allocating four 1 MB arrays and freeing them (a training
    step's activations)."""
    import resource

    def step():  # a few blocks alive at once, then all freed
        blocks = [np.ones(1 << 17) for _ in range(4)]
        del blocks

    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        step()
    return {"val_acc": 0.0, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}


GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc settings")
def test_workers_reuse_freed_memory_instead_of_mapping_it_again(monkeypatch):
    """A fresh worker's malloc would map and unmap every 1 MB block (256 page faults each,
    15-20 % of a small training step); our workers start with glibc's large-process limits."""
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    result = search.grid_search(freed_blocks_page_faults, {"k": [0, 1]}, n_jobs=2, verbose=False)
    assert [t.status for t in result] == ["ok", "ok"], result[0].error
    assert max(t.extra["faults"] for t in result) < 50 * 4 * 256 // 10


def pipe_sizes(params):
    import fcntl
    import stat

    sizes = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISFIFO(os.fstat(int(name)).st_mode):
                sizes.append(fcntl.fcntl(int(name), 1032))  # F_GETPIPE_SZ
        except OSError:
            pass
    return {"val_acc": 0.0, "pipes": sizes}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ")
def test_a_workers_pipes_hold_a_trial_state_in_one_write():
    with open("/proc/sys/fs/pipe-max-size") as f:
        if int(f.read()) < 1 << 20:
            pytest.skip("this system caps pipes below 1 MB")
    result = search.grid_search(pipe_sizes, {"k": [0, 1]}, n_jobs=2, verbose=False)
    for trial in result:
        assert len(trial.extra["pipes"]) >= 2  # loky's call and result queues at least
        assert min(trial.extra["pipes"]) == 1 << 20, trial.extra["pipes"]


def test_malloc_settings_of_this_process_reach_the_workers_unchanged(monkeypatch):
    from fastnn.workflow.search._runner import _worker_env

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    env = _worker_env(1)
    assert env["OMP_NUM_THREADS"] == "1" and not any(k.startswith("MALLOC_") for k in env)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert _worker_env(1)["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20)


# ---- coarse to fine


def test_coarse_to_fine_narrows_around_the_best_and_trains_longer():
    space = {"lr": loguniform(1e-7, 1e-1), "reg": uniform(0, 1), "update": ["sgd", "adam"]}
    result = search.coarse_to_fine(
        Peak(-4), space, rounds=[(30, 1), (10, 5)], seed=4, verbose=False
    )
    first, second = result.spaces
    assert first["num_epochs"] == 1 and second["num_epochs"] == 5
    assert [t.round for t in result] == [0] * 30 + [1] * 10
    assert [t.index for t in result] == list(range(40))
    top = result.__class__([t for t in result if t.round == 0], ["lr"]).top(3)
    lr2 = second["lr"]
    assert first["lr"].low <= lr2.low < lr2.high <= first["lr"].high
    assert math.log10(lr2.high / lr2.low) < 3  # narrowed from 6 decades
    assert all(lr2.low <= t.params["lr"] <= lr2.high for t in top)
    assert all(lr2.low <= t.params["lr"] <= lr2.high for t in result if t.round == 1)
    assert set(second["update"]) <= {"sgd", "adam"}
    best_round_0 = max(t.val_acc for t in result if t.round == 0)
    assert result.best.val_acc >= best_round_0
    assert result.best.val_acc > 0.95


def test_coarse_to_fine_warns_when_the_best_is_at_an_edge():
    space = {"lr": loguniform(1e-7, 1e-3), "reg": uniform(0, 1)}
    with pytest.warns(search.RangeEdgeWarning, match=r"best lr .* upper edge"):
        search.coarse_to_fine(Peak(-1), space, rounds=[(10, 1), (5, 2)], seed=0, verbose=False)


def test_coarse_to_fine_dict_rounds_and_interrupt():
    calls = []

    def interrupt_on_call_5(params):
        calls.append(params)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return {"val_acc": params["k"] / 10}

    result = search.coarse_to_fine(
        interrupt_on_call_5,
        {"k": randint(0, 10)},
        rounds=[{"n_trials": 3, "batch_size": 10}, {"n_trials": 3}, {"n_trials": 3}],
        seed=1,
        verbose=False,
        edge_fraction=0.0,
    )
    assert result.interrupted and result.n_planned == 9
    assert [(t.round, t.index) for t in result] == [(0, 0), (0, 1), (0, 2), (1, 3)]
    assert len(calls) == 5 and len(result.spaces) == 2  # round 3 never started
    assert all(t.params["batch_size"] == 10 for t in result if t.round == 0)
    assert "batch_size" not in result[3].params


def test_narrowing_rules():
    assert loguniform(1e-6, 1e-2).narrow([1e-4, 1e-3], 0.0) == loguniform(1e-4, 1e-3)
    wide = loguniform(1e-6, 1e-2).narrow([1e-4], 0.25)  # one decade each side of 1e-4
    assert wide.low == pytest.approx(1e-5) and wide.high == pytest.approx(1e-3)
    assert uniform(0, 1).narrow([0.95], 0.1) == uniform(0.85, 1.0)  # clipped at the old edge
    assert randint(0, 100).narrow([40, 50], 0.05) == randint(35, 56)
    assert choice(["a", "b", "c"]).narrow(["c", "a"], 0.1) == choice(["a", "c"])
    assert loguniform(1e-6, 1e-2).edge(9e-3) == "upper"
    assert loguniform(1e-6, 1e-2).edge(1.5e-6) == "lower"
    assert loguniform(1e-6, 1e-2).edge(1e-4) is None


# ---- result: lines, sorting, export, plots, progress


def small_result():
    trials = [
        search.Trial(
            0,
            {"lr": 2.512e-4, "reg": 1.047e-2, "update": "sgd"},
            val_acc=0.412,
            train_acc=0.5,
            epochs=5,
            seconds=1.0,
            seed=1,
            loss_history=[2.3, 2.0],
        ),
        search.Trial(
            1,
            {"lr": 1e-2, "reg": 1e-3, "update": "adam"},
            status="diverged",
            val_acc=0.1,
            epochs=1,
            loss_history=[2.3, float("nan")],
        ),
        search.Trial(
            2, {"lr": 1e-5, "reg": 1e-1, "update": "sgd"}, status="failed", error="ValueError: boom"
        ),
        search.Trial(
            3,
            {"lr": 1e-4, "reg": 5e-2, "update": "sgd"},
            val_acc=0.3,
            train_acc=0.35,
            epochs=5,
            loss_history=[2.3, 2.1],
        ),
    ]
    return search.SearchResult(trials, ["lr", "reg"], seed=9, n_planned=100)


def test_lines_in_the_notes_form():
    result = small_result()
    assert result.line(result[0]) == "val_acc: 0.412000, lr: 2.512e-04, reg: 1.047e-02, (1 / 100)"
    assert result.lines()[2].endswith("[failed: ValueError: boom]")
    buf = io.StringIO()
    result.print(order="val_acc", file=buf)
    assert buf.getvalue().splitlines()[0].startswith("val_acc: 0.412000")


def test_best_and_sorting():
    result = small_result()
    assert result.best is result[0]
    assert result.best_params == result[0].params
    assert [t.index for t in result.sorted()] == [0, 3, 1, 2]  # NaN last
    assert [t.index for t in result.sorted("lr", reverse=False)] == [2, 3, 0, 1]
    assert [t.index for t in result.top(5)] == [0, 3]
    assert [t.index for t in result.by_status("diverged")] == [1]
    with pytest.raises(ValueError, match="status"):
        result.by_status("exploded")


def test_csv_export(tmp_path):
    import csv

    path = tmp_path / "trials.csv"
    small_result().to_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows] == ["ok", "diverged", "failed", "ok"]
    assert float(rows[0]["lr"]) == 2.512e-4 and rows[0]["update"] == "sgd"
    assert rows[2]["val_acc"] == "" and rows[2]["error"] == "ValueError: boom"
    assert small_result().to_csv().splitlines()[0].startswith("index,round,status,val_acc")


def test_json_round_trip(tmp_path):
    result = small_result()
    path = tmp_path / "trials.json"
    result.to_json(path)
    doc = json.loads(path.read_text())  # strict JSON: NaN became null
    assert doc["trials"][1]["loss_history"] == [2.3, None]
    back = search.SearchResult.from_json(path)
    assert back.seed == 9 and back.n_planned == 100 and back.searched == ["lr", "reg"]
    assert back.lines() == result.lines()
    assert math.isnan(back[1].loss_history[1])


def test_plots():
    pytest.importorskip("matplotlib")
    result = search.random_search(noisy, SPACE, 12, seed=2, verbose=False)
    ax = result.plot_scatter()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "lr" and ax.get_ylabel() == "reg"
    colours = ax.collections[0].get_array()
    assert np.allclose(sorted(colours), sorted(t.val_acc for t in result))
    ax = result.plot_loss_curves(top=3)
    assert len(ax.lines) == 3
    assert np.allclose(ax.lines[0].get_ydata(), result.best.loss_history)
    ax = small_result().plot_scatter()  # diverged/failed drawn as crosses
    assert len(ax.collections) == 2


@pytest.mark.parametrize("plot", ["plot_scatter", "plot_loss_curves", "plot_rungs"])
def test_plot_given_a_file_name_instead_of_axes_says_how_to_save(plot):
    """A user's first try, ``result.plot_rungs("rungs.png")``, gets a TypeError that says
    what ax is and how to write the figure to a file."""
    pytest.importorskip("matplotlib")
    with pytest.raises(TypeError, match=r"matplotlib Axes.*figure\.savefig"):
        getattr(small_result(), plot)(ax="rungs.png")


def test_plot_needs_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"fastnn\[plot\]"):
        small_result().plot_scatter()


def test_progress_bar_on_a_terminal_shows_the_best(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(fastnn.workflow.progress, "is_terminal", lambda stream: True)
    search.random_search(Peak(-4), SPACE, 5, seed=0)
    err = capsys.readouterr().err
    assert "5/5" in err and "best val_acc" in err
    search.random_search(Peak(-4), SPACE, 5, seed=0, verbose=False)
    assert capsys.readouterr().err == ""


def test_no_progress_bar_without_a_terminal(capsys):
    search.random_search(Peak(-4), SPACE, 3, seed=0)  # pytest's capture is not a TTY
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_needs_tqdm(monkeypatch):
    monkeypatch.setattr(fastnn.workflow.progress, "is_terminal", lambda stream: True)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"fastnn\[progress\]"):
        search.random_search(Peak(-4), SPACE, 2, seed=0)


# ---- the real models: make_train_fn on the shipped digits


@pytest.fixture(scope="module")
def digits():
    X, y = fastnn.workflow.datasets.load_digits()
    X_train, X_val, y_train, y_val = fastnn.workflow.datasets.train_val_split(
        X, y, val_size=0.25, seed=0
    )
    mean = X_train.mean(axis=0)
    return (X_train - mean) / 16, y_train, (X_val - mean) / 16, y_val


def test_lr_1e6_stops_within_its_first_epoch(digits):
    X, y, X_val, y_val = digits
    train_fn = search.make_train_fn(
        X, y, X_val, y_val, hidden_size=20, num_epochs=4, batch_size=100
    )
    result = search.grid_search(train_fn, {"lr": [1e6, 1e-1]}, seed=0, verbose=False)
    exploded, fine = result
    per_epoch = X.shape[0] // 100
    assert exploded.status == "diverged" and exploded.epochs == 1
    assert len(exploded.loss_history) < per_epoch
    assert "too high" in exploded.extra["stop_reason"]
    assert fine.status == "ok" and fine.epochs == 4
    assert len(fine.loss_history) == 4 * per_epoch and len(fine.val_acc_history) == 4
    assert result.best is fine


def test_tiny_digits_search_finds_a_good_fully_connected_net(digits):
    X, y, X_val, y_val = digits
    train_fn = search.make_train_fn(
        X,
        y,
        X_val,
        y_val,
        model="fc",
        hidden_dims=(32,),
        num_epochs=4,
        batch_size=50,
        keep_model=True,
    )
    space = {
        "lr": loguniform(1e-5, 1e-1),
        "reg": loguniform(1e-6, 1e-2),
        "update": ["adam", "rmsprop"],
    }
    result = search.random_search(train_fn, space, 6, seed=3, verbose=False)
    again = search.random_search(train_fn, space, 6, seed=3, verbose=False)
    assert outcome(result) == outcome(again)
    best = result.best
    assert best.val_acc > 0.85
    assert best.val_acc == max(best.val_acc_history)
    model = best.extra["model"]  # the best model of the best trial scores what was recorded
    assert np.mean(np.argmax(model.loss(X_val), axis=1) == y_val) == best.val_acc
    assert not result.by_status("failed")
    # the search had something to choose from
    assert min(t.val_acc for t in result.by_status("ok")) < best.val_acc - 0.2


def test_two_layer_search_in_parallel_matches_serial(digits):
    X, y, X_val, y_val = digits
    train_fn = search.make_train_fn(
        X, y, X_val, y_val, hidden_size=16, num_epochs=2, update="momentum", momentum=0.9
    )
    space = {"learning_rate": loguniform(1e-2, 1e0), "reg": loguniform(1e-5, 1e-1)}
    serial = search.random_search(train_fn, space, 4, seed=5, verbose=False)
    parallel = search.random_search(train_fn, space, 4, seed=5, n_jobs=2, verbose=False)
    assert outcome(parallel) == outcome(serial)


def test_make_train_fn_rejects_unknown_settings(digits):
    X, y, X_val, y_val = digits
    with pytest.raises(ValueError, match="unknown parameter 'hidden_dims'"):
        search.make_train_fn(X, y, X_val, y_val, hidden_dims=(10,))
    train_fn = search.make_train_fn(X, y, X_val, y_val, model="fc")
    with pytest.raises(ValueError, match="unknown parameter 'hiden_dims'"):
        search.random_search(train_fn, {"hiden_dims": [(10,)]}, 2, verbose=False)
    with pytest.raises(ValueError, match="unknown model"):
        search.make_train_fn(X, y, X_val, y_val, model="cnn")
    with pytest.raises(ValueError, match="one entry per row"):
        search.make_train_fn(X, y[:-1], X_val, y_val)


class CountsItsCopies:
    """Reports how many times the worker it runs in has unpickled one of these."""

    copies = 0

    def __init__(self):
        self.data = np.ones(1000)

    def __setstate__(self, state):
        type(self).copies += 1
        self.__dict__.update(state)

    def __call__(self, params):
        return {"val_acc": params["lr"], "pid": os.getpid(), "copies": type(self).copies}


@pytest.mark.parametrize("executor", ["n_jobs", "process pool"])
def test_train_fn_reaches_each_worker_once_per_run(executor):
    """The train_fn (and the data it holds) used to be pickled and sent with every trial."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fn = CountsItsCopies()
    runs = []
    if executor == "n_jobs":
        for _ in range(2):
            runs.append(search.random_search(fn, SPACE, 8, seed=1, n_jobs=2, verbose=False))
    else:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            for _ in range(2):
                runs.append(search.random_search(fn, SPACE, 8, seed=1, executor=ex, verbose=False))
    for run, expected in zip(runs, [1, 2]):
        assert [t.status for t in run] == ["ok"] * 8, run[0].error
        per_worker = {}
        for t in run:
            per_worker.setdefault(t.extra["pid"], set()).add(t.extra["copies"])
        # each run loads its own copy once per worker (a second run may meet a new worker)
        assert all(max(c) <= expected for c in per_worker.values()), per_worker
        assert all(len(c) == 1 for c in per_worker.values()), per_worker


@pytest.mark.filterwarnings("ignore::fastnn.workflow.search.RangeEdgeWarning")
@pytest.mark.parametrize("executor", ["n_jobs", "process pool"])
def test_coarse_to_fine_ships_train_fn_once_for_all_rounds(executor):
    """Every round used to write train_fn to a new file, which every worker loaded again."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fn = CountsItsCopies()
    kwargs = dict(rounds=[(6, 1), (6, 2)], seed=2, verbose=False)
    if executor == "n_jobs":
        result = search.coarse_to_fine(fn, SPACE, n_jobs=2, **kwargs)
    else:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
            result = search.coarse_to_fine(fn, SPACE, executor=ex, **kwargs)
    assert [t.status for t in result] == ["ok"] * 12, result[0].error
    assert {t.round for t in result} == {0, 1}
    per_worker = {}
    for t in result:
        per_worker.setdefault(t.extra["pid"], set()).add(t.extra["copies"])
    assert all(len(c) == 1 for c in per_worker.values()), per_worker


def test_runner_does_not_keep_the_pickled_train_fn():
    """The bytes of train_fn (and its data) were kept for the whole search after they had been
    written to the workers' file."""
    from fastnn.workflow.search import _make_jobs
    from fastnn.workflow.search._runner import _Runner

    jobs = _make_jobs([{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}], 0, 0, 0)
    with _Runner(CountsItsCopies(), 2, None, 1, None, False) as runner:
        trials, interrupted = runner.run(jobs)
        assert not interrupted and [t.status for t in trials] == ["ok"] * 3
        assert runner._payload is None


def test_a_full_temporary_folder_falls_back_to_sending_train_fn_with_each_trial(monkeypatch):
    """Writing train_fn (and its data) once per search needs room in the temporary folder;
    without it the search used to crash."""
    from fastnn.workflow.search import _runner

    class FullDisk:  # the runner's os module, whose files cannot be written
        def __getattr__(self, name):
            return getattr(os, name)

        def fdopen(self, fd, *args, **kwargs):
            os.close(fd)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(_runner, "os", FullDisk())
    result = search.random_search(noisy, SPACE, 4, seed=1, n_jobs=2, verbose=False)
    assert [t.status for t in result] == ["ok"] * 4, result[0].error


@pytest.mark.parametrize("name", ["grid_search", "random_search", "coarse_to_fine"])
def test_search_functions_have_real_docstrings(name):
    doc = getattr(search, name).__doc__
    assert isinstance(doc, str) and "{run_parameters}" not in doc
    for parameter in (
        "train_fn",
        "n_jobs : int",
        "executor :",
        "threads_per_trial :",
        "abort_factor :",
        "verbose : bool",
    ):
        assert parameter in doc, (name, parameter)
    assert doc.index("verbose : bool") < doc.index("Returns\n    -------")
