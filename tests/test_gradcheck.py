"""fastnn.nn.gradcheck (CS231n semantics) and a numerical gradient check of every layer in
fastnn.nn.layers.

The sigmoid, tanh, leaky_relu, elu and maxout layer checks need the activation kernels in the
backend namespace; the batchnorm ones need batchnorm_backward there.
"""

import re

import numpy as np
import pytest

import fastnn
from fastnn.nn import layers
from fastnn.nn.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    eval_numerical_gradient_blobs,
    eval_numerical_gradient_net,
    grad_check_sparse,
    rel_error,
)


def test_eval_numerical_gradient_of_a_known_function(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = eval_numerical_gradient(lambda z: np.sum(z**3) + np.sum(np.sin(z)), x, verbose=False)
    np.testing.assert_allclose(grad, 3 * x**2 + np.cos(x), rtol=1e-7, atol=1e-9)
    assert np.array_equal(x, before)
    assert capsys.readouterr().out == ""


def test_eval_numerical_gradient_verbose_prints_index_and_value(capsys):
    x = np.array([1.0, 2.0])
    eval_numerical_gradient(lambda z: np.sum(z**2), x)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("(0,)") and float(lines[0].split()[-1]) == pytest.approx(2.0)
    assert lines[1].startswith("(1,)") and float(lines[1].split()[-1]) == pytest.approx(4.0)


def test_eval_numerical_gradient_array_of_a_known_function():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    df = rng.standard_normal((4, 5))
    grad = eval_numerical_gradient_array(lambda z: z**2 + 3 * z, x, df)
    np.testing.assert_allclose(grad, (2 * x + 3) * df, rtol=1e-7, atol=1e-9)


def test_function_returning_its_own_buffer_is_handled():
    """f may return a view of x or reuse one output buffer (CS231n copies f(x))."""
    x = np.array([1.0, -2.0, 3.0])
    buf = np.empty(3)

    def f(z):
        np.multiply(z, 2.0, out=buf)
        return buf

    np.testing.assert_allclose(eval_numerical_gradient_array(f, x, np.ones(3)), [2, 2, 2])


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(z):
        calls.append(z.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(z.sum())

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x, verbose=False)
    assert np.array_equal(x, [1.0, 2.0, 3.0])


def test_x_must_be_a_writeable_float_array():
    with pytest.raises(TypeError, match="float"):
        eval_numerical_gradient(np.sum, np.array([1, 2]), verbose=False)
    ro = np.ones(3)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        eval_numerical_gradient_array(lambda z: z, ro, np.ones(3))


def test_grad_check_sparse_accepts_the_right_gradient_and_flags_a_wrong_one(capsys):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 7))
    f = lambda z: float(np.sum(z**2))  # noqa: E731
    errors = grad_check_sparse(f, x, 2 * x, num_checks=5, rng=0)
    out = capsys.readouterr().out.splitlines()
    assert len(errors) == 5 and max(errors) < 1e-8
    pattern = r"numerical: -?\d+\.\d{6} analytic: -?\d+\.\d{6}, relative error: \d\.\d{6}e[-+]\d\d"
    assert len(out) == 5 and all(re.fullmatch(pattern, line) for line in out), out
    wrong = grad_check_sparse(f, x, 3 * x, num_checks=5, rng=0, verbose=False)
    assert min(wrong) > 0.1
    assert grad_check_sparse(f, x, 2 * x, rng=0, verbose=False) == grad_check_sparse(
        f, x, 2 * x, rng=0, verbose=False
    )


def test_grad_check_sparse_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        grad_check_sparse(np.sum, np.ones((2, 3)), np.ones((3, 2)), verbose=False)


def test_rel_error_semantics():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(0.0, 1e-12) == pytest.approx(1e-4)  # floor of 1e-8 in the denominator
    assert rel_error(np.array([1.0, 1.0]), np.array([1.0, 1.1])) == pytest.approx(0.1 / 2.1)


# ------------------------------------------------------------------ every layer


def _check_layer(forward, backward, inputs, seed=0, tol=1e-7, h=1e-6):
    """Compare backward(dout, cache) with numerical gradients for each of ``inputs``."""
    rng = np.random.default_rng(seed)
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    assert len(grads) >= 1
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
            continue
        num = eval_numerical_gradient_array(lambda _: forward(*inputs)[0], x, dout, h=h)
        assert g.shape == x.shape, i
        assert rel_error(num, g) < tol, (i, rel_error(num, g))


@pytest.fixture(params=["cython", "numpy"])
def each_backend(request):
    with fastnn.backend(request.param):
        yield request.param


def _x(shape, seed=0):
    # away from 0 so ReLU-type kinks are not crossed by the finite difference
    x = np.random.default_rng(seed).standard_normal(shape)
    return x + np.where(x >= 0, 0.1, -0.1)


def test_affine_layer(each_backend):
    rng = np.random.default_rng(3)
    _check_layer(
        layers.affine_forward,
        layers.affine_backward,
        [rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)],
    )


def test_relu_layer(each_backend):
    _check_layer(layers.relu_forward, layers.relu_backward, [_x((5, 6))])


def test_affine_relu_layer(each_backend):
    rng = np.random.default_rng(4)
    _check_layer(
        layers.affine_relu_forward,
        layers.affine_relu_backward,
        [rng.standard_normal((5, 4)), rng.standard_normal((4, 6)), rng.standard_normal(6)],
    )


def test_softmax_loss_layer(each_backend):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 4))
    y = rng.integers(0, 4, 7)
    loss, dx = layers.softmax_loss(x, y)
    assert loss == pytest.approx(np.log(4), abs=1.0)
    num = eval_numerical_gradient(lambda _: layers.softmax_loss(x, y)[0], x, verbose=False)
    assert rel_error(num, dx) < 1e-7


def test_batchnorm_layer(each_backend):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 5)) * 3 + 2
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)

    def fwd(x, gamma, beta):
        return layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})

    _check_layer(fwd, layers.batchnorm_backward, [x, gamma, beta], tol=1e-6)
    _check_layer(fwd, layers.batchnorm_backward_alt, [x, gamma, beta], tol=1e-6)


def test_affine_bn_relu_layer(each_backend):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((8, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5) + 0.5

    def fwd(x, w, b, gamma, beta):
        return layers.affine_bn_relu_forward(x, w, b, gamma, beta, {"mode": "train"})

    out, cache = fwd(x, w, b, gamma, beta)
    dout = rng.standard_normal(out.shape)
    grads = layers.affine_bn_relu_backward(dout, cache)
    assert len(grads) == 5
    for name, arr, g in zip(
        ["x", "w", "gamma", "beta"], [x, w, gamma, beta], [grads[0], grads[1], grads[3], grads[4]]
    ):
        num = eval_numerical_gradient_array(
            lambda _: fwd(x, w, b, gamma, beta)[0], arr, dout, h=1e-6
        )
        assert rel_error(num, g) < 1e-5, name
    assert np.abs(grads[2]).max() < 1e-10  # the bias before batchnorm cancels out


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_saturating_activation_layers(each_backend, name):
    _check_layer(
        getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward"), [_x((4, 6)) * 2]
    )


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_relu_family_activation_layers(each_backend, name):
    _check_layer(
        getattr(layers, f"{name}_forward"), getattr(layers, f"{name}_backward"), [_x((4, 6)) * 2]
    )


def test_maxout_layer(each_backend):
    rng = np.random.default_rng(8)
    _check_layer(
        layers.maxout_forward,
        layers.maxout_backward,
        [rng.standard_normal((5, 4)), rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2))],
        tol=1e-6,
    )


class Blob:
    """The course's blob: values and their gradient."""

    def __init__(self, vals, diffs=None):
        self.vals = vals
        self.diffs = np.zeros_like(vals) if diffs is None else diffs


def _product_blobs():
    rng = np.random.default_rng(3)
    x, w = Blob(rng.standard_normal((4, 3))), Blob(rng.standard_normal((3, 5)))
    out = Blob(np.zeros((4, 5)), rng.standard_normal((4, 5)))
    return x, w, out


def test_eval_numerical_gradient_blobs_of_a_product():
    x, w, out = _product_blobs()
    x_before, w_before = x.vals.copy(), w.vals.copy()

    def f(x, w, out):
        out.vals = np.tanh(x.vals @ w.vals)

    dx, dw = eval_numerical_gradient_blobs(f, (x, w), out)
    dz = out.diffs * (1 - np.tanh(x.vals @ w.vals) ** 2)
    assert rel_error(dx, dz @ w.vals.T) < 1e-8
    assert rel_error(dw, x.vals.T @ dz) < 1e-8
    assert np.array_equal(x.vals, x_before) and np.array_equal(w.vals, w_before)


def test_eval_numerical_gradient_blobs_copies_an_output_written_in_place():
    x, w, out = _product_blobs()

    def f(x, w, out):
        np.matmul(x.vals, w.vals, out=out.vals)  # the same array every call

    dx, dw = eval_numerical_gradient_blobs(f, [x, w], out)
    assert rel_error(dx, out.diffs @ w.vals.T) < 1e-8
    assert rel_error(dw, x.vals.T @ out.diffs) < 1e-8


def test_eval_numerical_gradient_net_calls_forward():
    x, w, out = _product_blobs()

    class Net:
        calls = 0

        def forward(self):
            Net.calls += 1
            out.vals = x.vals @ w.vals

    dx, dw = eval_numerical_gradient_net(Net(), (x, w), out)
    assert Net.calls == 2 * (x.vals.size + w.vals.size)
    assert rel_error(dx, out.diffs @ w.vals.T) < 1e-8
    assert rel_error(dw, x.vals.T @ out.diffs) < 1e-8
