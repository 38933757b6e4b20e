"""CS231n activation layers (fastnn.nn.layers) on both backends: values and numerical gradients."""

import numpy as np
import pytest
from util import numerical_gradient, rel_error

import fastnn
from fastnn.nn import layers

BACKENDS = ("cython", "numpy")

# (forward, backward, extra forward args, expected forward value)
ELEMENTWISE = [
    ("relu", (), lambda x: np.maximum(x, 0)),
    ("sigmoid", (), lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", (), np.tanh),
    ("leaky_relu", (), lambda x: np.maximum(0.01 * x, x)),
    ("leaky_relu", (0.2,), lambda x: np.maximum(0.2 * x, x)),
    ("elu", (), lambda x: np.where(x > 0, x, np.expm1(x))),
    ("elu", (0.5,), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name, extra, expected", ELEMENTWISE, ids=[f"{n}{e}" for n, e, _ in ELEMENTWISE]
)
def test_elementwise_layer_forward_and_gradient(backend, name, extra, expected, rng):
    fastnn.use_backend(backend)
    forward = getattr(layers, f"{name}_forward")
    backward = getattr(layers, f"{name}_backward")
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.3  # away from the kinks
    dout = rng.standard_normal(x.shape)
    out, cache = forward(x, *extra)
    np.testing.assert_allclose(out, expected(x), rtol=1e-13, atol=1e-15)
    dx = backward(dout, cache)
    dx_num = numerical_gradient(lambda a: forward(a, *extra)[0], x, dout)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    assert rel_error(dx, dx_num) < 1e-7, f"{name} on {backend}"


def _maxout_data(rng, n=5, d=4, h=3, k=2):
    x = rng.standard_normal((n, d))
    w = rng.standard_normal((d, h, k))
    b = rng.standard_normal((h, k))
    return x, w, b


@pytest.mark.parametrize("backend", BACKENDS)
def test_maxout_layer_forward(backend, rng):
    fastnn.use_backend(backend)
    x, w, b = _maxout_data(rng, k=3)
    out, _ = layers.maxout_forward(x, w, b)
    expected = np.empty((x.shape[0], w.shape[1]))
    for n in range(x.shape[0]):
        for h in range(w.shape[1]):
            expected[n, h] = max(x[n] @ w[:, h, j] + b[h, j] for j in range(w.shape[2]))
    np.testing.assert_allclose(out, expected, rtol=1e-13)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_maxout_layer_gradients(backend, k, rng):
    fastnn.use_backend(backend)
    x, w, b = _maxout_data(rng, k=k)
    dout = rng.standard_normal((x.shape[0], w.shape[1]))
    out, cache = layers.maxout_forward(x, w, b)
    dx, dw, db = layers.maxout_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    dx_num = numerical_gradient(lambda a: layers.maxout_forward(a, w, b)[0], x, dout)
    dw_num = numerical_gradient(lambda a: layers.maxout_forward(x, a, b)[0], w, dout)
    db_num = numerical_gradient(lambda a: layers.maxout_forward(x, w, a)[0], b, dout)
    assert rel_error(dx, dx_num) < 1e-7
    assert rel_error(dw, dw_num) < 1e-7
    assert rel_error(db, db_num) < 1e-7


def test_maxout_layer_flattens_input_and_checks_shapes(rng):
    x = rng.standard_normal((3, 2, 2))
    w = rng.standard_normal((4, 5, 2))
    b = rng.standard_normal((5, 2))
    out, cache = layers.maxout_forward(x, w, b)
    assert out.shape == (3, 5)
    dx, _, _ = layers.maxout_backward(np.ones((3, 5)), cache)
    assert dx.shape == x.shape
    with pytest.raises(ValueError, match=r"\(D, H, k\)"):
        layers.maxout_forward(x, w, np.ones((5, 3)))


def test_backends_agree_on_layers(rng):
    x = rng.standard_normal((8, 16))
    dout = rng.standard_normal((8, 16))
    for name in ("relu", "sigmoid", "tanh", "leaky_relu", "elu"):
        results = {}
        for backend in BACKENDS:
            with fastnn.backend(backend):
                out, cache = getattr(layers, f"{name}_forward")(x)
                results[backend] = (out, getattr(layers, f"{name}_backward")(dout, cache))
        # forward within a few ulp; the backward's 1 - y*y amplifies those ulp near |y| = 1
        for a, b, rtol in zip(results["cython"], results["numpy"], (1e-14, 1e-12)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_affine_cache_is_the_course_triple_of_the_inputs_themselves(backend, rng):
    fastnn.use_backend(backend)
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    out, cache = layers.affine_forward(x, w, b)
    assert len(cache) == 3 and all(c is a for c, a in zip(cache, (x, w, b), strict=True))
    dout = rng.standard_normal(out.shape)

    # the course's own affine_backward unpacks the cache as ``x, w, b = cache``
    def course_affine_backward(dout, cache):
        x, w, b = cache
        dx = (dout @ w.T).reshape(x.shape)
        return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)

    for ours, course in zip(
        layers.affine_backward(dout, cache), course_affine_backward(dout, cache), strict=True
    ):
        np.testing.assert_allclose(ours, course, rtol=1e-12)
