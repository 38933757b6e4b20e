"""ClassifierTrainer: update rules against their textbook formulas, schedule, histories, printing,
divergence, seeding, model objects, dtypes, and a batchnorm net trained on the digits.
"""

import copy
import re

import numpy as np
import pytest

import fastnn
import fastnn.core.gemm
from fastnn import ClassifierTrainer, FullyConnectedNet, init_two_layer_model, two_layer_net
from fastnn._config.backend import ops
from fastnn.nn.trainer import UPDATES
from fastnn.workflow.datasets import load_digits, train_val_split

LINE = re.compile(
    r"Finished epoch (\d+) / (\d+): cost (\d+\.\d{6}), train: (\d\.\d{6}), "
    r"val (\d\.\d{6}), lr (\d\.\d{6}e[-+]\d\d)"
)
FINAL = re.compile(r"finished optimization, best validation accuracy: (\d\.\d{6})")


def linear_softmax(X, model, y=None, reg=0.0):
    """A softmax classifier in plain NumPy: a cheap loss function with the notes' convention."""
    scores = X @ model["W"] + model["b"]
    if y is None:
        return scores
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = X.shape[0]
    ds = np.exp(logp)
    ds[np.arange(n), y] -= 1
    ds /= n
    loss = -logp[np.arange(n), y].mean() + 0.5 * reg * np.sum(model["W"] ** 2)
    return loss, {"W": X.T @ ds + reg * model["W"], "b": ds.sum(axis=0)}


def blobs(n=200, d=5, c=3, seed=0, dtype=np.float64):
    """Separable-ish gaussian blobs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    centers = rng.standard_normal((c, d)) * 3
    X = centers[y] + rng.standard_normal((n, d))
    return X.astype(dtype), y


def linear_model(d=5, c=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {"W": (0.01 * rng.standard_normal((d, c))).astype(dtype), "b": np.zeros(c, dtype)}


def textbook_run(update, model, X, y, lr, mu, decay, epochs, reg):
    """Full-batch training written straight from the update formulas (the oracle)."""
    model = copy.deepcopy(model)
    v = {k: np.zeros_like(p) for k, p in model.items()}
    m = {k: np.zeros_like(p) for k, p in model.items()}
    for t in range(1, epochs + 1):
        _, grads = linear_softmax(X, model, y, reg)
        for k in model:
            g = grads[k]
            if update == "sgd":
                model[k] = model[k] - lr * g
            elif update == "momentum":
                v[k] = mu * v[k] - lr * g
                model[k] = model[k] + v[k]
            elif update == "nesterov":
                v_prev = v[k]
                v[k] = mu * v[k] - lr * g
                model[k] = model[k] - mu * v_prev + (1 + mu) * v[k]
            elif update == "rmsprop":
                v[k] = 0.99 * v[k] + 0.01 * g**2
                model[k] = model[k] - lr * g / np.sqrt(v[k] + 1e-8)
            elif update == "adam":
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g**2
                mhat, vhat = m[k] / (1 - 0.9**t), v[k] / (1 - 0.999**t)
                model[k] = model[k] - lr * mhat / (np.sqrt(vhat) + 1e-8)
        lr *= decay
    return model


@pytest.mark.parametrize("update", UPDATES)
def test_update_rules_match_their_formulas(update):
    X, y = blobs(n=40)
    model = linear_model()
    expected = textbook_run(update, model, X, y, lr=0.05, mu=0.9, decay=0.7, epochs=6, reg=0.01)
    ClassifierTrainer().train(
        X,
        y,
        X,
        y,
        model,
        linear_softmax,
        reg=0.01,
        learning_rate=0.05,
        momentum=0.9,
        learning_rate_decay=0.7,
        update=update,
        sample_batches=False,
        num_epochs=6,
    )
    for k in model:
        np.testing.assert_allclose(model[k], expected[k], rtol=1e-10, atol=1e-13, err_msg=k)


def test_unknown_update_lists_the_valid_ones():
    X, y = blobs(n=10)
    with pytest.raises(ValueError) as err:
        ClassifierTrainer().train(X, y, X, y, linear_model(), linear_softmax, update="adagrad")
    for name in UPDATES:
        assert name in str(err.value)


@pytest.mark.parametrize("update", ["momentum", "nesterov", "rmsprop", "adam"])
def test_optimizer_state_does_not_leak_between_runs(update):
    X, y = blobs(n=60)
    trainer = ClassifierTrainer()
    m0 = linear_model()
    results = []
    for _ in range(2):
        model = copy.deepcopy(m0)
        _, stats = trainer.train(
            X,
            y,
            X,
            y,
            model,
            linear_softmax,
            learning_rate=0.05,
            momentum=0.9,
            update=update,
            num_epochs=3,
            batch_size=20,
            seed=5,
        )
        results.append((model, stats["loss_history"]))
    assert results[0][1] == results[1][1]
    for k in m0:
        assert np.array_equal(results[0][0][k], results[1][0][k])


def test_seeded_runs_repeat_and_never_touch_the_global_rng():
    X, y = blobs(n=300)
    state = np.random.get_state()
    runs = []
    for seed in (1, 1, 2):
        model = linear_model()
        _, stats = ClassifierTrainer().train(
            X,
            y,
            X[:50],
            y[:50],
            model,
            linear_softmax,
            learning_rate=0.1,
            num_epochs=2,
            batch_size=25,
            seed=seed,
        )
        runs.append(stats["loss_history"])
    ClassifierTrainer().train(X, y, X, y, linear_model(), linear_softmax, num_epochs=1)
    ClassifierTrainer().train(
        X, y, X, y, linear_model(), linear_softmax, num_epochs=1, rng=np.random.default_rng(0)
    )
    after = np.random.get_state()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert np.array_equal(state[1], after[1]) and state[2] == after[2]


def test_iterations_per_epoch_and_learning_rate_schedule():
    X, y = blobs(n=103)
    _, stats = ClassifierTrainer().train(
        X,
        y,
        X,
        y,
        linear_model(),
        linear_softmax,
        learning_rate=0.2,
        learning_rate_decay=0.5,
        num_epochs=4,
        batch_size=25,
        seed=0,
    )
    assert len(stats["loss_history"]) == 4 * (103 // 25)
    assert stats["lr_history"] == pytest.approx([0.2, 0.1, 0.05, 0.025])
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 4
    assert stats["diverged"] is False and stats["stop_reason"] is None
    # a batch larger than the data set still gives one iteration per epoch
    _, stats = ClassifierTrainer().train(
        X, y, X, y, linear_model(), linear_softmax, num_epochs=3, batch_size=500, seed=0
    )
    assert len(stats["loss_history"]) == 3


def test_full_batch_mode_is_one_step_per_epoch_on_all_rows():
    X, y = blobs(n=37)
    seen = []

    def loss_fn(Xb, model, yb=None, reg=0.0):
        if yb is not None:
            seen.append(Xb.copy())
        return linear_softmax(Xb, model, yb, reg)

    _, stats = ClassifierTrainer().train(
        X, y, X, y, linear_model(), loss_fn, num_epochs=5, sample_batches=False
    )
    assert len(stats["loss_history"]) == 5 == len(seen)
    assert all(np.array_equal(s, X) for s in seen)


def test_minibatches_are_rows_of_the_data():
    X, y = blobs(n=50)
    X[:, 0] = np.arange(50)  # row id in column 0
    batches = []

    def loss_fn(Xb, model, yb=None, reg=0.0):
        if yb is not None:
            ids = Xb[:, 0].astype(int)
            assert np.array_equal(Xb, X[ids]) and np.array_equal(yb, y[ids])
            batches.append(ids)
        return linear_softmax(Xb, model, yb, reg)

    ClassifierTrainer().train(
        X, y, X, y, linear_model(), loss_fn, num_epochs=2, batch_size=8, seed=0
    )
    assert len(batches) == 12 and all(len(b) == 8 for b in batches)
    assert len(np.unique(np.concatenate(batches))) > 30


def test_train_accuracy_uses_at_most_1000_distinct_rows():
    X, y = blobs(n=1500, d=3)
    X[:, 0] += np.arange(1500) * 1e-3  # distinct rows
    eval_sizes = []

    def loss_fn(Xb, model, yb=None, reg=0.0):
        if yb is None:
            eval_sizes.append(Xb.shape[0])
            if Xb.shape[0] == 1000:
                assert len(np.unique(Xb[:, 0])) == 1000
        return linear_softmax(Xb, model, yb, reg)

    ClassifierTrainer().train(
        X, y, X[:40], y[:40], linear_model(d=3), loss_fn, num_epochs=1, batch_size=500, seed=0
    )
    assert sorted(eval_sizes) == [1, 40, 1000]  # 1: the scores of one row give the classes


@pytest.mark.parametrize("which", ["training", "validation"])
def test_labels_the_scores_cannot_match_raise_before_training(which):
    """A validation label >= C used to lower the accuracy silently (and a training label
    raised only if a minibatch happened to draw it)."""
    X, y = blobs(n=50)
    y_val = y.copy()
    bad = y if which == "training" else y_val
    bad[17] = 3  # linear_model has 3 classes
    calls = []

    def loss_fn(Xb, model, yb=None, reg=0.0):
        calls.append(yb is not None)
        return linear_softmax(Xb, model, yb, reg)

    with pytest.raises(ValueError, match=rf"{which} labels\[17\] = 3 is out of range"):
        ClassifierTrainer().train(
            X, y, X, y_val, linear_model(), loss_fn, num_epochs=1, batch_size=5, seed=0
        )
    assert not any(calls)  # no training step ran
    bad[17] = -1
    with pytest.raises(ValueError, match=rf"{which} labels\[17\] = -1"):
        ClassifierTrainer().train(X, y, X, y_val, linear_model(), loss_fn, num_epochs=1)


def test_verbose_output_format(capsys):
    X, y = blobs(n=60)
    _, stats = ClassifierTrainer().train(
        X,
        y,
        X[:30],
        y[:30],
        linear_model(),
        linear_softmax,
        learning_rate=0.1,
        learning_rate_decay=0.9,
        num_epochs=3,
        batch_size=20,
        verbose=True,
        seed=0,
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for epoch, line in enumerate(lines[:3], start=1):
        match = LINE.fullmatch(line)
        assert match, line
        assert int(match[1]) == epoch and int(match[2]) == 3
        assert float(match[4]) == pytest.approx(stats["train_acc_history"][epoch - 1], abs=1e-6)
        assert float(match[5]) == pytest.approx(stats["val_acc_history"][epoch - 1], abs=1e-6)
        assert float(match[6]) == pytest.approx(stats["lr_history"][epoch - 1], rel=1e-6)
        assert float(match[3]) == pytest.approx(stats["loss_history"][epoch * 3 - 1], abs=1e-6)
    final = FINAL.fullmatch(lines[3])
    assert final and float(final[1]) == pytest.approx(max(stats["val_acc_history"]), abs=1e-6)


def test_quiet_by_default(capsys):
    X, y = blobs(n=20)
    ClassifierTrainer().train(X, y, X, y, linear_model(), linear_softmax, num_epochs=2)
    assert capsys.readouterr().out == ""


def test_acc_frequency_adds_checks_without_printing(capsys):
    X, y = blobs(n=100)
    _, stats = ClassifierTrainer().train(
        X,
        y,
        X,
        y,
        linear_model(),
        linear_softmax,
        num_epochs=2,
        batch_size=10,
        acc_frequency=3,
        verbose=True,
        seed=0,
    )
    # checks after iterations 3, 6, 9, 10 (epoch end), 12, 15, 18, 20 (epoch end)
    assert len(stats["val_acc_history"]) == len(stats["lr_history"]) == 8
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_best_model_is_a_deep_copy_of_the_best_validation_model():
    X, y = blobs(n=200, seed=3)
    model = linear_model()
    best, stats = ClassifierTrainer().train(
        X[:150],
        y[:150],
        X[150:],
        y[150:],
        model,
        linear_softmax,
        learning_rate=0.5,
        num_epochs=8,
        batch_size=10,
        update="sgd",
        seed=0,
    )
    assert best is not model and all(best[k] is not model[k] for k in model)
    acc = np.mean(np.argmax(linear_softmax(X[150:], best), axis=1) == y[150:])
    assert acc == pytest.approx(max(stats["val_acc_history"]))
    assert stats["best_val_acc"] == pytest.approx(acc)
    w = model["W"].copy()
    best["W"][...] = 0
    assert np.array_equal(model["W"], w)


def _scripted(costs):
    """A loss function returning the given costs in turn (and real gradients)."""
    it = iter(costs)

    def loss_fn(X, model, y=None, reg=0.0):
        if y is None:
            return linear_softmax(X, model)
        _, grads = linear_softmax(X, model, y, reg)
        return next(it), grads

    return loss_fn


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_cost_stops_at_once_and_returns_the_best_model(capsys, bad):
    X, y = blobs(n=40)
    model = linear_model()
    costs = [1.0, 0.9, 0.8, 0.7, 0.6, bad, 0.5, 0.4]
    best, stats = ClassifierTrainer().train(
        X, y, X, y, model, _scripted(costs), sample_batches=False, num_epochs=8, verbose=True
    )
    lines = capsys.readouterr().out.splitlines()
    assert stats["diverged"] is True
    assert len(stats["loss_history"]) == 6
    assert len(stats["val_acc_history"]) == 5
    assert len(lines) == 5 + 1 + 1  # five epochs, the stop line, the final line
    assert not any("nan" in line or "inf" in line for line in lines[:5])
    stop = lines[5]
    assert ("nan" if bad != bad else "inf") in stop
    assert "learning rate" in stop and "too high" in stop
    assert stop == stats["stop_reason"]
    assert FINAL.fullmatch(lines[6])
    assert all(np.all(np.isfinite(v)) for v in best.values())


def test_divergence_before_any_check_returns_the_initial_model():
    X, y = blobs(n=40)
    model = linear_model()
    initial = copy.deepcopy(model)
    best, stats = ClassifierTrainer().train(
        X, y, X, y, model, _scripted([1.0, float("nan")]), batch_size=10, num_epochs=3, seed=0
    )
    assert stats["diverged"] and stats["best_val_acc"] is None
    assert all(np.array_equal(best[k], initial[k]) for k in initial)


def test_abort_cost_ratio_stops_an_exploding_run(capsys):
    X, y = blobs(n=40)
    costs = [2.0, 2.5, 5.0, 6.5, 7.0]
    _, stats = ClassifierTrainer().train(
        X,
        y,
        X,
        y,
        linear_model(),
        _scripted(costs),
        sample_batches=False,
        num_epochs=5,
        abort_cost_ratio=3.0,
        verbose=True,
    )
    assert stats["diverged"] is True
    assert stats["loss_history"] == [2.0, 2.5, 5.0, 6.5]
    assert "3 x the first cost" in stats["stop_reason"] and "too high" in stats["stop_reason"]
    _, stats = ClassifierTrainer().train(
        X, y, X, y, linear_model(), _scripted(costs), sample_batches=False, num_epochs=5
    )
    assert stats["diverged"] is False and len(stats["loss_history"]) == 5


def test_trains_a_fully_connected_net_object():
    X, y = blobs(n=300, d=4, c=3, seed=1, dtype=np.float32)
    net = FullyConnectedNet([16], input_dim=4, num_classes=3, seed=0)
    best, stats = ClassifierTrainer().train(
        X[:240],
        y[:240],
        X[240:],
        y[240:],
        net,
        learning_rate=1e-2,
        update="adam",
        num_epochs=10,
        batch_size=30,
        seed=0,
    )
    assert isinstance(best, FullyConnectedNet) and best is not net
    assert best.params["W1"] is not net.params["W1"]
    assert stats["best_val_acc"] > 0.9
    assert np.mean(best.predict(X[240:]) == y[240:]) == pytest.approx(stats["best_val_acc"])
    assert all(p.dtype == np.float32 for p in net.params.values())


def test_model_object_and_loss_function_arguments():
    X, y = blobs(n=20, d=4)
    net = FullyConnectedNet([5], input_dim=4, num_classes=3, seed=0)
    with pytest.raises(ValueError, match="own reg"):
        ClassifierTrainer().train(X, y, X, y, net, reg=0.1)
    with pytest.raises(TypeError, match="loss_function"):
        ClassifierTrainer().train(X, y, X, y, linear_model(d=4))
    with pytest.raises(TypeError, match="dict"):
        ClassifierTrainer().train(X, y, X, y, [1, 2], linear_softmax)


def test_bad_parameters_are_named_before_training():
    X, y = blobs(n=20)
    calls = []

    def counting(Xb, model, yb=None, reg=0.0):
        calls.append(1)
        return linear_softmax(Xb, model, yb, reg)

    half = {"W": linear_model()["W"], "b": np.zeros(3, np.float16)}
    with pytest.raises(TypeError, match="'b'.*float16"):
        ClassifierTrainer().train(X, y, X, y, half, counting, num_epochs=1)
    frozen = linear_model()
    frozen["W"].flags.writeable = False
    with pytest.raises(ValueError, match="'W'.*read-only"):
        ClassifierTrainer().train(X, y, X, y, frozen, counting, num_epochs=1)
    assert not calls


def test_missing_or_misshaped_gradient_raises():
    X, y = blobs(n=20)

    def no_b(Xb, model, yb=None, reg=0.0):
        out = linear_softmax(Xb, model, yb, reg)
        return out if yb is None else (out[0], {"W": out[1]["W"]})

    with pytest.raises(KeyError, match="'b'"):
        ClassifierTrainer().train(X, y, X, y, linear_model(), no_b, num_epochs=1)

    def bad_shape(Xb, model, yb=None, reg=0.0):
        out = linear_softmax(Xb, model, yb, reg)
        return out if yb is None else (out[0], {"W": out[1]["W"].T, "b": out[1]["b"]})

    with pytest.raises(ValueError, match="'W'.*shape"):
        ClassifierTrainer().train(X, y, X, y, linear_model(), bad_shape, num_epochs=1)


def test_gradients_of_another_dtype_are_cast_to_the_parameters():
    """A float32 model whose loss returns float64 gradients (arrays or nested lists) trains
    exactly as if they had been cast by hand; complex gradients are refused, naming the
    parameter."""
    X, y = blobs(n=40, dtype=np.float32)

    def cast_grads(to):
        def loss(Xb, model, yb=None, reg=0.0):
            out = linear_softmax(Xb, model, yb, reg)
            return out if yb is None else (out[0], {k: to(g) for k, g in out[1].items()})

        return loss

    runs = []
    for to in (
        lambda g: g.astype(np.float64).astype(np.float32),
        lambda g: g.astype(np.float64),
        lambda g: g.astype(np.float64).tolist(),
    ):
        model = linear_model(dtype=np.float32)
        ClassifierTrainer().train(
            X,
            y,
            X,
            y,
            model,
            cast_grads(to),
            update="momentum",
            momentum=0.9,
            num_epochs=3,
            batch_size=10,
            seed=0,
        )
        assert all(v.dtype == np.float32 for v in model.values())
        runs.append(model)
    for other in runs[1:]:
        for k in runs[0]:
            np.testing.assert_array_equal(other[k], runs[0][k])
    with pytest.raises(TypeError, match="'W'.*complex"):
        ClassifierTrainer().train(
            X,
            y,
            X,
            y,
            linear_model(dtype=np.float32),
            cast_grads(lambda g: g.astype(np.complex64)),
            num_epochs=1,
        )


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"num_epochs": 0}, ValueError, "num_epochs"),
        ({"batch_size": -1}, ValueError, "batch_size"),
        ({"acc_frequency": 0}, ValueError, "acc_frequency"),
        ({"num_epochs": 2.5}, TypeError, "num_epochs"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"momentum": "a lot"}, TypeError, "momentum"),
        ({"reg": -0.5}, ValueError, "reg"),
    ],
)
def test_bad_arguments_raise(kwargs, exc, match):
    X, y = blobs(n=20)
    with pytest.raises(exc, match=match):
        ClassifierTrainer().train(X, y, X, y, linear_model(), linear_softmax, **kwargs)


def test_bad_data_shapes_raise():
    X, y = blobs(n=20)
    with pytest.raises(ValueError, match="training labels"):
        ClassifierTrainer().train(X, y[:-1], X, y, linear_model(), linear_softmax)
    with pytest.raises(ValueError, match="validation labels"):
        ClassifierTrainer().train(X, y, X, y[:3], linear_model(), linear_softmax)
    with pytest.raises(ValueError, match="no rows"):
        ClassifierTrainer().train(X[:0], y[:0], X, y, linear_model(), linear_softmax)


@pytest.mark.parametrize("update", UPDATES)
def test_float32_training_stays_float32(update):
    X, y = blobs(n=64, d=12, c=4, dtype=np.float32)
    model = init_two_layer_model(12, 8, 4, dtype=np.float32, seed=0)
    best, stats = ClassifierTrainer().train(
        X,
        y,
        X,
        y,
        model,
        two_layer_net,
        learning_rate=1e-2,
        momentum=0.9,
        update=update,
        num_epochs=2,
        batch_size=16,
        seed=0,
    )
    assert all(v.dtype == np.float32 for v in model.values())
    assert all(v.dtype == np.float32 for v in best.values())
    assert all(np.isfinite(stats["loss_history"]))


def test_backend_switch_reaches_the_trainer(monkeypatch):
    X, y = blobs(n=60, d=6)
    calls = []
    with fastnn.backend("numpy"):
        ns = ops()
        real = ns.bias_relu  # the hidden layer's bias add and ReLU
        monkeypatch.setattr(ns, "bias_relu", lambda *a, **k: calls.append(1) or real(*a, **k))
        m_numpy = init_two_layer_model(6, 10, 3, seed=0)
        _, s_numpy = ClassifierTrainer().train(
            X,
            y,
            X,
            y,
            m_numpy,
            two_layer_net,
            learning_rate=1e-1,
            num_epochs=2,
            batch_size=20,
            seed=0,
        )
    assert len(calls) >= 6
    n_calls = len(calls)
    m_cython = init_two_layer_model(6, 10, 3, seed=0)
    _, s_cython = ClassifierTrainer().train(
        X, y, X, y, m_cython, two_layer_net, learning_rate=1e-1, num_epochs=2, batch_size=20, seed=0
    )
    assert len(calls) == n_calls  # the compiled run did not touch the numpy namespace
    np.testing.assert_allclose(s_cython["loss_history"], s_numpy["loss_history"], rtol=1e-9)


def test_batchnorm_net_reaches_95_percent_on_digits():
    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    mean = X_train.mean(axis=0)
    X_train = (X_train - mean) / 16
    X_val = (X_val - mean) / 16
    net = FullyConnectedNet([64, 64], input_dim=64, num_classes=10, batchnorm=True, seed=0)
    best, stats = ClassifierTrainer().train(
        X_train,
        y_train,
        X_val,
        y_val,
        net,
        learning_rate=1e-2,
        learning_rate_decay=0.9,
        update="adam",
        num_epochs=8,
        batch_size=100,
        seed=0,
    )
    assert stats["best_val_acc"] >= 0.95
    assert np.mean(best.predict(X_val) == y_val) >= 0.95


def scripted_loss(losses):
    """A loss function whose training costs follow a script (what the divergence rule sees)."""
    costs = iter(losses)

    def loss(X_batch, model, y_batch=None, reg=0.0):
        if y_batch is None:
            return np.zeros((X_batch.shape[0], 3))
        return next(costs), {k: np.zeros_like(v) for k, v in model.items()}

    return loss


def test_a_continued_run_keeps_its_abort_reference():
    X, y = blobs(n=20)
    kw = {"sample_batches": False, "abort_cost_ratio": 3.0, "seed": 0}
    trainer = ClassifierTrainer()
    _, first = trainer.train(X, y, X, y, linear_model(), scripted_loss([2.0]), num_epochs=1, **kw)
    assert first["first_cost"] == 2.0
    then = [0.1, 0.5]  # 0.5 is above 3 x 0.1, not 3 x 2.0
    _, kept = trainer.train(
        X, y, X, y, linear_model(), scripted_loss(then), num_epochs=2, first_cost=2.0, **kw
    )
    assert not kept["diverged"] and kept["first_cost"] == 2.0
    _, own = trainer.train(X, y, X, y, linear_model(), scripted_loss(then), num_epochs=2, **kw)
    assert own["diverged"] and "the first cost 0.1" in own["stop_reason"]


def _two_layer_run(monkeypatch, dtype, reg, sample_batches, fused):
    from fastnn.nn import models

    if not fused:
        monkeypatch.setattr(models.TwoLayerSGDStep, "for_training", classmethod(lambda *a: None))
    applied = []
    real_apply = models.TwoLayerSGDStep.apply
    monkeypatch.setattr(
        models.TwoLayerSGDStep, "apply", lambda self, lr: applied.append(lr) or real_apply(self, lr)
    )
    X, y = blobs(n=120, d=12, c=4, seed=3, dtype=dtype)
    model = init_two_layer_model(12, 16, 4, dtype=dtype, seed=1)
    for p in model.values():  # not the notes' tiny weights: let every term matter
        p += np.asarray(np.random.default_rng(2).standard_normal(p.shape) * 0.3, dtype=dtype)
    _, stats = ClassifierTrainer().train(
        X, y, X, y, model, two_layer_net, reg=reg, learning_rate=0.05, update="sgd",
        sample_batches=sample_batches, batch_size=30, num_epochs=3, seed=4,
    )  # fmt: skip
    monkeypatch.undo()
    return model, stats, len(applied)


@pytest.mark.skipif(fastnn.core.gemm.GEMM_TN is None, reason="no BLAS gemm for the fused step")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reg", [0.0, 0.05])
@pytest.mark.parametrize("sample_batches", [True, False])
def test_sgd_on_two_layer_net_folds_the_update_into_the_products(
    monkeypatch, dtype, reg, sample_batches
):
    fused, s_fused, n_fused = _two_layer_run(monkeypatch, dtype, reg, sample_batches, True)
    plain, s_plain, n_plain = _two_layer_run(monkeypatch, dtype, reg, sample_batches, False)
    assert n_fused == len(s_fused["loss_history"]) and n_plain == 0
    tol = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(s_fused["loss_history"], s_plain["loss_history"], rtol=tol)
    for k in plain:
        assert fused[k].dtype == dtype
        np.testing.assert_allclose(fused[k], plain[k], rtol=tol, atol=tol, err_msg=k)
    assert s_fused["val_acc_history"] == s_plain["val_acc_history"]


def test_the_fused_step_applies_only_where_it_can():
    from fastnn.nn.models import TwoLayerSGDStep

    model = init_two_layer_model(6, 5, 3, dtype=np.float32, seed=0)
    take = TwoLayerSGDStep.for_training
    expected = fastnn.core.gemm.GEMM_TN is not None
    assert (take(two_layer_net, model, "sgd", 0.0) is not None) == expected
    assert take(two_layer_net, model, "momentum", 0.0) is None
    assert take(lambda *a: two_layer_net(*a), model, "sgd", 0.0) is None
    with fastnn.backend("numpy"):
        assert take(two_layer_net, model, "sgd", 0.0) is None
    for change in (
        {"W1": np.asfortranarray(model["W1"])},
        {"W2": model["W2"].astype(np.float64)},
        {"b1": model["b1"][:4]},
        {"extra": np.zeros(2, np.float32)},
        {"W1": model["W1"].astype(np.float16)},
    ):
        assert take(two_layer_net, {**model, **change}, "sgd", 0.0) is None, list(change)
    step = TwoLayerSGDStep(model, 0.0)
    with pytest.raises(RuntimeError, match="needs a loss"):
        step.apply(0.1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_nonfinite_loss_leaves_the_model_as_it_was(dtype):
    # the fused step computes the loss before it changes anything: the trainer stops first
    X, y = blobs(n=40, d=6, c=3, dtype=dtype)
    X[:] = np.finfo(dtype).max
    model = init_two_layer_model(6, 5, 3, dtype=dtype, seed=0)
    model["W1"] += 1
    initial = copy.deepcopy(model)
    _, stats = ClassifierTrainer().train(
        X, y, X, y, model, two_layer_net, update="sgd", sample_batches=False, num_epochs=2
    )
    assert stats["diverged"] and len(stats["loss_history"]) == 1
    for k in initial:
        np.testing.assert_array_equal(model[k], initial[k], err_msg=k)
