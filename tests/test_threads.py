"""The thread count of every compiled call is decided by its Python wrapper from the one table
fastnn.core.threads.PARALLEL_THRESHOLDS: 1 below the family's threshold, else the setting."""

import numpy as np
import pytest

import fastnn
from fastnn._kernels import activations, batchnorm, dropout, optim, softmax
from fastnn.core.threads import PARALLEL_THRESHOLDS


def _spy(monkeypatch, module, name):
    """Replace ``module.name`` by a wrapper recording the ``n_threads`` (last) argument."""
    seen = []
    real = getattr(module, name)

    def spy(*args):
        seen.append(args[-1])
        return real(*args)

    monkeypatch.setattr(module, name, spy)
    return seen


CASES = {
    # name: (compiled module, compiled function, threshold key, call(work units))
    "relu": (activations, "apply", "activations", lambda n: fastnn.relu(np.ones(n, np.float32))),
    "tanh": (
        activations,
        "apply",
        "activations_exp",
        lambda n: fastnn.tanh(np.ones(n, np.float32)),
    ),
    "maxout": (
        activations,
        "maxout",
        "activations",
        lambda n: fastnn.maxout(np.ones((n // 4, 4), np.float32)),
    ),
    "batchnorm_forward": (
        batchnorm,
        "forward_train",
        "batchnorm",
        lambda n: fastnn.batchnorm_forward(
            np.ones((n // 8, 8)), np.ones(8), np.zeros(8), {"mode": "train"}
        ),
    ),
    "softmax": (
        softmax,
        "softmax",
        "softmax",
        lambda n: fastnn.softmax(np.ones((n // 8, 8), np.float32)),
    ),
    "softmax_loss": (
        softmax,
        "loss_gradient",
        "softmax",
        lambda n: fastnn.softmax_loss(np.ones((n // 8, 8)), np.zeros(n // 8, np.intp)),
    ),
    "sgd_update": (
        optim,
        "sgd",
        "updates",
        lambda n: fastnn.sgd_update(np.ones(n), np.ones(n), 0.1),
    ),
    "dropout_forward": (
        dropout,
        "apply_mask",
        "dropout",
        lambda n: fastnn.dropout_forward(np.ones(n), {"mode": "train", "p": 0.5, "seed": 1}),
    ),
    # take_rows counts bytes: float64 rows of 8 elements are 64 bytes each
    "take_rows": (
        optim,
        "take_rows",
        "take_rows",
        lambda n: fastnn.take_rows(np.ones((n // 64, 8)), np.arange(n // 64)),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_wrapper_decides_threads_from_the_table(monkeypatch, name):
    module, function, key, call = CASES[name]
    threshold = PARALLEL_THRESHOLDS[key]
    seen = _spy(monkeypatch, module, function)
    with fastnn.num_threads(3):
        call(threshold // 2)
        call(2 * threshold)
    assert seen == [1, 3], (name, seen)
