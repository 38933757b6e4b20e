"""The median-stopping rule in grid, random and coarse-to-fine search: which trials it stops
(against the rule recomputed here with NumPy), in parallel, through the journal and the CLI."""

import json

import numpy as np
import pytest

from fastnn import cli
from fastnn.workflow import search

EPOCHS = 6
SPACE = {"q": search.uniform(0.0, 1.0)}


def ramp_fn(params, *, seed=None, on_epoch=None):
    """Accuracy q * e / n at epoch e of n (params num_epochs, default EPOCHS), in microseconds."""
    n = params.get("num_epochs", EPOCHS)
    history = []
    for epoch in range(1, n + 1):
        acc = params["q"] * epoch / n
        history.append(acc)
        if on_epoch is not None and on_epoch(epoch, {"val_acc": acc, "loss": 1.0 - acc}):
            break
    return {"val_acc": max(history), "val_acc_history": history, "epochs": len(history)}


def no_callback_fn(params, seed=None):
    return {"val_acc": params["q"]}


def expected_serial(qs, n=EPOCHS, min_trials=5):
    """Epochs each trial runs under the rule, trials in order, recomputed from its definition:
    stop after epoch e when the best so far is below the median over earlier trials of their
    mean accuracy over their first e epochs (all of a shorter curve)."""
    curves, epochs = [], []
    for q in qs:
        full = [q * e / n for e in range(1, n + 1)]
        ran = n
        if len(curves) >= min_trials:
            for e in range(1, n + 1):
                median = np.median([np.mean(c[:e]) for c in curves])
                if max(full[:e]) < median:
                    ran = e
                    break
        curves.append(full[:ran])
        epochs.append(ran)
    return epochs


def in_order(result):
    return sorted(result, key=lambda t: t.index)


def test_random_search_stops_the_trials_the_rule_names():
    result = search.random_search(ramp_fn, SPACE, 30, median_stop=True, seed=3, verbose=False)
    trials = in_order(result)
    expected = expected_serial([t.params["q"] for t in trials])
    assert [t.epochs for t in trials] == expected
    assert [t.stopped for t in trials] == [e < EPOCHS for e in expected]
    assert sum(e < EPOCHS for e in expected) >= 10  # the rule does stop trials here
    assert all(t.status == "ok" for t in trials)
    plain = search.random_search(ramp_fn, SPACE, 30, seed=3, verbose=False)
    assert result.best.index == plain.best.index
    assert not any(t.stopped for t in plain)


def test_grid_search_stops_a_below_median_trial_at_once():
    space = {"q": [0.9, 0.8, 0.85, 0.95, 0.7, 0.5]}
    grid = search.grid_search(ramp_fn, space, median_stop=True, verbose=False)
    trials = in_order(grid)
    assert [t.epochs for t in trials] == expected_serial([t.params["q"] for t in trials])
    assert trials[-1].stopped and trials[-1].epochs == 1
    assert not any(t.stopped for t in trials[:5])


def test_stop_on_the_budget_epoch_still_counts_as_stopped():
    # one-epoch trials: a below-median trial runs its whole budget but the rule fired
    space = {"q": [0.9, 0.8, 0.85, 0.95, 0.7, 0.1, 0.99], "num_epochs": 1}
    trials = in_order(search.grid_search(ramp_fn, space, median_stop=True, verbose=False))
    assert [t.epochs for t in trials] == [1] * 7
    assert [t.stopped for t in trials] == [False] * 5 + [True, False]


def test_coarse_to_fine_compares_trials_within_their_round():
    rounds = [(12, 3), (6, 6)]
    with pytest.warns(search.RangeEdgeWarning):  # q's best is 1, the range's edge
        result = search.coarse_to_fine(
            ramp_fn, SPACE, rounds, median_stop=True, seed=5, verbose=False
        )
    for round_, (_, n) in enumerate(rounds):
        trials = in_order(t for t in result if t.round == round_)
        expected = expected_serial([t.params["q"] for t in trials], n)
        assert [t.epochs for t in trials] == expected
    # the second round's first five trials have too few same-round trials to compare with
    assert not any(t.stopped for t in in_order(t for t in result if t.round == 1)[:5])


def test_median_stop_in_parallel_stops_only_below_median_trials():
    pytest.importorskip("joblib")
    result = search.random_search(
        ramp_fn, SPACE, 24, median_stop=True, n_jobs=2, seed=3, verbose=False
    )
    stopped = [t for t in result if t.stopped]
    assert stopped and all(t.epochs < EPOCHS for t in stopped)
    assert not result.best.stopped
    finished = sorted(t.val_acc for t in result if not t.stopped)
    # a stopped trial was below the median of the others at its last epoch: never the best
    assert max(t.val_acc for t in stopped) < finished[-1]


def test_stopped_trials_come_back_from_the_journal(tmp_path):
    db = tmp_path / "search.db"
    kwargs = dict(median_stop=True, seed=3, verbose=False, storage=db)
    first = search.random_search(ramp_fn, SPACE, 20, **kwargs)
    again = search.random_search(ramp_fn, SPACE, 20, resume=True, **kwargs)
    assert [t.stopped for t in in_order(again)] == [t.stopped for t in in_order(first)]
    assert any(t.stopped for t in first)
    with pytest.raises(ValueError, match="median_stop"):  # a setting of the journaled search
        search.random_search(ramp_fn, SPACE, 20, seed=3, storage=db, resume=True, verbose=False)


@pytest.mark.parametrize(
    "run",
    [
        lambda **kw: search.random_search(no_callback_fn, SPACE, 3, **kw),
        lambda **kw: search.grid_search(no_callback_fn, {"q": [0.1, 0.2]}, **kw),
        lambda **kw: search.coarse_to_fine(no_callback_fn, SPACE, [(3, 1)], **kw),
    ],
)
def test_median_stop_needs_a_train_fn_with_on_epoch(run):
    with pytest.raises(TypeError, match="on_epoch"):
        run(median_stop=True, verbose=False)


def test_median_stop_must_be_a_bool():
    with pytest.raises(TypeError, match="median_stop must be True or False"):
        search.random_search(ramp_fn, SPACE, 3, median_stop="yes", verbose=False)


def test_cli_search_median_stop(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["search", "--strategy", "random", "--trials", "12", "--epochs", "3"]
    args += ["--hidden", "16", "--lr-range", "1e-5:1", "--median-stop", "--out", "m"]
    assert cli.main(args) == 0
    with open(tmp_path / "m" / "search.json") as f:
        trials = json.load(f)["trials"]
    assert len(trials) == 12
    assert any(t["stopped"] and t["epochs"] < 3 for t in trials)
