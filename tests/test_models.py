"""Models: init_two_layer_model, two_layer_net and FullyConnectedNet (values, gradients, dtypes).

Tests with activation != 'relu' need the activation kernels (sigmoid, tanh, leaky_relu,
elu, maxout) in the backend namespace, and batchnorm tests need batchnorm_backward there.
"""

import math

import numpy as np
import pytest

import fastnn
from fastnn import FullyConnectedNet, init_two_layer_model, two_layer_net
from fastnn.nn.gradcheck import eval_numerical_gradient, rel_error
from fastnn.nn.models import is_object_model

ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "maxout")


def _np_softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    dscores = np.exp(logp)
    dscores[np.arange(n), y] -= 1
    return -logp[np.arange(n), y].mean(), dscores / n


def _two_layer_textbook(X, model, y, reg):
    """The CS231n two-layer net written out in plain NumPy (the oracle)."""
    W1, b1, W2, b2 = (model[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2"))
    X = X.astype(np.float64)
    a = X @ W1 + b1
    h = np.maximum(a, 0)
    scores = h @ W2 + b2
    loss, ds = _np_softmax_loss(scores, y)
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dh = ds @ W2.T
    da = dh * (a > 0)
    grads = {"W1": X.T @ da + reg * W1, "b1": da.sum(0), "W2": h.T @ ds + reg * W2, "b2": ds.sum(0)}
    return scores, loss, grads


def test_init_two_layer_model_matches_the_notes():
    model = init_two_layer_model(3072, 50, 10, seed=0)
    assert sorted(model) == ["W1", "W2", "b1", "b2"]
    assert model["W1"].shape == (3072, 50) and model["W2"].shape == (50, 10)
    assert model["b1"].shape == (50,) and model["b2"].shape == (10,)
    assert all(v.dtype == np.float64 for v in model.values())
    assert not model["b1"].any() and not model["b2"].any()
    assert abs(model["W1"].std() / 1e-4 - 1) < 0.01
    assert abs(model["W2"].std() / 1e-4 - 1) < 0.15  # only 500 draws


def test_init_two_layer_model_seeding_and_dtype():
    state = np.random.get_state()
    a = init_two_layer_model(20, 5, 3, seed=1)
    b = init_two_layer_model(20, 5, 3, rng=np.random.default_rng(1))
    c = init_two_layer_model(20, 5, 3, dtype=np.float32, seed=1)
    init_two_layer_model(20, 5, 3)
    assert np.array_equal(np.random.get_state()[1], state[1])
    for k in a:
        assert np.array_equal(a[k], b[k])
        assert c[k].dtype == np.float32
        np.testing.assert_allclose(c[k], a[k], rtol=1e-6)
    assert not np.array_equal(a["W1"], init_two_layer_model(20, 5, 3, seed=2)["W1"])


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_two_layer_net_matches_textbook_numpy(reg):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((13, 11))
    y = rng.integers(0, 4, 13)
    model = {
        "W1": rng.standard_normal((11, 9)),
        "b1": rng.standard_normal(9),
        "W2": rng.standard_normal((9, 4)),
        "b2": rng.standard_normal(4),
    }
    before = {k: v.copy() for k, v in model.items()}
    scores_ref, loss_ref, grads_ref = _two_layer_textbook(X, model, y, reg)
    np.testing.assert_allclose(two_layer_net(X, model), scores_ref, rtol=1e-12)
    loss, grads = two_layer_net(X, model, y, reg)
    assert isinstance(loss, float)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert sorted(grads) == sorted(model)
    for k in model:
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
        assert np.array_equal(model[k], before[k])  # the model is not modified


def test_two_layer_net_regularization_term_is_half_reg_sum_of_squares():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    model = init_two_layer_model(6, 5, 3, seed=3)
    model["W1"] *= 1e3
    l0, g0 = two_layer_net(X, model, y, 0.0)
    l1, g1 = two_layer_net(X, model, y, 2.5)
    expected = 0.5 * 2.5 * (np.sum(model["W1"] ** 2) + np.sum(model["W2"] ** 2))
    assert l1 - l0 == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(g1["W1"] - g0["W1"], 2.5 * model["W1"], rtol=1e-10)
    np.testing.assert_array_equal(g1["b1"], g0["b1"])


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradient_check(reg):
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    model = init_two_layer_model(5, 7, 3, seed=4)
    for k in model:
        model[k] = rng.standard_normal(model[k].shape)
    _, grads = two_layer_net(X, model, y, reg)
    for name in model:
        num = eval_numerical_gradient(
            lambda _: two_layer_net(X, model, y, reg)[0], model[name], verbose=False, h=1e-6
        )
        assert rel_error(num, grads[name]) < 1e-6, name


def test_two_layer_net_float32_stays_float32_and_agrees_with_float64():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((16, 12)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    m64 = init_two_layer_model(12, 8, 5, seed=5)
    for k in m64:
        m64[k] = m64[k] * 1e3 + 0.01
    m32 = {k: v.astype(np.float32) for k, v in m64.items()}
    scores = two_layer_net(X, m32)
    assert scores.dtype == np.float32
    loss, grads = two_layer_net(X, m32, y, 0.1)
    assert all(grads[k].dtype == np.float32 for k in grads)
    loss64, grads64 = two_layer_net(X.astype(np.float64), m64, y, 0.1)
    assert loss == pytest.approx(loss64, rel=1e-5)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads64[k], rtol=1e-3, atol=1e-5, err_msg=k)
    # float64 data on a float32 model computes in float32 (the model's dtype)
    assert two_layer_net(X.astype(np.float64), m32).dtype == np.float32


def test_two_layer_net_flattens_image_shaped_input():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 3, 2, 2))
    model = init_two_layer_model(12, 6, 3, seed=0)
    np.testing.assert_array_equal(two_layer_net(X, model), two_layer_net(X.reshape(4, 12), model))


def test_two_layer_net_same_on_both_backends():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 20)).astype(np.float32)
    y = rng.integers(0, 10, 30)
    model = init_two_layer_model(20, 15, 10, dtype=np.float32, seed=0)
    model["W1"] *= 1e3
    model["W2"] *= 1e3
    with fastnn.backend("cython"):
        lc, gc = two_layer_net(X, model, y, 0.01)
    with fastnn.backend("numpy"):
        ln, gn = two_layer_net(X, model, y, 0.01)
    assert lc == pytest.approx(ln, rel=1e-5)
    for k in gc:
        np.testing.assert_allclose(gc[k], gn[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_two_layer_net_bad_labels_raise():
    model = init_two_layer_model(4, 3, 2, seed=0)
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match="out of range"):
        two_layer_net(X, model, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="features"):
        two_layer_net(np.ones((3, 5)), model)


# ---------------------------------------------------------------- FullyConnectedNet


def _fc_data(n=6, d=5, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fully_connected_net_gradient_check(activation, batchnorm):
    X, y = _fc_data()
    net = FullyConnectedNet(
        [7, 6],
        input_dim=5,
        num_classes=4,
        activation=activation,
        batchnorm=batchnorm,
        reg=0.3,
        dtype=np.float64,
        seed=1,
    )
    loss, grads = net.loss(X, y)
    assert sorted(grads) == sorted(net.params)
    assert math.isfinite(loss)
    for name, p in net.params.items():
        num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], p, verbose=False, h=1e-6)
        assert grads[name].shape == p.shape, name
        if batchnorm and name in ("b1", "b2"):
            # a bias before batchnorm is subtracted out again: its gradient is exactly 0
            assert np.abs(grads[name]).max() < 1e-12 and np.abs(num).max() < 1e-8, name
            continue
        assert rel_error(num, grads[name]) < 1e-5, (name, rel_error(num, grads[name]))


def test_fully_connected_net_without_hidden_layers_is_softmax_regression():
    X, y = _fc_data()
    net = FullyConnectedNet([], input_dim=5, num_classes=4, dtype=np.float64, seed=0)
    assert sorted(net.params) == ["W1", "b1"]
    loss, grads = net.loss(X, y)
    ref_loss, ds = _np_softmax_loss(X @ net.params["W1"] + net.params["b1"], y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grads["W1"], X.T @ ds, rtol=1e-10)


def test_fully_connected_net_relu_matches_two_layer_net():
    X, y = _fc_data(n=9, d=8, c=3)
    net = FullyConnectedNet([6], input_dim=8, num_classes=3, reg=0.2, dtype=np.float64, seed=2)
    model = {k: net.params[k] for k in ("W1", "b1", "W2", "b2")}
    np.testing.assert_allclose(net.loss(X), two_layer_net(X, model), rtol=1e-12)
    loss, grads = net.loss(X, y)
    loss2, grads2 = two_layer_net(X, model, y, 0.2)
    assert loss == pytest.approx(loss2, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], grads2[k], rtol=1e-10, err_msg=k)


def test_fully_connected_net_parameter_shapes_and_initial_values():
    net = FullyConnectedNet([10, 8], input_dim=12, num_classes=3, batchnorm=True, seed=0)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {
        "W1": (12, 10),
        "b1": (10,),
        "gamma1": (10,),
        "beta1": (10,),
        "W2": (10, 8),
        "b2": (8,),
        "gamma2": (8,),
        "beta2": (8,),
        "W3": (8, 3),
        "b3": (3,),
    }
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert np.all(net.params["gamma1"] == 1) and not net.params["beta2"].any()
    assert abs(net.params["W1"].std() / math.sqrt(2 / 12) - 1) < 0.3  # He
    maxout = FullyConnectedNet(
        [10], input_dim=12, num_classes=3, activation="maxout", maxout_pieces=3, seed=0
    )
    assert maxout.params["W1"].shape == (12, 10, 3) and maxout.params["b1"].shape == (10, 3)
    assert maxout.params["W2"].shape == (10, 3)


@pytest.mark.parametrize(
    "weight_init, std",
    [
        ("he", math.sqrt(2 / 300)),
        ("xavier", math.sqrt(1 / 300)),
        ("glorot", math.sqrt(2 / 500)),
        ("small_random", 0.01),
        (0.05, 0.05),
    ],
)
def test_fully_connected_net_weight_init(weight_init, std):
    net = FullyConnectedNet([200], input_dim=300, num_classes=10, weight_init=weight_init, seed=0)
    assert abs(net.params["W1"].std() / std - 1) < 0.02


def test_fully_connected_net_zero_init_warns():
    with pytest.warns(UserWarning, match="same"):
        FullyConnectedNet([4], input_dim=3, num_classes=2, weight_init="zeros")


def test_fully_connected_net_seed_reproducible():
    a = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, seed=3)
    b = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, seed=3)
    c = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, seed=4)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_fully_connected_net_float32_path_and_input_conversion():
    X, y = _fc_data(n=20, d=6, c=3)
    net = FullyConnectedNet([8], input_dim=6, num_classes=3, reg=0.1, seed=0)
    scores = net.loss(X)  # float64 input, float32 model
    assert scores.dtype == np.float32
    loss, grads = net.loss(X.astype(np.float32), y)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert np.array_equal(net.predict(X), np.argmax(scores, axis=1))
    proba = net.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == (20, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(
        np.log(proba[:, 1] / proba[:, 0]), scores[:, 1] - scores[:, 0], rtol=1e-4, atol=1e-5
    )


def test_fully_connected_net_batchnorm_test_mode_uses_running_statistics():
    X, y = _fc_data(n=50, d=6, c=3)
    X = X * 5 + 3
    net = FullyConnectedNet(
        [8], input_dim=6, num_classes=3, batchnorm=True, dtype=np.float64, seed=0
    )
    for _ in range(60):
        net.loss(X, y)
    bn = net.bn_params[0]
    a = X @ net.params["W1"] + net.params["b1"]
    np.testing.assert_allclose(bn["running_mean"], a.mean(0), rtol=1e-2, atol=1e-2)
    # test mode: a single row is normalized by the running stats, not by itself
    one = net.loss(X[:1])
    assert bn["mode"] == "test"
    full = net.loss(X)
    np.testing.assert_allclose(one[0], full[0], rtol=1e-10)


def test_is_object_model():
    net = FullyConnectedNet([4], input_dim=3, num_classes=2, seed=0)
    assert is_object_model(net, None)
    assert not is_object_model(net, two_layer_net)
    assert not is_object_model({"W1": np.ones(2)}, two_layer_net)
    with pytest.raises(TypeError, match="loss_function is required"):
        is_object_model({"W1": np.ones(2)}, None)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"activation": "softplus"}, ValueError, "activation"),
        ({"weight_init": "orthogonal"}, ValueError, "weight_init"),
        ({"dtype": np.int64}, TypeError, "dtype"),
        ({"hidden_dims": [4, 0]}, ValueError, ">= 1"),
        ({"hidden_dims": [2.7]}, TypeError, "hidden_dims"),  # was truncated to 2
        ({"input_dim": 3.5}, TypeError, "input_dim"),
        ({"activation": "maxout", "maxout_pieces": 2.5}, TypeError, "maxout_pieces"),
        ({"weight_init": True}, TypeError, "weight_init"),  # was scale 1.0
        ({"weight_init": None}, TypeError, "weight_init"),
        ({"weight_init": -0.1}, ValueError, "weight_init"),
        ({"reg": -0.5}, ValueError, "reg"),
    ],
)
def test_fully_connected_net_bad_arguments(kwargs, exc, match):
    args = {"hidden_dims": [4], "input_dim": 3, "num_classes": 2, **kwargs}
    with pytest.raises(exc, match=match):
        FullyConnectedNet(**args)


@pytest.mark.parametrize("model", ["two_layer_net", "FullyConnectedNet"])
def test_models_run_their_kernels_on_one_thread(monkeypatch, model):
    """Kernels between BLAS matrix products ran slower on an OpenMP team than on one thread."""
    from fastnn._config.backend import ops

    seen = []
    real = ops().bias_relu  # the hidden layer's bias add and ReLU
    monkeypatch.setattr(
        ops(), "bias_relu", lambda *a, **k: seen.append(fastnn.get_num_threads()) or real(*a, **k)
    )
    fastnn.set_num_threads(2)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    if model == "two_layer_net":
        two_layer_net(X, init_two_layer_model(5, 4, 3, seed=0), y)
    else:
        FullyConnectedNet([4], 5, 3, seed=0).loss(X, y)
    assert seen == [1]
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("reg", [-1.0, float("nan"), float("inf"), "a lot"])
def test_two_layer_net_rejects_a_bad_reg(reg):
    """A negative or non-finite reg used to give a silently wrong (or NaN) loss."""
    model = init_two_layer_model(5, 4, 3, seed=0)
    with pytest.raises((ValueError, TypeError), match="reg"):
        two_layer_net(np.ones((2, 5)), model, np.array([0, 1]), reg=reg)
