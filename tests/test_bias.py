"""The bias kernels: compiled against the NumPy twins, against the unfused layers, gradients,
edge cases, threads and bad input."""

import numpy as np
import pytest
from util import DTYPES, layouts, numerical_gradient, rel_error

import fastnn
from fastnn import reference as ref
from fastnn.core import bias as fast
from fastnn.nn import layers

# (9, 2100): two whole 1024-column blocks of the gradient and a part of one, 4 + 4 + 1 rows
SHAPES = [(1, 1), (3, 5), (0, 4), (4, 0), (7, 17), (200, 10), (200, 100), (257, 300), (9, 2100)]
KINDS = ["normal", "nonfinite"]


def _arrays(shape, dtype, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "nonfinite":
        values = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5])
        pick = lambda size: rng.choice(values, size=size)  # noqa: E731
    else:
        pick = rng.standard_normal
    z = pick(shape).astype(dtype)
    b = pick(shape[1]).astype(dtype)
    dout = pick(shape).astype(dtype)
    return z, b, dout


def _assert_column_sums(db, dz):
    """db is dz.sum(axis=0) formed in double and rounded once: within half an ulp of db (plus
    the double sum's own error) of the exact sum; NaN/inf columns as NumPy gives them."""
    assert db.dtype == dz.dtype and db.shape == (dz.shape[1],)
    with np.errstate(invalid="ignore", over="ignore"):
        exact = dz.astype(np.longdouble).sum(axis=0)
    finite = np.isfinite(exact)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(db[~finite], exact[~finite].astype(dz.dtype))
    sum_error = dz.shape[0] * 2.0**-52 * np.abs(dz.astype(np.float64)).sum(axis=0)
    bound = 0.5 * np.spacing(np.abs(db)).astype(np.longdouble) + sum_error
    assert np.all(np.abs(db[finite] - exact[finite]) <= bound[finite])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_twin_and_unfused_layers_in_every_layout(shape, kind, dtype):
    z, b, _ = _arrays(shape, dtype, kind)
    for index, (what, view) in enumerate(layouts(z)):
        if view.shape != z.shape:
            continue
        with np.errstate(invalid="ignore"):
            want_add = view + b
        want_relu = fastnn.relu(want_add)
        for fused, twin, want in (
            (fast.bias_add, ref.bias_add, want_add),
            (fast.bias_relu, ref.bias_relu, want_relu),
        ):
            # fresh arrays of the same layout: the kernels write into the odd view itself
            got = list(layouts(z.copy()))[index][1]
            expected = list(layouts(z.copy()))[index][1]
            returned = fused(got, b)
            assert returned is got, what
            with np.errstate(invalid="ignore"):
                twin(expected, b)
            np.testing.assert_array_equal(got, expected, err_msg=f"{fused.__name__} {what}")
            np.testing.assert_array_equal(got, want, err_msg=f"{fused.__name__} {what}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_writes_through_strided_views(dtype):
    z, b, _ = _arrays((6, 8), dtype, "normal")
    big = np.zeros((12, 16), dtype)
    big[::2, ::2] = z
    fast.bias_relu(big[::2, ::2], b)
    np.testing.assert_array_equal(big[::2, ::2], fastnn.relu(z + b))
    assert not big[1::2].any() and not big[:, 1::2].any()
    # b inside z: the bias is read before z is written
    z2 = z.copy()
    expected = z.copy()
    ref.bias_add(expected, expected[0].copy())
    fast.bias_add(z2, z2[0])
    np.testing.assert_array_equal(z2, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_twin_and_unfused_layers_in_every_layout(shape, kind, dtype):
    z, _, dout = _arrays(shape, dtype, kind)
    out = fastnn.relu(z)
    for what, view in layouts(dout):
        if view.shape != dout.shape:
            continue
        want_dz = fastnn.relu_backward(view, z)  # the ReLU's input and output: one mask
        dz, db = fast.relu_bias_backward(view, out)
        twin_dz, twin_db = ref.relu_bias_backward(view, out)
        np.testing.assert_array_equal(dz, want_dz, err_msg=what)
        np.testing.assert_array_equal(dz, twin_dz, err_msg=what)
        _assert_column_sums(db, want_dz)
        _assert_column_sums(twin_db, want_dz)
        plain = fast.bias_backward(view)
        _assert_column_sums(plain, dout)
        _assert_column_sums(ref.bias_backward(view), dout)
        for db_fast, db_twin in ((db, twin_db), (plain, ref.bias_backward(view))):
            np.testing.assert_allclose(db_fast, db_twin, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_bias_gradient_is_closer_to_exact_than_a_float32_sum():
    """The float32 dout.sum(axis=0) adds rows in float32; the kernels' double sums are
    within half an ulp of the exact sums."""
    rng = np.random.default_rng(3)
    dout = (rng.standard_normal((4096, 64)) * 100).astype(np.float32)
    exact = dout.astype(np.float64).sum(axis=0)
    float32_error = np.abs(dout.sum(axis=0) - exact).max()
    fused_error = np.abs(fast.bias_backward(dout) - exact).max()
    assert fused_error <= 0.5 * np.spacing(np.abs(exact).astype(np.float32)).max()
    assert fused_error < float32_error


def _documented_column_sums(dz):
    """The order bias_template.h promises, in NumPy: in double, four rows' values added
    pairwise, then to the running sums, rows in order; the last N % 4 rows one at a time."""
    x = dz.astype(np.float64)
    sums = np.zeros(x.shape[1])
    whole = x.shape[0] - x.shape[0] % 4
    for r in range(0, whole, 4):
        sums = sums + ((x[r] + x[r + 1]) + (x[r + 2] + x[r + 3]))
    for r in range(whole, x.shape[0]):
        sums = sums + x[r]
    return sums.astype(dz.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows", [*range(1, 20), 203])
def test_gradient_sums_in_the_documented_order(n_rows, dtype):
    """Bit for bit, with terms whose rounding shows any other grouping (any number of
    threads: the columns are split, never the rows)."""
    rng = np.random.default_rng(n_rows)
    scale = 10.0 ** rng.integers(-8, 9, (n_rows, 1030))
    dout = (rng.standard_normal((n_rows, 1030)) * scale).astype(dtype)
    out = np.where(rng.random(dout.shape) < 0.8, 1.0, 0.0).astype(dtype)
    for n in (1, 2):
        with fastnn.num_threads(n):
            np.testing.assert_array_equal(fast.bias_backward(dout), _documented_column_sums(dout))
            dz, db = fast.relu_bias_backward(dout, out)
            np.testing.assert_array_equal(db, _documented_column_sums(dz))


def test_numerical_gradient():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((6, 5))
    for forward, backward in (
        (fast.bias_relu, lambda d, o: fast.relu_bias_backward(d, o)),
        (ref.bias_relu, lambda d, o: ref.relu_bias_backward(d, o)),
        (fast.bias_add, lambda d, o: (d, fast.bias_backward(d))),
    ):
        out = forward(z.copy(), b)
        dz, db = backward(dout, out)
        num_b = numerical_gradient(lambda bb: forward(z.copy(), bb), b, dout)
        num_z = numerical_gradient(lambda zz: forward(zz.copy(), b), z, dout)
        assert rel_error(db, num_b) < 1e-7
        assert rel_error(dz, num_z) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_give_the_same_bits(dtype):
    z, b, dout = _arrays((700, 211), dtype, "normal", seed=5)
    out = fastnn.relu(z)
    results = []
    for n in (1, 2):
        with fastnn.num_threads(n):
            zz = z.copy()
            results.append(
                (
                    fast.bias_relu(zz, b),
                    *fast.relu_bias_backward(dout, out),
                    fast.bias_backward(dout),
                )
            )
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda f: f.bias_add([[1.0]], [1.0]), TypeError, "numpy.ndarray"),
        (lambda f: f.bias_relu(np.ones((2, 2), np.int64), np.ones(2)), TypeError, "float32"),
        (lambda f: f.bias_relu(np.ones(3), np.ones(3)), ValueError, "2-d"),
        (lambda f: f.bias_relu(np.ones((2, 3)), np.ones(2)), ValueError, r"shape \(3,\)"),
        (lambda f: f.bias_add(np.ones((2, 3)), "x"), TypeError, "b"),
        (lambda f: f.bias_backward(np.ones(3)), ValueError, "2-d"),
        (lambda f: f.bias_backward(np.array(["a"])), TypeError, "dout"),
        (lambda f: f.relu_bias_backward(np.ones((2, 3)), np.ones((3, 2))), ValueError, "shape"),
        (lambda f: f.relu_bias_backward(np.ones(3), np.ones(3)), ValueError, "2-d"),
    ],
)
def test_bad_input_raises_alike(call, exc, match):
    for impl in (fast, ref):
        with pytest.raises(exc, match=match):
            call(impl)


def test_read_only_z_raises_and_is_untouched():
    z = np.ones((2, 3))
    z.flags.writeable = False
    for impl in (fast, ref):
        with pytest.raises(ValueError, match="read-only"):
            impl.bias_relu(z, np.ones(3))
    assert (z == 1).all()


def test_relu_bias_backward_promotes_mixed_dtypes_like_the_twin():
    rng = np.random.default_rng(2)
    dout = rng.standard_normal((5, 4)).astype(np.float32)
    out = np.maximum(rng.standard_normal((5, 4)), 0)
    dz, db = fast.relu_bias_backward(dout, out)
    twin_dz, twin_db = ref.relu_bias_backward(dout, out)
    assert dz.dtype == twin_dz.dtype == db.dtype == np.float64
    np.testing.assert_array_equal(dz, twin_dz)
    np.testing.assert_allclose(db, twin_db, rtol=1e-15)


def _course_net_loss(net, X, y):
    """FullyConnectedNet.loss written with the course's layer functions (unfused)."""
    p, L = net.params, net.num_layers
    caches, h = [], X
    for i in range(1, L):
        a, fc = layers.affine_forward(h, p[f"W{i}"], p[f"b{i}"])
        bn = None
        if net.batchnorm:
            a, bn = layers.batchnorm_forward(a, p[f"gamma{i}"], p[f"beta{i}"], net.bn_params[i - 1])
        h, rc = layers.relu_forward(a)
        caches.append((fc, bn, rc))
    scores, fc = layers.affine_forward(h, p[f"W{L}"], p[f"b{L}"])
    loss, dscores = layers.softmax_loss(scores, y)
    grads = {}
    dh, grads[f"W{L}"], grads[f"b{L}"] = layers.affine_backward(dscores, fc)
    for i in range(L - 1, 0, -1):
        fc, bn, rc = caches[i - 1]
        da = layers.relu_backward(dh, rc)
        if net.batchnorm:
            da, grads[f"gamma{i}"], grads[f"beta{i}"] = layers.batchnorm_backward(da, bn)
        dh, grads[f"W{i}"], grads[f"b{i}"] = layers.affine_backward(da, fc)
    return loss, grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batchnorm", [False, True])
def test_models_equal_the_unfused_course_layers(dtype, batchnorm):
    """Loss and weight gradients bit for bit; bias gradients (now summed in double) to
    a few float32 ulps of the column sums' size."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((37, 13)).astype(dtype)
    y = rng.integers(0, 5, 37)
    net = fastnn.FullyConnectedNet([11, 9], 13, 5, batchnorm=batchnorm, dtype=dtype, seed=0)
    for name, value in net.params.items():
        if name.startswith("b"):
            value[...] = rng.standard_normal(value.shape)
    loss, grads = net.loss(X, y)
    want_loss, want = _course_net_loss(net, X, y)
    assert loss == want_loss
    assert grads.keys() == want.keys()
    for name in grads:
        if name.startswith("b"):
            scale = np.abs(want[name]).max() + 1e-3
            np.testing.assert_allclose(grads[name], want[name], rtol=0, atol=1e-5 * scale)
        else:
            np.testing.assert_array_equal(grads[name], want[name], err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_layer_net_equals_the_unfused_course_layers(dtype):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((21, 8)).astype(dtype)
    y = rng.integers(0, 4, 21)
    model = fastnn.init_two_layer_model(8, 7, 4, dtype=dtype, seed=0)
    model["W1"] *= 1e3
    model["b1"][...] = rng.standard_normal(7)
    model["b2"][...] = rng.standard_normal(4)
    loss, grads = fastnn.two_layer_net(X, model, y, reg=0.1)
    h, (fc1, rc) = layers.affine_relu_forward(X, model["W1"], model["b1"])
    scores, fc2 = layers.affine_forward(h, model["W2"], model["b2"])
    np.testing.assert_array_equal(fastnn.two_layer_net(X, model), scores)
    want_loss, dscores = layers.softmax_loss(scores, y)
    dh, dW2, db2 = layers.affine_backward(dscores, fc2)
    _, dW1, db1 = layers.affine_backward(layers.relu_backward(dh, rc), fc1)
    W1, W2 = model["W1"], model["W2"]
    want_loss += (
        0.5 * 0.1 * (float(np.dot(W1.ravel(), W1.ravel())) + float(np.dot(W2.ravel(), W2.ravel())))
    )
    assert loss == want_loss
    np.testing.assert_array_equal(grads["W1"], dW1 + 0.1 * W1)
    np.testing.assert_array_equal(grads["W2"], dW2 + 0.1 * W2)
    np.testing.assert_allclose(grads["b1"], db1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["b2"], db2, rtol=1e-5, atol=1e-6)
