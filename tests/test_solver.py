"""fastnn.Solver: the course's Solver API (cs231n/solver.py) and what fastnn adds to it."""

import copy
import pickle

import numpy as np
import pytest

import fastnn
from fastnn import Solver
from fastnn.datasets import load_digits
from fastnn.reference import optim_rules as twin

DTYPES = (np.float32, np.float64)
# a step size per rule that overfits 50 digits in 40 epochs
OVERFIT_RATES = {"sgd": 0.5, "sgd_momentum": 0.05, "rmsprop": 3e-3, "adam": 1e-2}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    X = X / 16.0 - 0.5
    return {"X_train": X[:50], "y_train": y[:50], "X_val": X[100:200], "y_val": y[100:200]}


class StudentTwoLayerNet:
    """A student's plain NumPy model: affine - relu - affine - softmax, params and loss."""

    def __init__(self, input_dim, hidden_dim, num_classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": 1e-1 * rng.standard_normal((input_dim, hidden_dim)),
            "b1": np.zeros(hidden_dim),
            "W2": 1e-1 * rng.standard_normal((hidden_dim, num_classes)),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(X @ W1 + b1, 0)
        scores = h @ W2 + b2
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(len(y)), y]))
        dscores = p
        dscores[np.arange(len(y)), y] -= 1
        dscores /= len(y)
        dh = (dscores @ W2.T) * (h > 0)
        grads = {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ dscores, "b2": dscores.sum(0)}
        return loss, grads


def small_net(dtype, seed=0):
    return fastnn.FullyConnectedNet([100], input_dim=64, num_classes=10, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("rule", sorted(OVERFIT_RATES))
def test_overfits_50_examples_with_each_rule(rule, dtype, digits):
    model = small_net(dtype)
    solver = Solver(
        model,
        digits,
        update_rule=rule,
        optim_config={"learning_rate": OVERFIT_RATES[rule]},
        batch_size=25,
        num_epochs=40,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert len(solver.loss_history) == 40 * 2
    assert len(solver.train_acc_history) == 41  # after the first iteration and every epoch
    assert solver.stop_reason is None and not solver.diverged
    assert all(p.dtype == dtype for p in model.params.values())


def test_a_students_own_model_trains(digits):
    model = StudentTwoLayerNet(64, 50, 10)
    solver = Solver(
        model,
        digits,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        num_epochs=30,
        batch_size=25,
        verbose=False,
        seed=0,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert model.params is solver.best_params


def test_the_course_loop_gives_the_same_losses(digits):
    # The course's Solver loop, written out: minibatches from NumPy's global state and the
    # textbook rules returning new arrays.  fastnn's Solver draws the same batches.
    def course_losses(model, steps):
        configs = {p: {"learning_rate": 1e-2} for p in model.params}
        losses = []
        for _ in range(steps):
            mask = np.random.choice(50, 10)
            loss, grads = model.loss(digits["X_train"][mask], digits["y_train"][mask])
            losses.append(loss)
            for p, w in model.params.items():
                model.params[p], configs[p] = twin.adam(w, grads[p], configs[p])
        return losses

    np.random.seed(231)
    want = course_losses(StudentTwoLayerNet(64, 20, 10), 15)
    np.random.seed(231)
    solver = Solver(
        StudentTwoLayerNet(64, 20, 10),
        digits,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=10,
        num_epochs=3,
        verbose=False,
    )
    solver.train()
    np.testing.assert_allclose(solver.loss_history, want, rtol=1e-10)


def test_prints_the_course_lines(digits, capsys):
    solver = Solver(small_net(np.float32), digits, batch_size=10, num_epochs=2, print_every=4)
    solver.train()
    lines = capsys.readouterr().out.splitlines()
    iteration_lines = [line for line in lines if line.startswith("(Iteration")]
    epoch_lines = [line for line in lines if line.startswith("(Epoch")]
    assert [line.split(")")[0] for line in iteration_lines] == [
        "(Iteration 1 / 10",
        "(Iteration 5 / 10",
        "(Iteration 9 / 10",
    ]
    loss = float(iteration_lines[0].split("loss: ")[1])
    assert loss == pytest.approx(solver.loss_history[0], abs=1e-6)
    assert len(epoch_lines) == 3
    assert epoch_lines[0].startswith("(Epoch 0 / 2) train acc: ")
    train_acc, val_acc = (float(part.split(": ")[1]) for part in epoch_lines[2].split("; "))
    assert (train_acc, val_acc) == (solver.train_acc_history[2], solver.val_acc_history[2])


def test_checkpoints_hold_the_course_keys(digits, tmp_path, capsys):
    name = tmp_path / "run"
    solver = Solver(
        small_net(np.float32), digits, batch_size=25, num_epochs=2, checkpoint_name=str(name)
    )
    solver.train()
    assert f'Saving checkpoint to "{name}_epoch_2.pkl"' in capsys.readouterr().out
    with open(f"{name}_epoch_2.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert set(checkpoint) == {
        "model",
        "update_rule",
        "lr_decay",
        "optim_config",
        "batch_size",
        "num_train_samples",
        "num_val_samples",
        "epoch",
        "loss_history",
        "train_acc_history",
        "val_acc_history",
    }
    assert checkpoint["epoch"] == 2 and checkpoint["update_rule"] is fastnn.optim.sgd
    assert checkpoint["loss_history"] == solver.loss_history
    assert (tmp_path / "run_epoch_0.pkl").exists() and (tmp_path / "run_epoch_1.pkl").exists()


def test_lr_decay_and_each_parameter_has_its_own_config(digits):
    model = small_net(np.float64)
    config = {"learning_rate": 1e-2}
    solver = Solver(
        model,
        digits,
        update_rule="sgd_momentum",
        optim_config=config,
        lr_decay=0.5,
        num_epochs=3,
        batch_size=25,
        verbose=False,
    )
    solver.train()
    assert config == {"learning_rate": 1e-2}  # the caller's dict is copied per parameter
    assert set(solver.optim_configs) == set(model.params)
    for name, c in solver.optim_configs.items():
        assert c["learning_rate"] == pytest.approx(1e-2 * 0.5**3)
        assert c["velocity"].shape == model.params[name].shape


def test_best_params_are_copies_taken_at_the_best_validation_accuracy(digits):
    model = small_net(np.float64)
    seen = []
    solver = Solver(
        model,
        digits,
        num_epochs=5,
        batch_size=25,
        verbose=False,
        seed=1,
        on_epoch=lambda epoch, stats: seen.append({k: v.copy() for k, v in model.params.items()}),
    )
    solver.train()
    best = int(np.argmax(solver.val_acc_history))  # the first best
    assert solver.best_val_acc == max(solver.val_acc_history)
    assert best >= 1, "the test needs an improvement after the first check"
    for name, value in seen[best - 1].items():
        np.testing.assert_array_equal(model.params[name], value)
    assert model.params is solver.best_params


def test_on_epoch_gets_the_stats_and_can_stop(digits):
    calls = []

    def on_epoch(epoch, stats):
        calls.append((epoch, stats))
        return epoch == 2

    solver = Solver(
        small_net(np.float32),
        digits,
        update_rule="adam",
        num_epochs=10,
        batch_size=25,
        verbose=False,
        on_epoch=on_epoch,
        seed=0,
    )
    solver.train()
    assert [epoch for epoch, _ in calls] == [1, 2]
    epoch, stats = calls[1]
    assert set(stats) == {"loss", "train_acc", "val_acc", "lr"}
    assert stats["loss"] == solver.loss_history[-1]
    assert stats["val_acc"] == solver.val_acc_history[-1]
    assert stats["lr"] == 1e-3
    assert len(solver.loss_history) == 4
    assert solver.stop_reason == "on_epoch stopped training after epoch 2 / 10"
    assert not solver.diverged


def test_a_diverging_run_stops_with_one_line(digits, capsys):
    model = small_net(np.float32)
    before = {k: v.copy() for k, v in model.params.items()}
    solver = Solver(
        model, digits, optim_config={"learning_rate": 1e12}, batch_size=10, num_epochs=5, seed=0
    )
    solver.train()
    out = capsys.readouterr().out
    assert solver.diverged
    assert solver.stop_reason is not None and solver.stop_reason in out
    assert "the learning rate 1.000000e+12 is too high; stopping" in solver.stop_reason
    assert len(solver.loss_history) < 25
    assert not np.isfinite(solver.loss_history[-1])
    # the best params were those of the first check, before the run blew up
    assert all(np.isfinite(v).all() for v in model.params.values())
    assert model.params.keys() == before.keys()


def test_abort_cost_ratio_is_the_trainers_rule(digits):
    solver = Solver(
        small_net(np.float32),
        digits,
        optim_config={"learning_rate": 50.0},
        batch_size=10,
        num_epochs=5,
        verbose=False,
        seed=0,
        abort_cost_ratio=1.5,
    )
    solver.train()
    assert solver.diverged and "exceeds 1.5 x the first cost" in solver.stop_reason


def test_seed_makes_runs_reproducible_and_none_uses_the_global_state(digits):
    def losses(seed=None, global_seed=None):
        if global_seed is not None:
            np.random.seed(global_seed)
        solver = Solver(
            small_net(np.float32), digits, num_epochs=2, batch_size=10, verbose=False, seed=seed
        )
        solver.train()
        return solver.loss_history

    assert losses(seed=3) == losses(seed=3)
    assert losses(seed=3) != losses(seed=4)
    assert losses(global_seed=231) == losses(global_seed=231)
    assert losses(global_seed=231) != losses(global_seed=232)


@pytest.mark.parametrize("seed", [None, 5])
def test_a_solver_pickles_and_deep_copies_and_trains_on(digits, seed):
    """An unseeded Solver draws from NumPy's global state (a module, which pickle refuses):
    its copies draw from it again; a seeded one carries its generator's state."""
    solver = Solver(
        small_net(np.float32), digits, num_epochs=1, batch_size=10, verbose=False, seed=seed
    )
    solver.train()
    copies = [pickle.loads(pickle.dumps(solver)), copy.deepcopy(solver)]
    np.random.seed(7)
    solver.train()
    for other in copies:
        np.random.seed(7)
        other.train()
        assert other.loss_history == solver.loss_history
        assert (other._random is np.random) == (seed is None)


def test_check_accuracy_samples_and_batches(digits):
    solver = Solver(small_net(np.float64), digits, verbose=False, seed=0)
    X, y = digits["X_val"], digits["y_val"]
    want = np.mean(np.argmax(solver.model.loss(X), axis=1) == y)
    assert solver.check_accuracy(X, y, batch_size=7) == pytest.approx(want)
    assert solver.check_accuracy(X, y) == pytest.approx(want)  # rows per pass from X's size
    assert solver.check_accuracy(X, y, num_samples=1000) == pytest.approx(want)
    sampled = solver.check_accuracy(X, y, num_samples=10)
    assert sampled * 10 == pytest.approx(round(sampled * 10))


def test_check_accuracy_batches_by_bytes_without_a_batch_size(digits):
    seen = []

    class Recording:
        def __init__(self, model):
            self.params, self.model = model.params, model

        def loss(self, X, y=None):
            seen.append(X.shape[0])
            return self.model.loss(X, y)

    solver = Solver(Recording(small_net(np.float64)), digits, verbose=False, seed=0)
    X = np.repeat(digits["X_val"], 800, axis=0)
    per_pass = (8 << 20) // X[0].nbytes
    assert X.shape[0] > 2 * per_pass
    solver.check_accuracy(X, np.repeat(digits["y_val"], 800))
    assert seen == [per_pass, per_pass, X.shape[0] - 2 * per_pass]
    seen.clear()
    solver.check_accuracy(X[:50], digits["y_val"][:50], batch_size=20)
    assert seen == [20, 20, 10]
    with pytest.raises(ValueError, match="at least one row"):
        solver.check_accuracy(X[:0], digits["y_val"][:0])


def test_a_custom_update_rule_function(digits):
    steps = []

    def halving_sgd(w, dw, config):
        steps.append(w.shape)
        return w - 0.5 * dw, config

    model = small_net(np.float64)
    solver = Solver(model, digits, update_rule=halving_sgd, num_epochs=1, verbose=False)
    solver.train()
    assert len(steps) == len(model.params)  # 50 rows, batch 100: one iteration


def test_bad_input_is_a_clear_error(digits):
    model = small_net(np.float32)
    with pytest.raises(ValueError, match="sgd, sgd_momentum, rmsprop, adam"):
        Solver(model, digits, update_rule="nesterov")
    with pytest.raises(KeyError, match="X_val"):
        Solver(model, {k: v for k, v in digits.items() if k != "X_val"})
    with pytest.raises(TypeError, match="learning_rate"):
        Solver(model, digits, learning_rate=1e-3)  # the course's ValueError is a TypeError here
    with pytest.raises(TypeError, match="params dict"):
        Solver(object(), digits)
    with pytest.raises(ValueError, match="y_train"):
        Solver(model, dict(digits, y_train=digits["y_train"][:-1]))
    with pytest.raises(ValueError, match="batch_size"):
        Solver(model, digits, batch_size=0)


def test_a_gradient_of_another_dtype_is_a_clear_error(digits):
    model = StudentTwoLayerNet(64, 10, 10)
    model.params = {k: v.astype(np.float32) for k, v in model.params.items()}
    data64 = {k: v.astype(np.float64) if k[0] == "X" else v for k, v in digits.items()}
    solver = Solver(model, data64, num_epochs=1, verbose=False)
    with pytest.raises(TypeError, match=r"grads\['W1'\] has dtype float64 but params\['W1'\]"):
        solver.train()


@pytest.mark.parametrize("rule", ["adam", twin.adam])  # fastnn's rule and a function of its own
def test_a_missing_gradient_names_the_parameter(digits, rule):
    class NoBiasGradient(StudentTwoLayerNet):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            if y is not None:
                del out[1]["b2"]
            return out

    solver = Solver(NoBiasGradient(64, 10, 10), digits, update_rule=rule, verbose=False)
    with pytest.raises(KeyError, match="no gradient for 'b2'"):
        solver.train()


def test_the_namespace_is_public():
    import fastnn.solver

    assert fastnn.Solver is fastnn.solver.Solver
    assert "Solver" in fastnn.__all__ and "solver" in fastnn.__all__


def test_progress_ticks_a_bar_once_per_iteration(digits, monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, total, **kwargs):
            self.total, self.n, self.closed = total, 0, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    import fastnn.workflow.solver as implementation

    monkeypatch.setattr(implementation, "terminal_tqdm", lambda required=False: FakeBar)
    solver = Solver(
        small_net(np.float32), digits, num_epochs=3, batch_size=10, verbose=False, progress=True
    )
    solver.train()
    assert len(bars) == 1 and bars[0].total == 15 and bars[0].n == 15 and bars[0].closed
    Solver(small_net(np.float32), digits, num_epochs=1, verbose=False, progress=False).train()
    assert len(bars) == 1
