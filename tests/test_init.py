"""fastnn.nn.init: shapes, dtypes, variances, seeding, warnings, and the notes' deep-net
experiment."""

import math

import numpy as np
import pytest

from fastnn.nn import init

DTYPES = (np.float32, np.float64)


def test_initializers_table_by_name():
    assert list(init.INITIALIZERS) == ["he", "xavier", "glorot", "small_random", "zeros"]
    glorot = init.INITIALIZERS["glorot"](20, 30, dtype=np.float64, rng=1)
    np.testing.assert_array_equal(glorot, init.xavier(20, 30, glorot=True, dtype=np.float64, rng=1))
    for name, fn in init.INITIALIZERS.items():
        if name == "zeros":
            with pytest.warns(UserWarning):
                w = fn(4, 3, dtype=np.float64, rng=0)
        else:
            w = fn(4, 3, dtype=np.float64, rng=0)
        assert w.shape == (4, 3) and w.dtype == np.float64, name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "fn, kwargs, std",
    [
        (init.small_random, {}, lambda fi, fo: 0.01),
        (init.small_random, {"scale": 0.5}, lambda fi, fo: 0.5),
        (init.xavier, {}, lambda fi, fo: 1 / math.sqrt(fi)),
        (init.xavier, {"glorot": True}, lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (init.xavier, {"uniform": True}, lambda fi, fo: 1 / math.sqrt(fi)),
        (init.xavier, {"glorot": True, "uniform": True}, lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (init.he, {}, lambda fi, fo: math.sqrt(2 / fi)),
    ],
)
def test_shape_dtype_and_standard_deviation(fn, kwargs, std, dtype):
    fan_in, fan_out = 400, 300
    w = fn(fan_in, fan_out, dtype=dtype, rng=0, **kwargs)
    assert w.shape == (fan_in, fan_out)
    assert w.dtype == dtype
    expected = std(fan_in, fan_out)
    # 120,000 draws: the sample std is within 1 % of the true one with overwhelming probability
    assert abs(w.std() / expected - 1) < 0.01, (w.std(), expected)
    assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)


def test_uniform_xavier_bounds_are_the_glorot_limits():
    fan_in, fan_out = 50, 70
    w = init.xavier(fan_in, fan_out, glorot=True, uniform=True, rng=1, dtype=np.float64)
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert w.max() <= limit and w.min() >= -limit
    assert w.max() > 0.95 * limit and w.min() < -0.95 * limit
    w = init.xavier(fan_in, fan_out, uniform=True, rng=1, dtype=np.float64)
    assert np.abs(w).max() <= math.sqrt(3 / fan_in)


@pytest.mark.parametrize("fn", [init.small_random, init.xavier, init.he])
def test_seeded_draws_repeat_and_global_state_is_untouched(fn):
    state = np.random.get_state()
    a = fn(20, 30, rng=7)
    b = fn(20, 30, rng=np.random.default_rng(7))
    c = fn(20, 30, rng=8)
    unseeded = fn(20, 30)
    after = np.random.get_state()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert unseeded.shape == (20, 30)
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]


def test_a_shared_generator_advances_between_layers():
    gen = np.random.default_rng(3)
    assert not np.array_equal(init.he(10, 10, rng=gen), init.he(10, 10, rng=gen))


def test_legacy_random_state_is_accepted():
    w1 = init.he(5, 4, rng=np.random.RandomState(0))
    w2 = init.he(5, 4, rng=np.random.RandomState(0))
    assert np.array_equal(w1, w2)


def test_zeros_warns_for_weight_matrices_not_for_biases():
    with pytest.warns(UserWarning, match="same"):
        w = init.zeros(4, 3)
    assert w.shape == (4, 3) and not w.any() and w.dtype == np.float32
    b = init.zeros(5, dtype=np.float64)  # no warning (the suite turns warnings into errors)
    assert b.shape == (5,) and b.dtype == np.float64 and not b.any()
    # through a model the warning still points at the user's line, not into fastnn
    from fastnn import FullyConnectedNet

    with pytest.warns(UserWarning, match="same") as record:
        FullyConnectedNet([3], 4, 2, weight_init="zeros")
    assert {w.filename for w in record} == {__file__}


@pytest.mark.parametrize(
    "bad, exc",
    [
        ((0, 3), ValueError),
        ((3, -1), ValueError),
        ((2.5, 3), TypeError),
        ((True, 3), TypeError),
        ((3, np.True_), TypeError),
    ],
)
def test_bad_fans_raise(bad, exc):
    with pytest.raises(exc, match="fan_"):
        init.he(*bad)


def test_bad_dtype_scale_and_rng_raise():
    with pytest.raises(TypeError, match="dtype"):
        init.he(3, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="scale"):
        init.small_random(3, 3, scale=-1.0)
    with pytest.raises(ValueError, match="scale"):
        init.small_random(3, 3, scale=float("nan"))
    with pytest.raises(TypeError, match="scale"):
        init.small_random(3, 3, scale="big")
    with pytest.raises(TypeError, match="rng"):
        init.he(3, 3, rng="seed")
    with pytest.raises(TypeError, match="either"):
        init.as_generator(rng=1, seed=2)


def _layer_stds(weight_fn, nonlinearity, layers=10, width=200, n=500):
    """The notes' experiment: push unit-gaussian data through a deep net, std per layer."""
    rng = np.random.default_rng(0)
    h = rng.standard_normal((n, width))
    stds = []
    for _ in range(layers):
        h = nonlinearity(h @ weight_fn(width, width, rng))
        stds.append(h.std())
    return stds


def test_small_random_init_collapses_a_deep_tanh_net_and_xavier_does_not():
    small = _layer_stds(lambda i, o, r: init.small_random(i, o, rng=r, dtype=np.float64), np.tanh)
    # the notes (width 500): 0.21, 0.047, 0.011, ...; here each layer scales by 0.01 * sqrt(200)
    assert 0.1 < small[0] < 0.3
    assert small[-1] < 1e-5
    assert all(b < a / 3 for a, b in zip(small, small[1:]))
    xav = _layer_stds(lambda i, o, r: init.xavier(i, o, rng=r, dtype=np.float64), np.tanh)
    assert xav[-1] > 0.2


def test_large_init_saturates_tanh():
    big = _layer_stds(
        lambda i, o, r: init.small_random(i, o, scale=1.0, rng=r, dtype=np.float64), np.tanh
    )
    assert all(s > 0.95 for s in big)  # the notes: std ~0.98, every unit at -1 or +1


def test_he_keeps_relu_activations_alive_where_xavier_halves_them():
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    he = _layer_stds(lambda i, o, r: init.he(i, o, rng=r, dtype=np.float64), relu)
    xav = _layer_stds(lambda i, o, r: init.xavier(i, o, rng=r, dtype=np.float64), relu)
    assert 0.5 < he[-1] / he[0] < 2
    assert xav[-1] / xav[0] < 0.1  # variance halves every layer: std ratio (1/sqrt 2)**9 = 0.044
