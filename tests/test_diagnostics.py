"""fastnn.workflow.diagnostics: the notes' weight-initialization experiment and its plot."""

import re
import sys

import numpy as np
import pytest

import fastnn
from fastnn.workflow.diagnostics import activation_statistics, plot_activation_histograms

SEED = 0


def test_small_init_collapses(capsys):
    stats = activation_statistics(0.01, "tanh", seed=SEED)
    assert stats.layer_stds.shape == (10,)
    assert stats.layer_stds[-1] < 1e-5
    # Each layer shrinks the std (by about 0.01 * sqrt(500) ~ 0.22, as in the notes).
    ratios = stats.layer_stds[1:] / stats.layer_stds[:-1]
    assert np.all((ratios > 0.15) & (ratios < 0.3))
    assert 0.15 < stats.layer_stds[0] < 0.3
    assert capsys.readouterr().out.splitlines() == stats.lines()


def test_unit_init_saturates_tanh():
    stats = activation_statistics(1.0, "tanh", seed=SEED, verbose=False)
    np.testing.assert_allclose(stats.layer_stds, 0.98, atol=0.005)
    H = stats.activations[-1]
    assert np.mean(np.abs(H) > 0.99) > 0.5  # most units are saturated at -1 or +1


def test_xavier_keeps_tanh_alive():
    stats = activation_statistics("xavier", "tanh", seed=SEED, verbose=False)
    assert np.all(stats.layer_stds > 0.1)
    assert np.all(stats.layer_stds < 0.9)


def test_he_keeps_relu_scale_but_xavier_does_not():
    he = activation_statistics("he", "relu", seed=SEED, verbose=False)
    first = he.layer_stds[0]
    assert np.all((he.layer_stds > first / 2) & (he.layer_stds < first * 2))
    # The contrast the notes draw: Xavier halves the variance per ReLU layer.
    xavier = activation_statistics("xavier", "relu", seed=SEED, verbose=False)
    assert xavier.layer_stds[-1] < xavier.layer_stds[0] / 4


def test_printout_has_the_notes_format(capsys):
    stats = activation_statistics(
        0.01, "tanh", num_layers=3, hidden_size=50, num_samples=100, seed=1
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    number = r"(-?\d+\.\d{6})"
    m = re.fullmatch(rf"input layer had mean {number} and std {number}", lines[0])
    assert m and float(m.group(2)) == pytest.approx(stats.input_std, abs=1e-6)
    for i, line in enumerate(lines[1:], start=1):
        m = re.fullmatch(rf"hidden layer {i} had mean {number} and std {number}", line)
        assert m, line
        assert float(m.group(1)) == pytest.approx(stats.layer_means[i - 1], abs=1e-6)
        assert float(m.group(2)) == pytest.approx(stats.layer_stds[i - 1], abs=1e-6)


def test_matches_the_notes_numpy_loop():
    """Same seed, same draws: the notes' code (with a Generator) gives the same numbers."""
    rng = np.random.default_rng(7)
    D = rng.standard_normal((200, 40))
    X, stds, means = D, [], []
    for _ in range(4):
        W = rng.standard_normal((40, 40)) * 0.5
        X = np.maximum(0, X @ W)
        means.append(X.mean())
        stds.append(X.std())
    stats = activation_statistics(
        0.5, "relu", num_layers=4, hidden_size=40, num_samples=200, seed=7, verbose=False
    )
    assert stats.input_mean == pytest.approx(D.mean(), rel=1e-12)
    np.testing.assert_allclose(stats.layer_means, means, rtol=1e-10)
    np.testing.assert_allclose(stats.layer_stds, stds, rtol=1e-10)
    np.testing.assert_allclose(stats.activations[-1], X, rtol=1e-10)


def test_reproducible_and_leaves_global_rng_alone():
    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    a = activation_statistics(
        "he", "relu", num_layers=3, hidden_size=30, num_samples=50, seed=5, verbose=False
    )
    b = activation_statistics(
        "he", "relu", num_layers=3, hidden_size=30, num_samples=50, seed=5, verbose=False
    )
    np.testing.assert_array_equal(a.layer_stds, b.layer_stds)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu"])
def test_backends_agree_and_float32(activation):
    kw = dict(num_layers=4, hidden_size=64, num_samples=128, seed=2, verbose=False)
    fast = activation_statistics("he", activation, **kw)
    with fastnn.backend("numpy"):
        ref = activation_statistics("he", activation, **kw)
    np.testing.assert_allclose(fast.layer_stds, ref.layer_stds, rtol=1e-10)
    np.testing.assert_allclose(fast.layer_means, ref.layer_means, rtol=1e-8, atol=1e-12)
    f32 = activation_statistics("he", activation, dtype=np.float32, **kw)
    assert f32.activations[0].dtype == np.float32
    np.testing.assert_allclose(f32.layer_stds, fast.layer_stds, rtol=1e-4)


def test_runs_on_the_backend_kernels(monkeypatch):
    calls = []
    real = fastnn._config.backend.ops().tanh
    monkeypatch.setattr(
        fastnn._config.backend.ops(), "tanh", lambda x: calls.append(x.shape) or real(x)
    )
    activation_statistics(
        0.5, "tanh", num_layers=2, hidden_size=8, num_samples=4, seed=0, verbose=False
    )
    assert calls == [(4, 8), (4, 8)]


def test_callable_init_with_and_without_rng():
    calls = []

    def with_rng(fan_in, fan_out, rng=None):
        calls.append(rng)
        return rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)

    a = activation_statistics(
        with_rng, "tanh", num_layers=2, hidden_size=20, num_samples=30, seed=4, verbose=False
    )
    b = activation_statistics(
        "xavier", "tanh", num_layers=2, hidden_size=20, num_samples=30, seed=4, verbose=False
    )
    assert len(calls) == 2 and all(isinstance(r, np.random.Generator) for r in calls)
    np.testing.assert_allclose(a.layer_stds, b.layer_stds, rtol=1e-12)
    const = activation_statistics(
        lambda fi, fo: np.full((fi, fo), 1e-3),
        "linear",
        num_layers=1,
        hidden_size=10,
        num_samples=5,
        seed=0,
        verbose=False,
    )
    assert const.activations[0].shape == (5, 10)
    with pytest.raises(ValueError, match="shape"):
        activation_statistics(
            lambda fi, fo: np.ones(3), num_layers=1, hidden_size=4, num_samples=2, verbose=False
        )


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(init="lecun"), ValueError, "unknown init"),
        (dict(init=-1.0), ValueError, "scale"),
        (dict(init=float("nan")), ValueError, "scale"),
        (dict(init=[0.1]), TypeError, "init"),
        (dict(init=0.1, activation="swish"), ValueError, "unknown activation"),
        (dict(init=0.1, num_layers=0), ValueError, "num_layers"),
        (dict(init=0.1, hidden_size=2.5), TypeError, "hidden_size"),
        (dict(init=0.1, num_samples=np.True_), TypeError, "num_samples"),
        (dict(init=0.1, dtype=np.int32), TypeError, "dtype"),
        (dict(init=0.1, seed=True), TypeError, "seed"),  # default_rng(True) accepted it
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        activation_statistics(verbose=False, **kwargs)


def test_histogram_plot_is_saved(tmp_path):
    pytest.importorskip("matplotlib")
    stats = activation_statistics(
        "xavier", "tanh", num_layers=3, hidden_size=40, num_samples=60, seed=0, verbose=False
    )
    path = tmp_path / "hist.png"
    fig = stats.plot(path, bins=12)
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    hist_axes = fig.axes[2:]
    assert len(hist_axes) == 3
    for ax, H in zip(hist_axes, stats.activations):
        counts = [patch.get_height() for patch in ax.patches]
        assert len(counts) == 12 and sum(counts) == H.size
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), stats.layer_stds)


def test_plot_without_activations_or_matplotlib(monkeypatch):
    stats = activation_statistics(
        0.1,
        "relu",
        num_layers=2,
        hidden_size=5,
        num_samples=5,
        seed=0,
        verbose=False,
        keep_activations=False,
    )
    assert stats.activations is None
    with pytest.raises(ValueError, match="keep_activations"):
        plot_activation_histograms(stats)
    stats = activation_statistics(
        0.1, "relu", num_layers=2, hidden_size=5, num_samples=5, seed=0, verbose=False
    )
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[plot\]"'):
        stats.plot()


def test_init_names_come_from_fastnn_init():
    kw = dict(num_layers=2, hidden_size=20, num_samples=30, seed=4, verbose=False)
    small = activation_statistics("small", "tanh", **kw).layer_stds
    np.testing.assert_array_equal(
        activation_statistics("small_random", "tanh", **kw).layer_stds, small
    )
    np.testing.assert_array_equal(activation_statistics(0.01, "tanh", **kw).layer_stds, small)
    with pytest.raises(ValueError, match="'small_random'.*'zeros'"):
        activation_statistics("lecun", **kw)


def test_fastnn_init_functions_as_callables_get_rng_and_dtype():
    kw = dict(num_layers=3, hidden_size=30, num_samples=40, seed=3, verbose=False)
    a = activation_statistics(fastnn.nn.init.he, "relu", **kw)
    b = activation_statistics("he", "relu", **kw)
    # fastnn.nn.init.he defaults to float32: equality in float64 shows dtype= was passed through.
    np.testing.assert_array_equal(a.activations[-1], b.activations[-1])
    glorot = activation_statistics("glorot", "tanh", **kw)

    def glorot64(fan_in, fan_out, rng):
        return fastnn.nn.init.xavier(fan_in, fan_out, glorot=True, dtype=np.float64, rng=rng)

    manual = activation_statistics(glorot64, "tanh", **kw)
    np.testing.assert_array_equal(glorot.layer_stds, manual.layer_stds)
