"""Successive halving, Hyperband and ASHA: rung arithmetic against hand tables, resumed trials,
reproducibility serially / in parallel / on Dask, bad input, the median rule, export, plot."""

import math
import pickle
import warnings

import numpy as np
import pytest

from fastnn.datasets import load_digits, train_val_split
from fastnn.nn.trainer import ClassifierTrainer
from fastnn.workflow import search
from fastnn.workflow.search.halving import BracketScheduler, HalvingScheduler
from fastnn.workflow.search.median import median_table

SPACE = {"q": search.uniform(0.0, 1.0)}


def curve_fn(params, *, epochs, state=None, seed=None, on_epoch=None):
    """A resumable train_fn in microseconds: accuracy q * (1 - 2**-epoch), seed-free."""
    done = 0 if state is None else state["done"]
    history = []
    for epoch in range(done + 1, epochs + 1):
        acc = params["q"] * (1 - 0.5**epoch)
        history.append(acc)
        if on_epoch is not None and on_epoch(epoch, {"val_acc": acc, "loss": 1.0}):
            break
    done += len(history)
    return {
        "val_acc_history": history,
        "loss_history": [1.0 / e for e in range(done - len(history) + 1, done + 1)],
        "epochs": done,
        "state": {"done": done},
    }


def bumpy_fn(params, *, epochs, state=None):
    """Loss 1 at the trial's first epoch, then 0.1, then ``params["later"]``: a continued call
    sees 0.1 first, so judged alone a later 0.5 would look like 5x its first loss."""
    done = 0 if state is None else state["done"]
    losses = [1.0, 0.1] + [params["later"]] * 30
    return {
        "val_acc_history": [params["q"]] * (epochs - done),
        "loss_history": losses[done:epochs],
        "epochs": epochs,
        "state": {"done": epochs},
    }


def stateless_fn(params, *, epochs, seed=None):
    return {"val_acc_history": [params["q"]] * epochs, "epochs": epochs}


def lazy_fn(params, *, epochs, state=None):
    """Ignores epochs: always one epoch."""
    return {"val_acc_history": [params["q"]], "epochs": 1, "state": {}}


@pytest.fixture(scope="module")
def digits_fn():
    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    return search.make_train_fn(
        X_train, y_train, X_val, y_val, "fc", hidden_dims=[32], batchnorm=True, update="adam"
    )


# ---------------------------------------------------------------- rung arithmetic (hand tables)


@pytest.mark.parametrize(
    "min_epochs, max_epochs, eta, rungs",
    [
        (1, 27, 3, [1, 3, 9, 27]),
        (1, 9, 3, [1, 3, 9]),
        (1, 10, 3, [1, 3, 10]),  # 10 // 9, 10 // 3, 10
        (1, 26, 3, [2, 8, 26]),  # log3(26) < 3: three rungs counted down from 26
        (2, 20, 2, [2, 5, 10, 20]),  # 20 // 8, 20 // 4, 20 // 2
        (5, 5, 3, [5]),
        (1, 2, 2, [1, 2]),
        (3, 8, 3, [8]),  # 3 * 3 > 8: a single rung
    ],
)
def test_rung_epochs_match_hand_table(min_epochs, max_epochs, eta, rungs):
    assert search.rung_epochs(min_epochs, max_epochs, eta) == rungs


@pytest.mark.parametrize(
    "max_epochs, eta, brackets",
    [
        (81, 3, [(81, 0), (34, 1), (15, 2), (8, 3), (5, 4)]),  # Li et al. 2017, table 1
        (27, 3, [(27, 0), (12, 1), (6, 2), (4, 3)]),
        (9, 3, [(9, 0), (5, 1), (3, 2)]),
        (4, 2, [(4, 0), (3, 1), (3, 2)]),  # ceil(3*4/3), ceil(3*2/2), ceil(3*1/1)
    ],
)
def test_hyperband_brackets_match_hand_table(max_epochs, eta, brackets):
    assert search.hyperband_brackets(1, max_epochs, eta) == brackets


def run_scheduler(scheduler, score):
    """Hand out jobs one at a time (a serial run); report score(trial, rung)."""
    jobs = []
    while (job := scheduler.next_job()) is not None:
        jobs.append(job)
        scheduler.report(job[0], score(*job))
    assert scheduler.finished
    return jobs


def test_synchronous_halving_promotes_the_best_third_rung_by_rung():
    scores = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]  # rank: 1 5 3 7 0 8 4 2 6
    jobs = run_scheduler(HalvingScheduler(9, 3, 3, asynchronous=False), lambda t, r: scores[t])
    assert jobs == [(t, 0) for t in range(9)] + [(1, 1), (5, 1), (3, 1), (1, 2)]


def test_failed_trials_count_in_the_rung_but_are_never_promoted():
    scores = [0.5, None, 0.1, float("nan"), 0.3, 0.8]  # 6 trials: 2 go on, then 1
    jobs = run_scheduler(HalvingScheduler(6, 3, 3, asynchronous=False), lambda t, r: scores[t])
    assert jobs[6:] == [(5, 1), (0, 1), (5, 2)]


def test_the_best_trial_reaches_the_last_rung_even_with_fewer_than_eta_trials():
    jobs = run_scheduler(HalvingScheduler(2, 3, 3, asynchronous=False), lambda t, r: t)
    assert jobs == [(0, 0), (1, 0), (1, 1), (1, 2)]


def test_asha_promotes_without_waiting_for_the_rung():
    scores = [0.1, 0.2, 0.9, 0.3, 0.0, 0.0]
    jobs = run_scheduler(HalvingScheduler(6, 2, 3, asynchronous=True), lambda t, r: scores[t])
    # after 3 reports trial 2 is the top third of rung 0: promoted before trial 3 starts;
    # after 6 reports the top two are 2 (already promoted) and 3
    assert jobs == [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0), (4, 0), (5, 0), (3, 1)]


def test_asha_hands_out_jobs_while_others_run():
    scheduler = HalvingScheduler(4, 2, 2, asynchronous=True)
    a, b = scheduler.next_job(), scheduler.next_job()  # two workers busy
    scheduler.report(b[0], 0.9)
    assert scheduler.next_job() == (2, 0)  # one report is not enough to promote (1 // 2 = 0)
    scheduler.report(a[0], 0.1)
    assert scheduler.next_job() == (1, 1)  # top half of 2 reports: trial 1, while 2 runs
    assert not scheduler.finished


def test_lazy_asha_starts_new_trials_before_speculating():
    # the same reports as an eager scheduler that promotes trial 1 after three of them
    scheduler = HalvingScheduler(6, 2, 3, asynchronous=True, promotion="lazy")
    assert [scheduler.next_job(), scheduler.next_job()] == [(0, 0), (1, 0)]
    for trial, score, job in [(0, 0.1, (2, 0)), (1, 0.9, (3, 0)), (2, 0.5, (4, 0))]:
        scheduler.report(trial, score)
        assert scheduler.next_job() == job
    scheduler.report(3, 0.2)
    assert scheduler.next_job() == (5, 0)
    scheduler.report(4, 0.3)  # five of six reported, trial 5 runs
    assert scheduler.next_job(speculate=False) is None  # the other worker is busy
    assert scheduler.next_job(speculate=True) == (1, 1)  # a worker would wait: top 5 // 3
    scheduler.report(5, 0.8)
    assert scheduler.next_job(speculate=False) == (5, 1)  # complete: the top 6 // 3 = 2
    assert scheduler.next_job() is None
    scheduler.report(1, 0.95)
    scheduler.report(5, 0.85)
    assert scheduler.finished


def test_eager_asha_promotes_before_new_trials_with_the_same_reports():
    scheduler = HalvingScheduler(6, 2, 3, asynchronous=True, promotion="eager")
    scheduler.next_job(), scheduler.next_job()
    for trial, score in [(0, 0.1), (1, 0.9)]:
        scheduler.report(trial, score)
        scheduler.next_job()
    scheduler.report(2, 0.5)
    assert scheduler.next_job(speculate=False) == (1, 1)  # Li et al.: promotions first


def test_serial_lazy_and_synchronous_runs_hand_out_the_same_jobs():
    scores = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4]
    lazy = HalvingScheduler(9, 3, 3, asynchronous=True, promotion="lazy")
    sync = HalvingScheduler(9, 3, 3, asynchronous=False)
    assert run_scheduler(lazy, lambda t, r: scores[t]) == run_scheduler(
        sync, lambda t, r: scores[t]
    )


def test_lazy_brackets_give_every_sure_job_before_any_speculation():
    scheduler = BracketScheduler([(6, 0), (1, 1)], 2, 3, asynchronous=True, promotion="lazy")
    started = [scheduler.next_job() for _ in range(6)]
    assert started == [(0, t, 0) for t in range(6)]
    for t, score in enumerate([0.1, 0.9, 0.5]):
        scheduler.report(0, t, score)
    assert scheduler.next_job(speculate=True) == (1, 0, 1)  # bracket 1's trial first
    assert scheduler.next_job(speculate=False) is None
    assert scheduler.next_job(speculate=True) == (0, 1, 1)  # then bracket 0 speculates
    eager = BracketScheduler([(6, 0), (1, 1)], 2, 3, asynchronous=True, promotion="eager")
    [eager.next_job() for _ in range(6)]
    for t, score in enumerate([0.1, 0.9, 0.5]):
        eager.report(0, t, score)
    assert eager.next_job() == (0, 1, 1)


def test_hyperband_scheduler_runs_each_bracket_from_its_own_rung():
    scheduler = BracketScheduler(search.hyperband_brackets(1, 9, 3), 3, 3, asynchronous=False)
    jobs = []
    while (job := scheduler.next_job()) is not None:
        jobs.append(job)
        scheduler.report(job[0], job[1], float(job[1]))
    per_bracket = [[(t, r) for b, t, r in jobs if b == k] for k in range(3)]
    assert per_bracket[0] == [(t, 0) for t in range(9)] + [(8, 1), (7, 1), (6, 1), (8, 2)]
    assert per_bracket[1] == [(t, 1) for t in range(5)] + [(4, 2)]
    assert per_bracket[2] == [(t, 2) for t in range(3)]
    assert scheduler.planned_jobs() == 13 + 6 + 3


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eta": 1}, "eta must be >= 2"),
        ({"min_epochs": 5, "max_epochs": 3}, "must not exceed max_epochs"),
        ({"min_epochs": 0}, "min_epochs must be >= 1"),
        ({"promotion": "greedy"}, "promotion must be one of lazy, eager"),
    ],
)
def test_bad_halving_settings_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        search.successive_halving(curve_fn, SPACE, 3, seed=0, verbose=False, **kwargs)
    with pytest.raises(ValueError, match=match):
        search.hyperband(curve_fn, SPACE, seed=0, verbose=False, **kwargs)


def test_non_integer_epochs_raise_type_error():
    with pytest.raises(TypeError, match="max_epochs must be an integer"):
        search.rung_epochs(1, 9.5, 3)


def test_a_train_fn_that_ignores_epochs_gets_one_warning():
    with pytest.warns(RuntimeWarning, match="honours epochs") as caught:
        search.successive_halving(lazy_fn, SPACE, 9, seed=0, verbose=False)
    assert sum("honours epochs" in str(w.message) for w in caught) == 1


def test_a_train_fn_without_state_is_restarted_with_one_warning():
    with pytest.warns(RuntimeWarning, match="trains again from its first epoch") as caught:
        result = search.successive_halving(stateless_fn, SPACE, 9, seed=0, verbose=False)
    assert sum("first epoch" in str(w.message) for w in caught) == 1
    top = [t for t in result if t.rung == 2]
    assert len(top) == 1
    assert top[0].epochs == 1 + 3 + 9  # every run counted
    assert len(top[0].val_acc_history) == 9  # the histories are the last run's


def test_median_stop_needs_on_epoch():
    with pytest.raises(TypeError, match="on_epoch"):
        search.successive_halving(stateless_fn, SPACE, 3, seed=0, median_stop=True, verbose=False)


# ---------------------------------------------------------------- trials continue


def test_model_train_fn_resumes_exactly_where_it_stopped(digits_fn):
    params = {"lr": 1e-3, "reg": 1e-4}
    straight = digits_fn(params, seed=3, epochs=3)
    first = digits_fn(params, seed=3, epochs=1)
    rest = digits_fn(params, seed=3, epochs=3, state=pickle.loads(pickle.dumps(first["state"])))
    assert (first["epochs"], rest["epochs"]) == (1, 3)
    for key in ("loss_history", "val_acc_history", "train_acc_history"):
        assert first[key] + rest[key] == straight[key]
    assert straight["state"]["epochs_done"] == 3
    # the state is the model and the optimizer, not the data
    assert len(pickle.dumps(first["state"])) < 20 * digits_fn.X[:1].nbytes * 64


def test_model_train_fn_rejects_a_budget_already_trained(digits_fn):
    first = digits_fn({"lr": 1e-3}, seed=0, epochs=2)
    with pytest.raises(ValueError, match="asks for no training"):
        digits_fn({"lr": 1e-3}, seed=0, epochs=2, state=first["state"])


def test_promoted_trials_continue_their_history(digits_fn):
    space = {"lr": search.loguniform(1e-3, 1e-2), "reg": search.loguniform(1e-5, 1e-3)}
    result = search.successive_halving(
        digits_fn, space, 4, min_epochs=1, max_epochs=4, eta=2, seed=5, verbose=False
    )
    iterations = digits_fn._iterations_per_epoch({})
    by_rung = {t.rung: t for t in result}
    assert sorted(t.rung for t in result) == [0, 0, 1, 2]
    for trial in result:
        assert trial.epochs == search.rung_epochs(1, 4, 2)[trial.rung]
        assert len(trial.val_acc_history) == trial.epochs
        assert len(trial.loss_history) == trial.epochs * iterations
        assert trial.stopped == (trial.rung != 2)
    top = by_rung[2]
    straight = digits_fn(top.params, seed=top.seed, epochs=4)
    assert top.loss_history == straight["loss_history"]
    assert top.val_acc == max(straight["val_acc_history"])


def test_two_processes_continue_promoted_trials_exactly(digits_fn):
    pytest.importorskip("joblib")
    space = {"lr": search.loguniform(1e-3, 1e-2), "reg": search.loguniform(1e-5, 1e-3)}
    result = search.successive_halving(
        digits_fn, space, 6, max_epochs=4, eta=2, seed=5, n_jobs=2, verbose=False
    )
    promoted = [t for t in result if t.rung > 0]
    assert promoted
    for trial in promoted:  # each rung's job continued from the state the last one returned
        straight = digits_fn(trial.params, seed=trial.seed, epochs=trial.epochs)
        assert trial.loss_history == straight["loss_history"]
    assert all("state" not in t.extra for t in result)


# ---------------------------------------------------------------- reproducibility


def outcome(result):
    return [(t.index, t.params, t.seed, t.rung, t.val_acc_history) for t in result]


def test_same_seed_same_search_serially():
    a = search.hyperband(curve_fn, SPACE, max_epochs=9, seed=11, verbose=False)
    b = search.hyperband(curve_fn, SPACE, max_epochs=9, seed=11, verbose=False)
    c = search.hyperband(curve_fn, SPACE, max_epochs=9, seed=12, verbose=False)
    assert outcome(a) == outcome(b)
    assert outcome(a) != outcome(c)
    assert [t.round for t in a] == [0] * 9 + [1] * 5 + [2] * 3


def assert_same_trials(serial, parallel):
    """Same configurations and seeds; where both trained a trial, the same curve so far."""
    assert [(t.index, t.params, t.seed) for t in serial] == [
        (t.index, t.params, t.seed) for t in parallel
    ]
    for s, p in zip(serial, parallel, strict=True):
        n = min(len(s.val_acc_history), len(p.val_acc_history))
        assert n >= 1
        assert s.val_acc_history[:n] == p.val_acc_history[:n]


@pytest.mark.parametrize("promotion", ["lazy", "eager"])
def test_same_seed_same_trials_with_two_processes(promotion):
    pytest.importorskip("joblib")
    serial = search.successive_halving(curve_fn, SPACE, 9, seed=4, verbose=False)
    parallel = search.successive_halving(
        curve_fn, SPACE, 9, seed=4, n_jobs=2, promotion=promotion, verbose=False
    )
    assert_same_trials(serial, parallel)
    assert max(t.val_acc for t in parallel) == max(t.val_acc for t in serial)
    assert max(t.rung for t in parallel) == 2


def test_jobs_no_result_can_change_go_to_the_workers_in_batches(monkeypatch):
    """New trials (and promotions from complete rungs) are submitted several at a time, one
    round trip per batch; the trials are the serial run's."""
    import concurrent.futures as cf

    from fastnn.workflow.search._runner import _Runner

    batches = []
    submit = _Runner.submit
    monkeypatch.setattr(
        _Runner, "submit", lambda self, *jobs: batches.append(jobs) or submit(self, *jobs)
    )
    serial = search.successive_halving(curve_fn, SPACE, 27, seed=4, verbose=False)
    assert all(len(jobs) == 1 for jobs in batches)
    batches.clear()
    with cf.ThreadPoolExecutor(2) as pool:
        parallel = search.successive_halving(
            curve_fn, SPACE, 27, seed=4, executor=pool, verbose=False
        )
    assert_same_trials(serial, parallel)
    sizes = {rung: max(len(j) for j in batches if j[0].rung == rung) for rung in (0, 1, 2)}
    assert sizes[0] > 1, sizes
    # no more than a fair share of a rung per slot (2 workers x 2) (+ 1: another rung's job
    # closes a batch): 27 / 4, 9 / 4, 3 / 4
    assert sizes[0] <= 27 // 4 + 1 and sizes[1] <= 9 // 4 + 1 and sizes[2] <= 2, sizes


def test_same_seed_same_trials_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    import logging

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            host="127.0.0.1",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = search.successive_halving(
            curve_fn, SPACE, 9, seed=4, executor=client, verbose=False
        )
    serial = search.successive_halving(curve_fn, SPACE, 9, seed=4, verbose=False)
    assert_same_trials(serial, on_dask)
    assert max(t.rung for t in on_dask) == 2


# ---------------------------------------------------------------- the median rule


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_continued_trial_is_judged_against_its_first_loss(n_jobs):
    space = {"q": search.choice([0.2, 0.4, 0.6, 0.8, 0.9]), "later": search.choice([0.5, 5.0])}
    result = search.successive_halving(
        bumpy_fn, space, 27, min_epochs=2, max_epochs=18, seed=0, n_jobs=n_jobs, verbose=False
    )
    promoted = [t for t in result if t.rung > 0]
    assert promoted
    for t in promoted:
        # 0.5 is half the trial's first loss; 5.0 is five times it
        assert t.status == ("ok" if t.params["later"] == 0.5 else "diverged"), t
    assert result.best.params["later"] == 0.5 and result.best.rung == 2


def test_median_table_by_hand():
    curves = [[0.1, 0.3], [0.2], [0.5, 0.5, 0.8], [0.4, 0.0], [0.6, 0.6]]
    # epoch 1 means: .1 .2 .5 .4 .6 -> .4; epoch 2: .2 .2 .5 .2 .6 -> .2
    assert median_table(curves, 2) == pytest.approx([0.4, 0.2])
    assert median_table(curves[:4], 2) == [None, None]


def test_median_stop_callback():
    stop = search.MedianStop([0.5, None, 0.7], best=0.6)
    assert not stop(1, {"val_acc": 0.2})  # best so far 0.6 >= 0.5
    assert not stop(2, {"val_acc": 0.1})  # no rule at epoch 2
    assert stop(3, {"val_acc": 0.65})  # 0.65 < 0.7
    assert not stop(4, {"val_acc": 0.0})  # past the table


def test_median_stop_stops_trials_inside_a_rung():
    kwargs = dict(min_epochs=3, max_epochs=27, seed=2, verbose=False)
    plain = search.successive_halving(curve_fn, SPACE, 27, **kwargs)
    median = search.successive_halving(curve_fn, SPACE, 27, median_stop=True, **kwargs)
    cut = [t for t in median if t.epochs < search.rung_epochs(3, 27, 3)[t.rung]]
    assert cut and all(t.stopped and t.rung == 0 for t in cut)
    assert sum(t.epochs for t in median) < sum(t.epochs for t in plain)
    assert median.best.index == plain.best.index


def test_trainer_on_epoch_stops_the_run(digits_fn):
    seen = []

    def on_epoch(epoch, stats):
        seen.append((epoch, sorted(stats)))
        return epoch == 2

    _, stats = ClassifierTrainer().train(
        digits_fn.X,
        digits_fn.y,
        digits_fn.X_val,
        digits_fn.y_val,
        _small_net(digits_fn),
        num_epochs=5,
        seed=0,
        on_epoch=on_epoch,
    )
    assert seen == [(1, ["loss", "lr", "train_acc", "val_acc"]), (2, seen[0][1])]
    assert stats["epochs"] == 2 and len(stats["val_acc_history"]) == 2
    assert "on_epoch" in stats["stop_reason"]
    assert not stats["diverged"]


def _small_net(fn):
    from fastnn.nn.models import FullyConnectedNet

    return FullyConnectedNet([16], input_dim=fn.X.shape[1], num_classes=10, seed=0)


# ---------------------------------------------------------------- result, export, plot


def test_rung_and_stopped_survive_csv_and_json():
    result = search.successive_halving(curve_fn, SPACE, 9, seed=1, verbose=False)
    header = result.to_csv().splitlines()[0].split(",")
    assert header[:8] == [
        "index",
        "round",
        "status",
        "val_acc",
        "train_acc",
        "epochs",
        "rung",
        "stopped",
    ]
    back = search.SearchResult.from_json(result.to_json())
    assert [(t.rung, t.stopped, t.epochs) for t in back] == [
        (t.rung, t.stopped, t.epochs) for t in result
    ]
    assert sum(not t.stopped for t in result) == 1


def test_rung_plot_greys_the_stopped_trials():
    pytest.importorskip("matplotlib")
    result = search.successive_halving(curve_fn, SPACE, 9, seed=1, verbose=False)
    ax = result.plot_rungs()
    colours = [line.get_color() for line in ax.get_lines()]
    assert len(colours) == 9
    assert colours.count("0.7") == 8  # all but the one trained to the last rung
    assert ax.get_xlabel() == "epoch"
    assert math.isclose(max(max(line.get_ydata()) for line in ax.get_lines()), result.best.val_acc)


def test_no_warning_for_a_well_behaved_train_fn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = search.hyperband(curve_fn, SPACE, max_epochs=9, seed=0, verbose=False)
    assert len(result) == 17 and np.isfinite(result.best.val_acc)


class _StopAfter:
    """curve_fn, interrupted (Ctrl-C) on its ``limit + 1``-th call; counts its calls."""

    def __init__(self, limit):
        self.limit, self.calls = limit, 0

    def __call__(self, params, *, epochs, state=None, seed=None, on_epoch=None):
        self.calls += 1
        if self.calls > self.limit:
            raise KeyboardInterrupt
        return curve_fn(params, epochs=epochs, state=state, seed=seed, on_epoch=on_epoch)


@pytest.mark.parametrize("strategy", ["successive_halving", "hyperband"])
def test_an_interrupted_halving_search_resumes_from_its_journal(tmp_path, strategy):
    """Every rung a trial ran is one journal row; a resumed search replays them and ends with
    the trials of an uninterrupted run (a promoted trial whose state was not journaled trains
    again from its first epoch, which curve_fn reproduces exactly)."""
    run = getattr(search, strategy)
    args = (curve_fn, SPACE, 9) if strategy == "successive_halving" else (curve_fn, SPACE)
    options = {"max_epochs": 9, "seed": 5, "verbose": False}
    full = run(*args, **options)
    storage = tmp_path / "search.db"
    stopping = _StopAfter(7)
    first = run(stopping, *args[1:], storage=storage, **options)
    assert first.interrupted and stopping.calls == 8
    with pytest.warns(RuntimeWarning, match="keeps no trial states"):
        resumed = run(curve_fn, *args[1:], storage=storage, resume=True, **options)
    assert not resumed.interrupted
    assert outcome(resumed) == outcome(full)
    assert [t.stopped for t in resumed] == [t.stopped for t in full]
    counting = _StopAfter(10**6)
    again = run(counting, *args[1:], storage=storage, resume=True, **options)
    assert counting.calls == 0  # every rung job is in the journal
    assert outcome(again) == outcome(full)


@pytest.mark.parametrize("first, then", [("serial", "executor"), ("executor", "serial")])
def test_a_resume_cannot_switch_between_synchronous_halving_and_asha(tmp_path, first, then):
    """Synchronous rungs (serially) and ASHA (an executor, n_jobs > 1) train other trials: the
    journal records which one ran, and a resume that would switch is refused."""
    import concurrent.futures as cf

    options = {"max_epochs": 9, "seed": 5, "verbose": False, "storage": tmp_path / "s.db"}
    with cf.ThreadPoolExecutor(2) as pool:
        kinds = {"serial": {}, "executor": {"executor": pool}}
        stopped = search.successive_halving(_StopAfter(4), SPACE, 9, **options, **kinds[first])
        assert stopped.interrupted
        counting = _StopAfter(10**6)
        with pytest.raises(ValueError, match="cannot resume: the journal's search ran"):
            search.successive_halving(counting, SPACE, 9, resume=True, **options, **kinds[then])
        assert counting.calls == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # states are not journaled
            resumed = search.successive_halving(
                curve_fn, SPACE, 9, resume=True, **options, **kinds[first]
            )
    assert not resumed.interrupted


def test_a_journal_written_before_the_schedule_was_recorded_still_resumes(tmp_path):
    import json
    import sqlite3

    storage = tmp_path / "s.db"
    options = {"max_epochs": 9, "seed": 5, "verbose": False, "storage": storage}
    search.successive_halving(_StopAfter(4), SPACE, 9, **options)
    with sqlite3.connect(storage) as c:
        (text,) = c.execute("SELECT definition FROM study").fetchone()
        definition = json.loads(text)
        assert definition.pop("schedule") == "synchronous"
        c.execute("UPDATE study SET definition = ?", (json.dumps(definition),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        resumed = search.successive_halving(curve_fn, SPACE, 9, resume=True, **options)
    whole = search.successive_halving(curve_fn, SPACE, 9, **{**options, "storage": None})
    assert outcome(resumed) == outcome(whole)


def test_a_trial_timeout_alone_keeps_the_rungs_synchronous():
    """trial_timeout runs trials in one worker process, one at a time: still successive
    halving's synchronous rungs (as documented), not ASHA."""
    options = {"max_epochs": 9, "seed": 6, "verbose": False, "promotion": "eager"}
    serial = search.successive_halving(curve_fn, SPACE, 9, **options)
    timed = search.successive_halving(curve_fn, SPACE, 9, trial_timeout=60, **options)
    assert outcome(timed) == outcome(serial)


# ---- a halving job's state between processes


class _StatefulFn:
    """Counts epochs in its state; the state holds arrays, a Generator and (optionally) a
    lambda, which only cloudpickle can pickle."""

    def __init__(self, with_lambda=False):
        self.with_lambda = with_lambda
        self.seen = []

    def __call__(self, params, epochs, state=None):
        self.seen.append(state)
        done = 0 if state is None else state["epochs"]
        w = np.zeros(3) if state is None else state["w"] + 1.0
        new = {"epochs": epochs, "w": w, "rng": np.random.default_rng(epochs)}
        if self.with_lambda:
            new["f"] = lambda v: v + done
        return {"val_acc": params["lr"], "epochs": epochs, "state": new}


@pytest.mark.parametrize("with_lambda", [False, True])
def test_a_halving_jobs_state_travels_packed_and_is_unpacked_for_train_fn(tmp_path, with_lambda):
    from fastnn.workflow.search._runner import PackedState, _Job, _run_trial, _run_trial_from_file

    fn = _StatefulFn(with_lambda)
    path = tmp_path / "fn.pkl"
    cloudpickle = pytest.importorskip("cloudpickle")  # loky's (the n_jobs extra)
    path.write_bytes(cloudpickle.dumps(fn))  # the worker side of a run: its train_fn
    job = _Job(0, 0, {"lr": 0.5}, 1, {"epochs": 1, "state": None}, rung=0)
    first = _run_trial_from_file(str(path), job, False, None)
    packed = first.extra["state"]
    assert isinstance(packed, PackedState)
    # the search process forwards it as it came (a pickle round trip keeps the type)
    packed = pickle.loads(pickle.dumps(packed))
    assert isinstance(packed, PackedState)
    state = packed.unpack()
    assert state["epochs"] == 1 and np.array_equal(state["w"], np.zeros(3))
    # the next job gets the unpacked state (here in this process, as a serial run would)
    fn2 = _StatefulFn(with_lambda)
    job2 = _Job(0, 0, {"lr": 0.5}, 1, {"epochs": 3, "state": packed}, rung=1)
    second = _run_trial(fn2, job2, False, None)
    got = fn2.seen[-1]
    assert isinstance(got, dict) and got["epochs"] == 1
    assert np.array_equal(got["w"], np.zeros(3))
    assert got["rng"].integers(1 << 30) == np.random.default_rng(1).integers(1 << 30)
    if with_lambda:
        assert got["f"](1) == 1
    assert second.status == "ok" and second.extra["state"]["epochs"] == 3  # not packed here


def test_a_plain_jobs_state_is_left_as_train_fn_returned_it(tmp_path):
    from fastnn.workflow.search._runner import _Job, _run_trial_from_file

    path = tmp_path / "fn.pkl"
    path.write_bytes(pickle.dumps(_StatefulFn()))
    job = _Job(0, 0, {"lr": 0.5}, 1, {"epochs": 1, "state": None})  # a random search's job
    trial = _run_trial_from_file(str(path), job, False, None)
    assert type(trial.extra["state"]) is dict
