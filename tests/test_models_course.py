"""FullyConnectedNet with the CS231n assignment's signature: weight_scale, normalization,
dropout_keep_ratio (and its older name dropout), as the course's notebooks call it."""

import numpy as np
import pytest

from fastnn import FullyConnectedNet
from fastnn.nn.gradcheck import eval_numerical_gradient

N, D, H1, H2, C = 2, 15, 20, 30, 10


def _course_data(seed=231):
    rng = np.random.RandomState(seed)
    return rng.randn(N, D), rng.randint(C, size=(N,))


def _check_gradients(model, X, y, rtol):
    """Analytic against centred-difference gradients, element-wise (the course's rel_error
    divides near-zero entries by 1e-8 and fails on numeric noise around a zero gradient)."""
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss)
    assert sorted(grads) == sorted(model.params)
    for name in sorted(model.params):
        num = eval_numerical_gradient(
            lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5
        )
        np.testing.assert_allclose(grads[name], num, rtol=rtol, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("reg", [0.0, 3.14])
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_course_notebook_gradient_check(normalization, reg):
    """The FullyConnectedNets / BatchNormalization notebooks' checks."""
    X, y = _course_data()
    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        reg=reg,
        weight_scale=5e-2,
        dtype=np.float64,
        normalization=normalization,
        seed=0,
    )
    _check_gradients(model, X, y, rtol=1e-5)


@pytest.mark.parametrize("keyword", ["dropout_keep_ratio", "dropout"])
@pytest.mark.parametrize("keep", [1, 0.75, 0.5])
def test_course_dropout_notebook_gradient_check(keep, keyword):
    """The Dropout notebook: with a seed the mask is fixed, so the numeric gradient applies."""
    X, y = _course_data()
    model = FullyConnectedNet(
        [H1, H2],
        input_dim=D,
        num_classes=C,
        weight_scale=5e-2,
        dtype=np.float64,
        seed=123,
        **{keyword: keep},
    )
    assert model.use_dropout == (keep != 1)
    _check_gradients(model, X, y, rtol=1e-5)


def test_course_parameter_names_scale_and_attributes():
    model = FullyConnectedNet(
        [H1, H2], input_dim=D, num_classes=C, weight_scale=1e-3, normalization="layernorm"
    )
    assert sorted(model.params) == sorted(
        ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    )
    assert model.normalization == "layernorm" and model.bn_params == [{}, {}]
    assert model.num_layers == 3 and not model.use_dropout and model.dropout_param == {}
    assert all(v.dtype == np.float32 for v in model.params.values())
    big = FullyConnectedNet([400], input_dim=500, num_classes=C, weight_scale=1e-2, seed=0)
    assert abs(big.params["W1"].std() / 1e-2 - 1) < 0.05


def test_dropout_is_off_at_test_time_and_on_in_training():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, D)), rng.integers(0, C, 64)
    model = FullyConnectedNet([H1], input_dim=D, num_classes=C, dropout_keep_ratio=0.5)
    plain = FullyConnectedNet([H1], input_dim=D, num_classes=C)
    plain.params = model.params
    np.testing.assert_array_equal(model.loss(X), plain.loss(X))  # test mode: no dropout
    assert model.dropout_param["mode"] == "test"
    assert model.loss(X, y)[0] != plain.loss(X, y)[0]
    assert model.dropout_param["mode"] == "train"


def test_without_a_seed_the_dropout_masks_differ_between_steps():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((64, D)), rng.integers(0, C, 64)
    model = FullyConnectedNet([H1], input_dim=D, num_classes=C, dropout_keep_ratio=0.5)
    assert "seed" not in model.dropout_param
    assert model.loss(X, y)[0] != model.loss(X, y)[0]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"normalization": "groupnorm"}, ValueError, "normalization"),
        ({"normalization": "layernorm", "batchnorm": True}, ValueError, "contradicts"),
        ({"weight_scale": 1e-2, "weight_init": "xavier"}, TypeError, "weight_scale"),
        ({"weight_scale": "small"}, TypeError, "weight_scale"),
        ({"weight_scale": -1.0}, ValueError, "weight_scale"),
        ({"dropout_keep_ratio": 0.0}, ValueError, "dropout_keep_ratio"),
        ({"dropout_keep_ratio": 1.5}, ValueError, "dropout_keep_ratio"),
        ({"dropout": float("nan")}, ValueError, "dropout"),
        ({"dropout": 0.5, "dropout_keep_ratio": 0.5}, TypeError, "not both"),
        ({"dropout": True}, TypeError, "dropout"),
    ],
)
def test_course_keywords_bad_values(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FullyConnectedNet([4], input_dim=3, num_classes=2, **kwargs)


def test_normalization_batchnorm_equals_batchnorm_true():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((16, D)), rng.integers(0, C, 16)
    a = FullyConnectedNet([H1], D, C, normalization="batchnorm", dtype=np.float64, seed=3)
    b = FullyConnectedNet([H1], D, C, batchnorm=True, dtype=np.float64, seed=3)
    la, ga = a.loss(X, y)
    lb, gb = b.loss(X, y)
    assert la == lb and all(np.array_equal(ga[k], gb[k]) for k in ga)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_without_a_seed_the_weights_are_the_courses_draws_from_numpys_global_state(dtype):
    """The notebooks call np.random.seed(231) before building a net: the course's
    ``weight_scale * np.random.randn(fan_in, fan_out)`` per layer, then ``astype(dtype)``."""
    state = np.random.get_state()
    try:
        np.random.seed(231)
        model = FullyConnectedNet(
            [H1, H2],
            input_dim=D,
            num_classes=C,
            weight_scale=5e-2,
            dtype=dtype,
            normalization="batchnorm",
        )
        np.random.seed(231)
        dims = [D, H1, H2, C]
        for i in range(3):
            expected = (5e-2 * np.random.randn(dims[i], dims[i + 1])).astype(dtype)
            np.testing.assert_array_equal(model.params[f"W{i + 1}"], expected)
        after_course = np.random.get_state()[1].copy()
        np.random.seed(231)
        FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2)
        np.testing.assert_array_equal(np.random.get_state()[1], after_course)
    finally:
        np.random.set_state(state)


def test_without_a_seed_named_initializers_repeat_under_np_random_seed():
    state = np.random.get_state()
    try:
        np.random.seed(5)
        a = FullyConnectedNet([H1], input_dim=D, num_classes=C)  # He
        np.random.seed(5)
        b = FullyConnectedNet([H1], input_dim=D, num_classes=C)
        c = FullyConnectedNet([H1], input_dim=D, num_classes=C)
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
        assert not np.array_equal(b.params["W1"], c.params["W1"])
        before = np.random.get_state()[1].copy()
        FullyConnectedNet([H1], input_dim=D, num_classes=C, weight_scale=1e-2, seed=0)
        np.testing.assert_array_equal(np.random.get_state()[1], before)  # a seed: untouched
    finally:
        np.random.set_state(state)


def test_the_2017_use_batchnorm_keyword():
    """The 2017 assignment's ``FullyConnectedNet(..., use_batchnorm=True)``."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((16, D)), rng.integers(0, C, 16)
    a = FullyConnectedNet([H1], D, C, use_batchnorm=True, dtype=np.float64, seed=3)
    b = FullyConnectedNet([H1], D, C, normalization="batchnorm", dtype=np.float64, seed=3)
    assert a.normalization == "batchnorm" and "gamma1" in a.params
    la, ga = a.loss(X, y)
    lb, gb = b.loss(X, y)
    assert la == lb and all(np.array_equal(ga[k], gb[k]) for k in ga)
    plain = FullyConnectedNet([H1], D, C, use_batchnorm=False, seed=3)
    assert plain.normalization is None
    with pytest.raises(ValueError, match="contradicts"):
        FullyConnectedNet([H1], D, C, use_batchnorm=True, normalization="layernorm")


def test_the_2017_dropout_zero_says_dropout_is_a_keep_probability():
    """The 2017 course's ``dropout`` was a drop probability (0 = no dropout): a ``dropout=0``
    call from it must say how to write it, not just that 0 is out of range."""
    with pytest.raises(ValueError, match=r"dropout_keep_ratio=1 - p"):
        FullyConnectedNet([H1], D, C, dropout=0)


def test_the_fully_connected_nets_notebook_prints_the_courses_initial_losses():
    """The notebook's cell, run as written after np.random.seed(231), prints the initial
    losses of the course's published output (2020 FullyConnectedNets.ipynb)."""
    state = np.random.get_state()
    try:
        np.random.seed(231)
        X = np.random.randn(N, D)
        y = np.random.randint(C, size=(N,))
        losses = []
        for reg in [0, 3.14]:
            model = FullyConnectedNet(
                [H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64
            )
            losses.append(model.loss(X, y)[0])
        assert losses == pytest.approx([2.3004790897684924, 7.052114776533016], rel=1e-12)
    finally:
        np.random.set_state(state)
