"""make_train_fn(..., trainer='solver'): resumed trials equal one long run, the Solver's own
continuation, on_epoch, successive halving and parallel random search, bad input."""

import pickle

import numpy as np
import pytest

from fastnn.datasets import load_digits, train_val_split
from fastnn.nn.models import FullyConnectedNet
from fastnn.workflow import search
from fastnn.workflow.solver import Solver


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    mean = X_train.mean(axis=0)
    return (X_train - mean) / 16, y_train, (X_val - mean) / 16, y_val


def solver_fn(digits, **fixed):
    fixed.setdefault("hidden_dims", [32])
    return search.make_train_fn(*digits, trainer="solver", **fixed)


def assert_same_model(a, b):
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)
    for bn_a, bn_b in zip(a.bn_params, b.bn_params, strict=True):
        for key in ("running_mean", "running_var"):
            np.testing.assert_array_equal(bn_a[key], bn_b[key], err_msg=key)


# ---------------------------------------------------------------- exact resume


@pytest.mark.parametrize(
    "settings",
    [
        {"update_rule": "sgd_momentum", "lr": 0.05, "lr_decay": 0.9, "normalization": "batchnorm"},
        {"update_rule": "adam", "lr": 1e-3, "dropout_keep_ratio": 0.7, "num_train_samples": 200},
        {
            "update_rule": "adam",
            "lr": 1e-3,
            "beta1": 0.8,
            "normalization": "batchnorm",
            "dropout_keep_ratio": 0.8,
        },
    ],
    ids=["sgd_momentum-batchnorm", "adam-dropout", "adam-batchnorm-dropout"],
)
def test_resumed_trial_equals_one_run(digits, settings):
    train_fn = solver_fn(digits, **settings)
    straight = train_fn({}, seed=3, epochs=3)
    first = train_fn({}, seed=3, epochs=1)
    # through pickle, as a worker process receives it
    rest = train_fn({}, seed=3, epochs=3, state=pickle.loads(pickle.dumps(first["state"])))
    assert (first["epochs"], rest["epochs"], straight["epochs"]) == (1, 3, 3)
    assert len(straight["val_acc_history"]) == len(straight["train_acc_history"]) == 3
    for key in ("loss_history", "val_acc_history", "train_acc_history"):
        assert first[key] + rest[key] == straight[key], key
    assert_same_model(rest["state"]["model"], straight["state"]["model"])
    assert rest["state"]["epochs_done"] == 3
    assert (
        rest["state"]["first_loss"] == straight["state"]["first_loss"] == first["loss_history"][0]
    )
    assert rest["val_acc"] == max(straight["val_acc_history"][1:])
    # the decayed learning rate travels in the optimizer configs
    lr = {c["learning_rate"] for c in straight["state"]["optim_configs"].values()}
    assert lr == {c["learning_rate"] for c in rest["state"]["optim_configs"].values()}
    # another seed is another run
    assert train_fn({}, seed=4, epochs=1)["loss_history"] != first["loss_history"]


def test_resume_starts_from_the_last_params_not_the_best(digits):
    train_fn = solver_fn(
        digits, update_rule="sgd_momentum", lr=0.5, lr_decay=0.9, normalization="batchnorm"
    )
    straight = train_fn({}, seed=3, epochs=4)
    first = train_fn({}, seed=3, epochs=3)
    assert first["val_acc"] > first["val_acc_history"][-1]  # the best epoch is not the last
    rest = train_fn({}, seed=3, epochs=4, state=first["state"])
    assert first["loss_history"] + rest["loss_history"] == straight["loss_history"]
    assert_same_model(rest["state"]["model"], straight["state"]["model"])


def test_solver_continues_where_it_stopped(digits, capsys):
    X, y, X_val, y_val = digits
    data = {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val}

    def solver(num_epochs):
        net = FullyConnectedNet([20], input_dim=64, seed=1, normalization="batchnorm")
        return Solver(net, data, update_rule="adam", num_epochs=num_epochs, seed=2, verbose=False)

    straight = solver(3)
    straight.train()
    resumed = solver(1)
    resumed.train()
    assert resumed.model.params is resumed.best_params
    # a continued train() starts from final_params, whatever the model holds
    resumed.model.params = {k: np.zeros_like(v) for k, v in resumed.model.params.items()}
    resumed.num_epochs = 3
    resumed.verbose = True
    resumed.train()
    for key in ("loss_history", "train_acc_history", "val_acc_history"):
        assert getattr(resumed, key) == getattr(straight, key), key
    assert len(resumed.val_acc_history) == 4  # after the first iteration and every epoch
    assert resumed.epoch == 3
    for name in straight.final_params:
        np.testing.assert_array_equal(resumed.final_params[name], straight.final_params[name])
    epoch_lines = [line for line in capsys.readouterr().out.splitlines() if "(Epoch" in line]
    assert [line.split(")")[0] for line in epoch_lines] == ["(Epoch 2 / 3", "(Epoch 3 / 3"]
    # at num_epochs, train() again trains num_epochs more, as the course's Solver does
    resumed.train()
    assert resumed.epoch == 6 and len(resumed.val_acc_history) == 7
    longer = solver(6)
    longer.train()
    assert resumed.loss_history == longer.loss_history


@pytest.mark.parametrize("trainer", ["classifier", "solver"])
def test_the_state_keeps_the_trials_abort_reference(digits, trainer):
    train_fn = search.make_train_fn(*digits, "fc", trainer=trainer, hidden_dims=[16])
    first = train_fn({}, seed=0, epochs=1)
    rest = train_fn({}, seed=0, epochs=2, state=first["state"])
    key = "first_loss" if trainer == "solver" else "first_cost"
    assert rest["state"][key] == first["state"][key] == first["loss_history"][0]
    assert rest["loss_history"][0] != first["loss_history"][0]


class ScriptedLoss:
    """A model whose training losses follow a script (what the divergence rule sees)."""

    def __init__(self, losses):
        self.params = {"w": np.zeros(1)}
        self.losses = iter(losses)

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((X.shape[0], 2))
        return next(self.losses), {"w": np.zeros(1)}


def test_a_run_continued_in_a_new_solver_keeps_its_abort_reference():
    data = {"X_train": np.zeros((4, 3)), "y_train": np.zeros(4, int)}
    data.update(X_val=data["X_train"], y_val=data["y_train"])
    model = ScriptedLoss([2.0, 0.1, 0.5, 0.1, 0.5])  # 0.5 is above 3 x 0.1, not 3 x 2.0
    kw = {"batch_size": 4, "abort_cost_ratio": 3.0, "seed": 0, "verbose": False}
    first = Solver(model, data, num_epochs=1, **kw)
    first.train()
    for first_loss, diverged in ((first.first_loss, False), (None, True)):
        solver = Solver(model, data, num_epochs=first.epoch + 2, **kw)
        solver.epoch, solver.optim_configs = first.epoch, first.optim_configs
        solver.first_loss = first_loss
        solver.train()
        assert solver.diverged == diverged
    assert "iteration 3 exceeds 3 x the first cost 0.1" in solver.stop_reason


# ---------------------------------------------------------------- the result, on_epoch


def test_result_has_one_entry_per_epoch_and_the_best_model(digits):
    train_fn = solver_fn(digits, update_rule="adam", keep_model=True)
    result = train_fn({"lr": 1e-3, "num_epochs": 2}, seed=0)
    assert "state" not in result  # no epochs= given
    assert len(result["val_acc_history"]) == result["epochs"] == 2
    assert len(result["loss_history"]) == 2 * (digits[0].shape[0] // 100)
    model = result["model"]
    assert isinstance(model, FullyConnectedNet)
    scores = model.loss(digits[2])
    assert np.mean(scores.argmax(axis=1) == digits[3]) == result["val_acc"]
    assert not result["diverged"] and result["stop_reason"] is None


def test_kept_model_is_the_best_epochs_even_when_the_first_check_was_best(digits):
    X, y, X_val, y_val = digits
    # shifted validation labels: the better the net learns, the worse it scores, so the
    # Solver's check after the first iteration is its best (params from then, running
    # statistics from the end), which no epoch history holds
    shifted = (y_val + 1) % 10
    train_fn = search.make_train_fn(
        X,
        y,
        X_val,
        shifted,
        trainer="solver",
        hidden_dims=[32],
        update_rule="adam",
        lr=1e-3,
        normalization="batchnorm",
        keep_model=True,
    )
    first = train_fn({}, seed=0, epochs=2)
    rest = train_fn({}, seed=0, epochs=4, state=first["state"])
    for result in (first, rest):
        model = result["model"]
        accuracy = np.mean(model.loss(X_val).argmax(axis=1) == shifted)
        assert result["val_acc"] == max(result["val_acc_history"])
        assert accuracy == result["val_acc"]
        assert "seed" not in model.dropout_param


def test_on_epoch_counts_the_trial_epochs_and_stops(digits):
    train_fn = solver_fn(digits, update_rule="adam", lr=1e-3)
    first = train_fn({}, seed=0, epochs=1)
    seen = []

    def on_epoch(epoch, stats):
        seen.append((epoch, stats["val_acc"]))
        return epoch == 2

    rest = train_fn({}, seed=0, epochs=4, state=first["state"], on_epoch=on_epoch)
    assert [epoch for epoch, _ in seen] == [2]
    assert rest["epochs"] == 2 and rest["state"]["epochs_done"] == 2
    assert rest["val_acc_history"] == [seen[0][1]]
    assert "on_epoch" in rest["stop_reason"] and not rest["diverged"]


# ---------------------------------------------------------------- inside the searches


def test_successive_halving_continues_promoted_solver_trials(digits):
    X, y, X_val, y_val = digits
    train_fn = search.make_train_fn(
        X[:400], y[:400], X_val, y_val, trainer="solver", hidden_dims=[16], update_rule="adam"
    )
    space = {"lr": search.loguniform(1e-3, 1e-2), "reg": search.loguniform(1e-5, 1e-3)}
    result = search.successive_halving(
        train_fn, space, 4, min_epochs=1, max_epochs=4, eta=2, seed=5, verbose=False
    )
    assert sorted(t.rung for t in result) == [0, 0, 1, 2]
    for trial in result:
        assert trial.epochs == search.rung_epochs(1, 4, 2)[trial.rung]
        assert len(trial.val_acc_history) == trial.epochs
        assert len(trial.loss_history) == trial.epochs * 4
    top = next(t for t in result if t.rung == 2)
    straight = train_fn(top.params, seed=top.seed, epochs=4)
    assert top.loss_history == straight["loss_history"]
    assert top.val_acc_history == straight["val_acc_history"]


def test_random_search_with_two_workers(digits):
    X, y, X_val, y_val = digits
    train_fn = search.make_train_fn(
        X[:400], y[:400], X_val, y_val, trainer="solver", hidden_dims=[16], num_epochs=2
    )
    space = {"lr": search.loguniform(1e-2, 1e-1)}
    serial = search.random_search(train_fn, space, 2, seed=5, verbose=False)
    parallel = search.random_search(train_fn, space, 2, seed=5, n_jobs=2, verbose=False)
    assert [t.val_acc_history for t in serial] == [t.val_acc_history for t in parallel]
    assert all(t.status == "ok" and t.epochs == 2 for t in parallel)


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused(digits):
    with pytest.raises(ValueError, match="function pair"):
        search.make_train_fn(*digits, "two_layer", trainer="solver")
    with pytest.raises(ValueError, match="unknown trainer"):
        search.make_train_fn(*digits, trainer="sgd")
    with pytest.raises(ValueError, match="unknown parameter 'batchnorm'"):
        solver_fn(digits, batchnorm=True)
    train_fn = solver_fn(digits, update_rule="adam")
    with pytest.raises(ValueError, match="unknown parameter 'update'"):
        search.random_search(train_fn, {"update": ["adam"]}, 1, verbose=False)
    with pytest.raises(ValueError, match="takes no momentum"):
        train_fn({"momentum": 0.9}, seed=0, epochs=1)
    first = train_fn({}, seed=0, epochs=2)
    with pytest.raises(ValueError, match="asks for no training"):
        train_fn({}, seed=0, epochs=2, state=first["state"])
