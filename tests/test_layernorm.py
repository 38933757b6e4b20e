"""Layer normalization: compiled kernels against the NumPy twin, the course's checks,
gradients, edge cases, threads, PyTorch and the affine_ln_relu layers."""

import numpy as np
import pytest
from util import DTYPES, numerical_gradient, odd_arrays, rel_error, torch_or_skip

import fastnn
from fastnn import reference as ref
from fastnn.core import layernorm as fast
from fastnn.nn import layers

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-9, atol=1e-12)}


def _params(d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, d).astype(dtype), rng.standard_normal(d).astype(dtype)


def _assert_close(got, want, dtype, what):
    """Within rtol of each value, or of the largest finite one (cancellation in x - mean
    costs digits of the small outputs in both implementations alike)."""
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
    rtol = TOL[dtype]["rtol"]
    np.testing.assert_allclose(
        got, want, rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_backward_match_twin_on_odd_arrays(dtype):
    # float64 extremes (+-DBL_MAX) overflow the squared deviations of both in different
    # orders, so only the float32 ones (exact in double) must agree
    kinds = ("normal", "large", "offset", "nonfinite")
    if dtype == np.float32:
        kinds += ("extreme",)
    checked = 0
    for desc, x in odd_arrays(dtype, kinds=kinds):
        if x.ndim != 2 or x.shape[1] == 0:
            continue
        gamma, beta = _params(x.shape[1], dtype)
        out, cache = fast.layernorm_forward(x, gamma, beta, {"eps": 1e-5})
        want, ref_cache = ref.layernorm_forward(x, gamma, beta, {"eps": 1e-5})
        assert out.dtype == want.dtype and out.shape == want.shape, desc
        _assert_close(out, want, dtype, desc)
        dout = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
        for got, exp, name in zip(
            fast.layernorm_backward(dout, cache),
            ref.layernorm_backward(dout, ref_cache),
            ("dx", "dgamma", "dbeta"),
        ):
            assert got.dtype == exp.dtype and got.shape == exp.shape, (desc, name)
            _assert_close(got, exp, dtype, f"{desc} {name}")
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [3, 17, 512, 4099, 30000])
@pytest.mark.parametrize("offset, spread", [(0.0, 1.0), (1e4, 1.0), (1e3, 1e-3), (-7.0, 1e-12)])
def test_row_statistics_against_exact_sums(dtype, d, offset, spread):
    """mean and 1 / rstd within a small fraction of the row's spread of math.fsum's (plus the
    rounding of a double at the mean), wherever the row sits: a plain float32 sum of 1e4 +
    noise would lose the noise."""
    import math

    rng = np.random.default_rng(d)
    x = (offset + spread * rng.standard_normal((4, d))).astype(dtype)
    gamma, beta = _params(d, dtype)
    _, cache = fast.layernorm_forward(x, gamma, beta, {"eps": 0.0})
    rows = x.astype(np.float64)
    mean = np.array([math.fsum(r) / d for r in rows])
    std = np.sqrt([math.fsum((r - m) ** 2) / d for r, m in zip(rows, mean, strict=True)])
    tol = (1e-6 if dtype == np.float32 else 1e-14) * std + 8 * np.finfo(float).eps * np.abs(mean)
    assert np.all(np.abs(cache.mean - mean) <= tol), (cache.mean - mean, tol)
    assert np.all(np.abs(1 / cache.rstd - std) <= tol), (1 / cache.rstd - std, tol)


@pytest.mark.parametrize("impl", [fast, ref], ids=["fast", "ref"])
def test_course_checks_means_and_stds(impl):
    """The course's check: rows of the output have mean ~0 and std ~1 with gamma = 1,
    beta = 0, and mean beta, std gamma otherwise."""
    np.random.seed(231)
    n, d1, d2, d3 = 4, 50, 60, 3
    x = np.maximum(0, np.random.randn(n, d1) @ np.random.randn(d1, d2)) @ np.random.randn(d2, d3)
    out, _ = impl.layernorm_forward(x, np.ones(d3), np.zeros(d3), {})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-4)
    gamma, beta = np.asarray([3.0, 3.0, 3.0]), np.asarray([5.0, 5.0, 5.0])
    out, _ = impl.layernorm_forward(x, gamma, beta, {})
    np.testing.assert_allclose(out.mean(axis=1), 5, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=1), 3, atol=1e-3)


@pytest.mark.parametrize("impl", [fast, ref], ids=["fast", "ref"])
def test_gradient_check(impl):
    rng = np.random.default_rng(231)
    n, d = 4, 5
    x = 5 * rng.standard_normal((n, d)) + 12
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    param = {"eps": 1e-5}
    _, cache = impl.layernorm_forward(x, gamma, beta, param)
    dx, dgamma, dbeta = impl.layernorm_backward(dout, cache)

    def out_of(**kw):
        args = {"x": x, "gamma": gamma, "beta": beta, **kw}
        return impl.layernorm_forward(args["x"], args["gamma"], args["beta"], param)[0]

    assert rel_error(dx, numerical_gradient(lambda z: out_of(x=z), x, dout)) < 1e-7
    assert rel_error(dgamma, numerical_gradient(lambda z: out_of(gamma=z), gamma, dout)) < 1e-7
    assert rel_error(dbeta, numerical_gradient(lambda z: out_of(beta=z), beta, dout)) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_for_every_thread_count(dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1031, 129)).astype(dtype)
    gamma, beta = _params(129, dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    with fastnn.num_threads(1):
        out1, cache = fast.layernorm_forward(x, gamma, beta, {})
        grads1 = fast.layernorm_backward(dout, cache)
    for n in (2, 3):
        with fastnn.num_threads(n):
            out, cache = fast.layernorm_forward(x, gamma, beta, {})
            grads = fast.layernorm_backward(dout, cache)
        np.testing.assert_array_equal(out, out1)  # rows never depend on the split
        np.testing.assert_array_equal(grads[0], grads1[0])
        for got, want in zip(grads[1:], grads1[1:]):  # column sums: summed in another order
            _assert_close(got, want, dtype, f"{n} threads")


def test_empty_batch_and_single_feature():
    out, cache = fast.layernorm_forward(np.zeros((0, 4)), np.ones(4), np.zeros(4), {})
    assert out.shape == (0, 4)
    dx, dgamma, dbeta = fast.layernorm_backward(np.zeros((0, 4)), cache)
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(dgamma, 0)
    np.testing.assert_array_equal(dbeta, 0)
    # one feature: the deviation is 0, the output is beta
    out, _ = fast.layernorm_forward(np.arange(3.0)[:, None], np.ones(1), np.full(1, 2.0), {})
    np.testing.assert_array_equal(out, 2.0)


@pytest.mark.parametrize(
    "args, error",
    [
        ((np.ones((2, 0)), np.ones(0), np.ones(0), {}), ValueError),
        ((np.ones(3), np.ones(3), np.ones(3), {}), ValueError),
        ((np.ones((2, 3)), np.ones(2), np.ones(3), {}), ValueError),
        ((np.ones((2, 3)), np.ones(3), np.ones(4), {}), ValueError),
        ((np.ones((2, 3)), np.ones(3), np.ones(3), {"eps": -1}), ValueError),
        ((np.ones((2, 3)), np.ones(3), np.ones(3), None), TypeError),
        ((np.ones((2, 3), complex), np.ones(3), np.ones(3), {}), TypeError),
    ],
)
def test_bad_input_raises_like_the_twin(args, error):
    with pytest.raises(error) as got:
        fast.layernorm_forward(*args)
    with pytest.raises(error) as want:
        ref.layernorm_forward(*args)
    assert str(got.value) == str(want.value)


def test_backward_checks_its_arguments():
    _, cache = fast.layernorm_forward(np.ones((3, 4)), np.ones(4), np.zeros(4), {})
    with pytest.raises(ValueError, match="shape"):
        fast.layernorm_backward(np.ones((4, 3)), cache)
    with pytest.raises(TypeError, match="layernorm_forward"):
        fast.layernorm_backward(np.ones((3, 4)), {"xhat": None})


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(dtype):
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((33, 70)).astype(dtype)
    gamma, beta = _params(70, dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tg = torch.from_numpy(gamma.copy()).requires_grad_(True)
    tb = torch.from_numpy(beta.copy()).requires_grad_(True)
    tout = torch.nn.functional.layer_norm(tx, (70,), tg, tb, 1e-5)
    tout.backward(torch.from_numpy(dout))
    out, cache = fast.layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    dx, dgamma, dbeta = fast.layernorm_backward(dout, cache)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, tout.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dgamma, tg.grad.numpy(), **tol)
    np.testing.assert_allclose(dbeta, tb.grad.numpy(), **tol)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
def test_affine_ln_relu_gradient_check(backend):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 10)), rng.standard_normal(10)
    gamma, beta = rng.standard_normal(10), rng.standard_normal(10)
    dout = rng.standard_normal((2, 10))
    with fastnn.backend(backend):
        out, cache = layers.affine_ln_relu_forward(x, w, b, gamma, beta, {})
        dx, dw, db, dgamma, dbeta = layers.affine_ln_relu_backward(dout, cache)

        def f(**kw):
            a = {"x": x, "w": w, "b": b, "gamma": gamma, "beta": beta, **kw}
            return layers.affine_ln_relu_forward(a["x"], a["w"], a["b"], a["gamma"], a["beta"], {})[
                0
            ]

        assert rel_error(dx, numerical_gradient(lambda z: f(x=z), x, dout)) < 1e-6
        assert rel_error(dw, numerical_gradient(lambda z: f(w=z), w, dout)) < 1e-6
        assert rel_error(db, numerical_gradient(lambda z: f(b=z), b, dout)) < 1e-6
        assert rel_error(dgamma, numerical_gradient(lambda z: f(gamma=z), gamma, dout)) < 1e-6
        assert rel_error(dbeta, numerical_gradient(lambda z: f(beta=z), beta, dout)) < 1e-6
