"""The lecture notes' section 6 code, run as written (print as a function), and its numbers.

The data are random images shaped like CIFAR-10 (rows of 32*32*3 pixel values 0..255,
zero-centred as the notes prescribe) with 10 random classes; fewer rows than the notes'
49,000 keep the suite fast without changing any of the claims.  Models are initialized
unseeded, exactly as in the notes, so the claims are checked for an arbitrary draw.
"""

import math
import re

import numpy as np
import pytest

from fastnn import ClassifierTrainer, init_two_layer_model, two_layer_net

NOTES_INIT = """
def init_two_layer_model(input_size, hidden_size, output_size):
    # initialize a model
    model = {}
    model['W1'] = 0.0001 * np.random.randn(input_size, hidden_size)
    model['b1'] = np.zeros(hidden_size)
    model['W2'] = 0.0001 * np.random.randn(hidden_size, output_size)
    model['b2'] = np.zeros(output_size)
    return model
"""

EPOCH = re.compile(r"Finished epoch (\d+) / (\d+): cost (\S+), train: (\S+), val (\S+), lr (\S+)")


def cifar_like(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (n, 32 * 32 * 3)).astype(np.float64)
    X -= X.mean(axis=0)
    return X, rng.integers(0, 10, n)


@pytest.fixture(scope="module")
def data():
    X_train, y_train = cifar_like(500, 0)
    X_val, y_val = cifar_like(100, 1)
    return X_train, y_train, X_val, y_val


def test_notes_init_function_runs_with_fastnn(data):
    X_train, y_train, _, _ = data
    namespace = {"np": np}
    exec(NOTES_INIT, namespace)
    notes_model = namespace["init_two_layer_model"](32 * 32 * 3, 50, 10)
    ours = init_two_layer_model(32 * 32 * 3, 50, 10)
    assert {k: (v.shape, v.dtype) for k, v in notes_model.items()} == {
        k: (v.shape, v.dtype) for k, v in ours.items()
    }
    loss, grad = two_layer_net(X_train, notes_model, y_train, 0.0)
    assert abs(loss - math.log(10)) < 0.01
    assert sorted(grad) == sorted(notes_model)


def test_initial_loss_is_ln_10(data, capsys):
    X_train, y_train, X_val, y_val = data
    model = init_two_layer_model(32 * 32 * 3, 50, 10)  # input size, hidden size, number of classes
    loss, grad = two_layer_net(X_train, model, y_train, 0.0)  # disable regularization
    print(loss)
    printed = float(capsys.readouterr().out)
    assert abs(printed - math.log(10)) < 0.01


def test_cranking_up_regularization_raises_the_loss(data, capsys):
    X_train, y_train, X_val, y_val = data
    model = init_two_layer_model(32 * 32 * 3, 50, 10)  # input size, hidden size, number of classes
    loss, grad = two_layer_net(X_train, model, y_train, 1e3)  # crank up regularization
    print(loss)
    printed = float(capsys.readouterr().out)
    assert 0.7 <= printed - math.log(10) <= 0.8  # the notes: 3.0686 - 2.3026 = 0.766


def test_overfitting_20_examples(data, capsys):
    X_train, y_train, X_val, y_val = data
    X_train = X_train[:60]  # the validation set of this run (the notes pass all of X_train)
    y_train = y_train[:60]
    model = init_two_layer_model(32 * 32 * 3, 50, 10)  # input size, hidden size, number of classes
    trainer = ClassifierTrainer()
    X_tiny = X_train[:20]  # take 20 examples
    y_tiny = y_train[:20]
    best_model, stats = trainer.train(
        X_tiny,
        y_tiny,
        X_train,
        y_train,
        model,
        two_layer_net,
        num_epochs=200,
        reg=0.0,
        update="sgd",
        learning_rate_decay=1,
        sample_batches=False,
        learning_rate=1e-3,
        verbose=True,
    )
    lines = capsys.readouterr().out.splitlines()
    epochs = [EPOCH.fullmatch(line) for line in lines[:-1]]
    assert len(lines) == 201 and all(epochs)
    assert [int(m[1]) for m in epochs] == list(range(1, 201))
    first, last = epochs[0], epochs[-1]
    assert abs(float(first[3]) - math.log(10)) < 0.01
    assert float(last[3]) < 0.05  # the notes: 0.0026
    assert float(last[4]) == 1.0  # train accuracy 1.00
    assert stats["train_acc_history"][-1] == 1.0
    assert len(stats["loss_history"]) == 200
    assert lines[-1].startswith("finished optimization, best validation accuracy: ")


def test_learning_rate_too_low_leaves_the_loss_flat(data, capsys):
    X_train, y_train, X_val, y_val = data
    model = init_two_layer_model(32 * 32 * 3, 50, 10)  # input size, hidden size, number of classes
    trainer = ClassifierTrainer()
    best_model, stats = trainer.train(
        X_train,
        y_train,
        X_val,
        y_val,
        model,
        two_layer_net,
        num_epochs=10,
        reg=0.000001,
        update="sgd",
        learning_rate_decay=1,
        sample_batches=True,
        learning_rate=1e-6,
        verbose=True,
    )
    lines = capsys.readouterr().out.splitlines()
    epochs = [EPOCH.fullmatch(line) for line in lines[:-1]]
    assert len(epochs) == 10 and all(epochs)
    assert all(abs(float(m[3]) - 2.3026) < 0.01 for m in epochs)
    assert all(m[6] == "1.000000e-06" for m in epochs)
    assert max(abs(c - math.log(10)) for c in stats["loss_history"]) < 0.01
    assert not stats["diverged"]


def test_learning_rate_too_high_stops_with_a_divergence_message(data, capsys):
    X_train, y_train, X_val, y_val = data
    model = init_two_layer_model(32 * 32 * 3, 50, 10)  # input size, hidden size, number of classes
    trainer = ClassifierTrainer()
    best_model, stats = trainer.train(
        X_train,
        y_train,
        X_val,
        y_val,
        model,
        two_layer_net,
        num_epochs=10,
        reg=0.000001,
        update="sgd",
        learning_rate_decay=1,
        sample_batches=True,
        learning_rate=1e6,
        verbose=True,
    )
    lines = capsys.readouterr().out.splitlines()
    epochs = [EPOCH.fullmatch(line) for line in lines]
    stop = [line for line, m in zip(lines, epochs) if not m and "finished optimization" not in line]
    assert stats["diverged"] is True
    assert len(stop) == 1 and "learning rate" in stop[0] and "too high" in stop[0]
    assert sum(m is not None for m in epochs) < 10
    assert not any(m and m[3] in ("nan", "inf") for m in epochs)  # no epochs of "cost nan"
    assert not math.isfinite(stats["loss_history"][-1])
    assert all(math.isfinite(c) for c in stats["loss_history"][:-1])
    assert all(np.all(np.isfinite(v)) for v in best_model.values())
