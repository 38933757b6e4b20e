"""Batch normalization: compiled kernels against the NumPy twin, gradients, bn_param semantics,
precision, edge cases, threads, PyTorch, and the CS231n layers on both backends."""

import warnings

import numpy as np
import pytest
from util import DTYPES, numerical_gradient, odd_arrays, rel_error

import fastnn
from fastnn import reference as ref
from fastnn._kernels import batchnorm as ext
from fastnn.core import batchnorm as fast
from fastnn.nn import layers

FORWARDS = {"fast": fast.batchnorm_forward, "ref": ref.batchnorm_forward}
IMPLS = [
    pytest.param((fast.batchnorm_forward, fast.batchnorm_backward), id="fast"),
    pytest.param((fast.batchnorm_forward, fast.batchnorm_backward_alt), id="fast-alt"),
    pytest.param((ref.batchnorm_forward, ref.batchnorm_backward), id="ref"),
    pytest.param((ref.batchnorm_forward, ref.batchnorm_backward_alt), id="ref-alt"),
]
SPATIAL_IMPLS = [
    pytest.param((fast.spatial_batchnorm_forward, fast.spatial_batchnorm_backward), id="fast"),
    pytest.param((ref.spatial_batchnorm_forward, ref.spatial_batchnorm_backward), id="ref"),
]


def _rtol(dtype):
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-9


def assert_close(actual, expected, dtype, what, scale=None):
    """Equal NaN pattern, dtype and shape; values within rtol of the largest finite value."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    finite = np.isfinite(expected)
    if scale is None:
        scale = np.max(np.abs(expected[finite]), initial=1.0)
    np.testing.assert_allclose(
        actual, expected, rtol=_rtol(dtype), atol=_rtol(dtype) * scale, equal_nan=True, err_msg=what
    )


def _call(fn, *args):
    """(result, exception type, warning categories) of fn(*args)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = fn(*args), None
        except Exception as exc:  # noqa: BLE001 - compared between implementations
            result, error = None, type(exc)
    return result, error, sorted({w.category.__name__ for w in caught})


def _params(d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, d).astype(dtype), rng.standard_normal(d).astype(dtype))


# ---------------------------------------------------------------- compiled vs reference sweeps


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_backward_match_reference_on_odd_arrays(dtype):
    checked = 0
    # float64 "extreme" puts several +-DBL_MAX in a column: the sum of squared deviations
    # overflows in both implementations and the reference's mean overflows too, so the
    # (meaningless) outputs differ; float32 extremes are exact in double and must agree.
    kinds = ("normal", "large", "offset", "nonfinite")
    if dtype == np.float32:
        kinds += ("extreme",)
    for desc, x in odd_arrays(dtype, kinds=kinds):
        d = x.shape[1] if x.ndim == 2 else 3
        gamma, beta = _params(d, dtype)
        for mode in ("train", "test"):
            what = f"batchnorm_forward {mode} {np.dtype(dtype).name} {desc}"
            params = {}
            for name in ("fast", "ref"):
                params[name] = {"mode": mode}
                if mode == "test":
                    params[name].update(
                        running_mean=np.linspace(-1, 1, d).astype(dtype),
                        running_var=np.linspace(0.5, 2, d).astype(dtype),
                    )
            x_before = x.copy()
            r_fast, e_fast, w_fast = _call(fast.batchnorm_forward, x, gamma, beta, params["fast"])
            r_ref, e_ref, w_ref = _call(ref.batchnorm_forward, x, gamma, beta, params["ref"])
            np.testing.assert_array_equal(x, x_before, err_msg=f"{what}: x was modified")
            assert e_fast == e_ref, f"{what}: fast raised {e_fast}, reference {e_ref}"
            assert w_fast == w_ref, f"{what}: warnings {w_fast} != {w_ref}"
            if e_fast is not None:
                continue
            assert_close(r_fast[0], r_ref[0], dtype, what + " out")
            for key in ("running_mean", "running_var"):
                assert_close(params["fast"][key], params["ref"][key], dtype, f"{what} {key}")
            if desc.startswith(("nonfinite", "extreme")):
                # inf - inf cancellations, and sums near FLT_MAX that the reference rounds
                # through a float32 xhat (overflow) while the kernel stays in double
                continue
            dout = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
            got = fast.batchnorm_backward(dout, r_fast[1])
            alt = fast.batchnorm_backward_alt(dout, r_fast[1])
            want = ref.batchnorm_backward(dout, r_ref[1])
            for name, a, b, c in zip(("dx", "dgamma", "dbeta"), got, alt, want):
                np.testing.assert_array_equal(a, b, err_msg=f"{what}: alt {name}")
                # dx cancels to ~0 for tiny batches: compare on the scale of gamma*dout/std
                scale = None
                if name == "dx":
                    inv_std = np.asarray(r_fast[1].inv_std)
                    scale = float(np.max(np.abs(gamma * inv_std)) * np.max(np.abs(dout), initial=1))
                assert_close(a, c, dtype, f"{what} {name}", scale=scale)
            checked += 1
    assert checked > 50


# (2, 3, 9, 17): segments of 153 = two 64-element groups of the float32 gradient sums + tail
SPATIAL_SHAPES = [
    (2, 3, 4, 5),
    (1, 2, 3, 3),
    (5, 1, 1, 1),
    (3, 4, 1, 17),
    (2, 3, 8, 8),
    (2, 3, 9, 17),
    (0, 2, 3, 3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SPATIAL_SHAPES, ids=str)
@pytest.mark.parametrize("layout", ["C", "fortran", "hw-transposed", "strided"])
def test_spatial_matches_reference(dtype, shape, layout):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    if layout == "fortran":
        x = np.asfortranarray(x)
    elif layout == "hw-transposed":
        x = x.transpose(0, 1, 3, 2)
    elif layout == "strided":
        x = np.repeat(x, 2, axis=3)[..., ::2]
    gamma, beta = _params(x.shape[1], dtype)
    for mode in ("train", "test"):
        what = f"spatial {mode} {np.dtype(dtype).name} {x.shape} {layout}"
        pf, pr = {"mode": mode}, {"mode": mode}
        r_fast, e_fast, w_fast = _call(fast.spatial_batchnorm_forward, x, gamma, beta, pf)
        r_ref, e_ref, w_ref = _call(ref.spatial_batchnorm_forward, x, gamma, beta, pr)
        assert (e_fast, w_fast) == (e_ref, w_ref), what
        if e_fast is not None:
            continue
        assert_close(r_fast[0], r_ref[0], dtype, what + " out")
        assert_close(pf["running_var"], pr["running_var"], dtype, what + " running_var")
        dout = rng.standard_normal(x.shape).astype(dtype)
        got = fast.spatial_batchnorm_backward(dout, r_fast[1])
        want = ref.spatial_batchnorm_backward(dout, r_ref[1])
        scale = float(np.max(np.abs(gamma * r_fast[1].inv_std)) * np.max(np.abs(dout), initial=1))
        for name, a, b in zip(("dx", "dgamma", "dbeta"), got, want):
            assert_close(a, b, dtype, f"{what} {name}", scale=scale if name == "dx" else None)


def test_extreme_float32_values_take_the_double_path():
    # Deviations near FLT_MAX would overflow the float32 element pass: the double one runs.
    x = np.array([[3e38, 1.0], [-3e38, 2.0], [1e38, 3.0]], dtype=np.float32)
    gamma, beta = np.ones(2, np.float32), np.zeros(2, np.float32)
    out_f, cache = fast.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with np.errstate(over="ignore"):
        out_r, cache_r = ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.all(np.isfinite(out_f))
    assert_close(out_f, out_r, np.float32, "extreme forward")
    dout = np.ones_like(x)
    for a, b in zip(fast.batchnorm_backward(dout, cache), ref.batchnorm_backward(dout, cache_r)):
        assert np.all(np.isfinite(a))
        assert_close(a, b, np.float32, "extreme backward", scale=1.0)


def test_spatial_float32_gradient_sums_that_overflow_float_take_the_double_path():
    """The float32 segment sums add groups of four dout * (x - mean) in float: with dout near
    FLT_MAX / 4 they overflow, and the segment is redone in double (dx stays finite)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 9, 17)).astype(np.float32)
    dout = (rng.standard_normal(x.shape) * 3e37).astype(np.float32)
    gamma, beta = np.full(3, 1e-3, np.float32), np.zeros(3, np.float32)
    _, cache = fast.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    _, cache_r = ref.spatial_batchnorm_forward(
        x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), {"mode": "train"}
    )
    dx, dgamma, dbeta = fast.spatial_batchnorm_backward(dout, cache)
    want = ref.spatial_batchnorm_backward(dout.astype(np.float64), cache_r)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, want[0], rtol=0, atol=1e-6 * np.max(np.abs(want[0])))
    with np.errstate(over="ignore"):  # true sums beyond FLT_MAX are inf in float32 too
        for got, exact in zip((dgamma, dbeta), want[1:]):
            np.testing.assert_allclose(got, exact.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("shape", [(300, 513), (4100, 513), (2049, 1024)], ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_float32_train_forward_is_the_two_term_formula_bit_for_bit(shape, threads):
    """out = ((x - mhi) - mlo) * scale + beta in float32 (mhi + mlo the double mean), exactly,
    on the ordinary path and on the streaming-store path that outputs above 8 MiB take (odd
    widths: rows start unaligned, so each row is peeled and has a tail)."""
    rng = np.random.default_rng(10)
    x = (rng.standard_normal(shape) * 2 + 100).astype(np.float32)
    gamma = rng.standard_normal(shape[1]).astype(np.float32)
    beta = rng.standard_normal(shape[1]).astype(np.float32)
    with fastnn.num_threads(threads):
        out, cache = fast.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    mean, inv_std = np.asarray(cache.mean), np.asarray(cache.inv_std)
    mhi = mean.astype(np.float32)
    mlo = (mean - mhi).astype(np.float32)
    scale = (gamma * inv_std).astype(np.float32)
    np.testing.assert_array_equal(out, ((x - mhi) - mlo) * scale + beta)


# Small and large (over the 8 MiB where the streaming stores start: the 2-d float32 forward,
# the spatial dx of both dtypes), odd widths and segment lengths (unaligned starts, tails).
DX_SHAPES = [(300, 513), (2049, 513), (2, 33, 63, 65), (9, 33, 63, 65)]


@pytest.mark.parametrize("shape", DX_SHAPES, ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_float64_train_dx_is_the_closed_form_bit_for_bit(shape, threads):
    """dx = a * ((dout - mean(dout)) - xhat * mean(dout * xhat)) with a = gamma * inv_std,
    evaluated in this order, exactly, from the kernel's own dgamma and dbeta (float64 keeps
    them unrounded)."""
    rng = np.random.default_rng(11)
    spatial = len(shape) == 4
    x = rng.standard_normal(shape) * 2 + 100
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape)
    forward = fast.spatial_batchnorm_forward if spatial else fast.batchnorm_forward
    backward = fast.spatial_batchnorm_backward if spatial else fast.batchnorm_backward
    with fastnn.num_threads(threads):
        _, cache = forward(x, gamma, beta, {"mode": "train"})
        dx, dgamma, dbeta = backward(dout, cache)
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    count = x.size / shape[1]
    mean = np.asarray(cache.mean).reshape(per_channel)
    inv_std = np.asarray(cache.inv_std).reshape(per_channel)
    a = gamma.reshape(per_channel) * inv_std
    cb, cg = dbeta.reshape(per_channel) / count, dgamma.reshape(per_channel) / count
    np.testing.assert_array_equal(dx, a * ((dout - cb) - ((x - mean) * inv_std) * cg))


@pytest.mark.parametrize("spatial", [False, True], ids=["2d", "spatial"])
def test_float32_test_mode_redoes_overflowing_rows_in_double(spatial):
    """Test mode normalises float32 in float; x - running_mean can overflow float where the
    result does not (3e38 - -3e38, then divided by a std of 1.7e19), or give inf * 0 with
    gamma = 0: those rows (segments) are redone in double, the others stay as they are."""
    x = np.ones((64, 3), np.float32)
    x[5, 0], x[40, 1] = 3e38, -3e38
    gamma, beta = np.array([1.0, 0.5, 0.0], np.float32), np.array([0.0, 1.0, -2.0], np.float32)
    x[41, 2] = 3e38
    param = {
        "mode": "test",
        "running_mean": np.array([-3e38, 3e38, -3e38], np.float32),
        "running_var": np.array([3e38, 3e38, 3e38], np.float32),
    }
    if spatial:  # the same numbers as (N, C, H, W) segments of 7 elements
        x = np.repeat(x[:, :, None, None], 7, axis=3)
        forward = fast.spatial_batchnorm_forward
    else:
        forward = fast.batchnorm_forward
    out, _ = forward(x, gamma, beta, dict(param))
    rm, rv = (param[k].astype(np.float64) for k in ("running_mean", "running_var"))
    shape = (1, 3) + (1, 1) * spatial
    want = (x.astype(np.float64) - rm.reshape(shape)) / np.sqrt(
        rv.reshape(shape) + 1e-5
    ) * gamma.reshape(shape) + beta.reshape(shape)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, want.astype(np.float32), rtol=1e-6)


# ---------------------------------------------------------------- gradients


def _bn_function(forward, gamma, beta, mode="train", which="x", x=None):
    def f(v):
        args = {"x": x, "gamma": gamma, "beta": beta}
        args[which] = v
        param = {
            "mode": mode,
            "running_mean": np.full(len(gamma), 0.3),
            "running_var": np.full(len(gamma), 1.7),
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return forward(args["x"], args["gamma"], args["beta"], param)[0]

    return f


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "test"])
def test_backward_matches_numerical_gradient(impl, mode):
    forward, backward = impl
    rng = np.random.default_rng(3)
    x = 4 * rng.standard_normal((10, 5)) + 12
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    bn_param = {"mode": mode, "running_mean": np.full(5, 0.3), "running_var": np.full(5, 1.7)}
    _, cache = forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = backward(dout, cache)
    for which, got, at in (("x", dx, x), ("gamma", dgamma, gamma), ("beta", dbeta, beta)):
        f = _bn_function(forward, gamma, beta, mode, which, x)
        num = numerical_gradient(f, at, dout, h=1e-5)
        assert rel_error(got, num) < 1e-7, f"d{which} ({mode}): {rel_error(got, num)}"


@pytest.mark.parametrize("impl", SPATIAL_IMPLS)
def test_spatial_backward_matches_numerical_gradient(impl):
    forward, backward = impl
    rng = np.random.default_rng(4)
    x = 2 * rng.standard_normal((3, 2, 3, 4)) - 5
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    dout = rng.standard_normal(x.shape)
    _, cache = forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)
    for which, got, at in (("x", dx, x), ("gamma", dgamma, gamma), ("beta", dbeta, beta)):
        f = _bn_function(forward, gamma, beta, "train", which, x)
        assert rel_error(got, numerical_gradient(f, at, dout, h=1e-5)) < 1e-7, which


def test_backward_alt_equals_backward_and_float32_gradients_are_close():
    rng = np.random.default_rng(5)
    for dtype in DTYPES:
        x = rng.standard_normal((300, 40)).astype(dtype)
        gamma, beta = _params(40, dtype)
        dout = rng.standard_normal(x.shape).astype(dtype)
        _, cache = fast.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        for a, b in zip(
            fast.batchnorm_backward(dout, cache), fast.batchnorm_backward_alt(dout, cache)
        ):
            np.testing.assert_array_equal(a, b)
        _, cache_r = ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        r1, r2 = ref.batchnorm_backward(dout, cache_r), ref.batchnorm_backward_alt(dout, cache_r)
        for a, b in zip(r1, r2):
            assert_close(a, b, dtype, "reference alt")


# ---------------------------------------------------------------- precision


@pytest.mark.parametrize("name", ["fast", "ref"])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_float32_statistics_match_float64_for_many_rows_and_large_offset(name, offset):
    forward = FORWARDS[name]
    rng = np.random.default_rng(6)
    x64 = rng.standard_normal((100_000, 8)) * np.arange(1, 9) + offset
    x32 = x64.astype(np.float32)
    gamma, beta = np.linspace(0.5, 2, 8), np.linspace(-1, 1, 8)
    p32 = {"mode": "train", "momentum": 0.0}
    p64 = {"mode": "train", "momentum": 0.0}
    out32, _ = forward(x32, gamma, beta, p32)
    # float64 computation on the same (rounded) data
    out64, _ = forward(x32.astype(np.float64), gamma, beta, p64)
    # a mean near 0 is judged on the data's scale (its std), the variance relatively
    std = np.sqrt(p64["running_var"])
    mean_err = np.abs(p32["running_mean"] - p64["running_mean"])
    assert np.all(mean_err <= 1e-5 * (std + np.abs(p64["running_mean"]))), mean_err / std
    np.testing.assert_allclose(p32["running_var"], p64["running_var"], rtol=1e-5)
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5 * np.abs(out64).max())
    np.testing.assert_allclose(p64["running_var"], x32.astype(np.float64).var(axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    "shape, offset, seed, dout_follows_xhat",
    [
        ((2000, 5), 0.0, 9, False),
        ((2000, 5), 1e4, 9, False),
        ((16, 3, 9, 17), 0.0, 9, False),
        ((16, 3, 9, 17), 1e4, 9, False),
        # large batches (the spatial one takes the streaming dx path)
        ((2049, 1025), 1e4, 12, True),
        ((17, 33, 63, 65), 1e4, 12, True),
    ],
    ids=str,
)
def test_float32_backward_matches_float64(shape, offset, seed, dout_follows_xhat):
    """The float32 gradient passes subtract the mean as a two-term float split: with a 1e4
    offset the low term carries digits a float mean alone would lose.  Where dout follows
    xhat, the xhat term of dx carries weight."""
    rng = np.random.default_rng(seed)
    spatial = len(shape) == 4
    x32 = (rng.standard_normal(shape) * 0.5 + offset).astype(np.float32)
    noise = rng.standard_normal(shape)
    dout32 = ((x32 - offset) * 2 + noise if dout_follows_xhat else noise).astype(np.float32)
    forward = fast.spatial_batchnorm_forward if spatial else fast.batchnorm_forward
    backward = fast.spatial_batchnorm_backward if spatial else fast.batchnorm_backward
    c = shape[1]
    results = []
    for dtype in (np.float32, np.float64):
        gamma, beta = np.linspace(0.5, 2, c).astype(dtype), np.zeros(c, dtype)
        _, cache = forward(x32.astype(dtype), gamma, beta, {"mode": "train"})
        results.append(backward(dout32.astype(dtype), cache))
    for name, got, exact in zip(("dx", "dgamma", "dbeta"), *results):
        np.testing.assert_allclose(
            got, exact, rtol=0, atol=2e-5 * np.abs(exact).max(), err_msg=name
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_statistics_stay_accurate_when_later_rows_jump_far_from_the_earlier_mean(dtype):
    # The kernel shifts each tile of rows by the mean of the tiles before it; here the data
    # jumps by 1e4 (column 0), drifts (column 1) or jumps late (column 2), so that shift is
    # far from the later tiles' data.
    rng = np.random.default_rng(8)
    x64 = rng.standard_normal((60_000, 4))
    x64[30_000:, 0] += 1e4
    x64[:, 1] += np.linspace(0, 3e3, 60_000)
    x64[45_000:, 2] -= 5e3
    x = x64.astype(dtype)
    exact = x.astype(np.float64)
    p = {"mode": "train", "momentum": 0.0}
    fast.batchnorm_forward(x, np.ones(4, dtype), np.zeros(4, dtype), p)
    # float64: a one-pass E[x^2] - E[x]^2 is off by ~2e-14 here, the kernel by ~4e-15
    np.testing.assert_allclose(
        p["running_var"], exact.var(axis=0), rtol=1e-6 if dtype == np.float32 else 8e-15
    )
    np.testing.assert_allclose(p["running_mean"], exact.mean(axis=0), rtol=1e-6, atol=1e-6)


def test_statistics_are_two_pass_accurate_far_from_zero_in_float64():
    # E[x^2] - E[x]^2 would lose every digit here (1e9 offset, unit variance).
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5000, 3)) + 1e9
    p = {"mode": "train", "momentum": 0.0}
    fast.batchnorm_forward(x, np.ones(3), np.zeros(3), p)
    np.testing.assert_allclose(p["running_var"], x.var(axis=0), rtol=1e-6)


# ---------------------------------------------------------------- bn_param semantics


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_bn_param_defaults_running_statistics_and_momentum(name):
    forward = FORWARDS[name]
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((50, 4)) * 2 + 3).astype(np.float32)
    gamma, beta = _params(4, np.float32)
    bn_param = {"mode": "train"}
    forward(x, gamma, beta, bn_param)
    mean, var = x.astype(np.float64).mean(0), x.astype(np.float64).var(0)  # biased variance
    for key, stat in (("running_mean", mean), ("running_var", var)):
        assert bn_param[key].dtype == np.float32 and bn_param[key].shape == (4,)
        np.testing.assert_allclose(bn_param[key], 0.1 * stat, rtol=1e-6)  # 0.9 * 0 + 0.1 * stat
    old_mean = bn_param["running_mean"]
    old_copy = old_mean.copy()
    bn_param["momentum"] = 0.5
    forward(x, gamma, beta, bn_param)
    np.testing.assert_array_equal(old_mean, old_copy)  # replaced, not written into
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * old_copy + 0.5 * mean, rtol=1e-6)
    # test mode normalizes with the running statistics and leaves them alone
    before = {k: bn_param[k].copy() for k in ("running_mean", "running_var")}
    bn_param["mode"] = "test"
    out, _ = forward(x, gamma, beta, bn_param)
    expected = gamma * (x - before["running_mean"]) / np.sqrt(before["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    for key in before:
        np.testing.assert_array_equal(bn_param[key], before[key])


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_eps_is_used_and_test_mode_creates_zero_running_stats(name):
    forward = FORWARDS[name]
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    out, _ = forward(x, np.ones(2), np.zeros(2), {"mode": "train", "eps": 1.0})
    np.testing.assert_allclose(out[:, 0], [-1 / np.sqrt(2), 1 / np.sqrt(2)])
    p = {"mode": "test"}
    with pytest.warns(
        RuntimeWarning, match=r"bn_param\['running_mean'\] and bn_param\['running_var'\]"
    ):
        out, _ = forward(x, np.ones(2), np.zeros(2), p)
    np.testing.assert_array_equal(p["running_mean"], np.zeros(2))
    np.testing.assert_allclose(out, x / np.sqrt(1e-5))


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_bad_arguments_raise_clear_errors(name):
    forward = FORWARDS[name]
    x = np.ones((4, 3))
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="'mode'"):
        forward(x, g, b, {})
    with pytest.raises(ValueError, match="'eval'"):
        forward(x, g, b, {"mode": "eval"})
    with pytest.raises(TypeError, match="dict"):
        forward(x, g, b, "train")
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        forward(x, np.ones(4), b, {"mode": "train"})
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\)"):
        forward(x, g, np.zeros((3, 1)), {"mode": "train"})
    with pytest.raises(ValueError, match="2-d"):
        forward(np.ones(3), g, b, {"mode": "train"})
    with pytest.raises(ValueError, match="2-d"):
        forward(np.ones((2, 3, 1)), g, b, {"mode": "train"})
    with pytest.raises(ValueError, match="D = 0"):
        forward(np.ones((4, 0)), np.ones(0), np.zeros(0), {"mode": "train"})
    with pytest.raises(ValueError, match="at least one"):
        forward(np.ones((0, 3)), g, b, {"mode": "train"})
    with pytest.raises(ValueError, match="running_var"):
        forward(x, g, b, {"mode": "train", "running_var": np.ones(2)})
    with pytest.raises(ValueError, match="eps"):
        forward(x, g, b, {"mode": "train", "eps": -1.0})
    with pytest.raises(ValueError, match="momentum"):
        forward(x, g, b, {"mode": "train", "momentum": 1.5})
    with pytest.raises(TypeError, match="x"):
        forward(np.array([["a"]]), g[:1], b[:1], {"mode": "train"})


@pytest.mark.parametrize("name", ["fast", "ref"])
@pytest.mark.parametrize(
    "running_var, index",
    [
        (np.array([np.nan, -1.0, 2.0]), 1),  # a NaN does not hide the negative value after it
        (np.array([0.5, np.nan, -0.25], np.float32), 2),
        ([1, 2, -3], 2),
        (np.array([-0.0, 1.0, -np.inf]), 2),  # -0.0 is not negative
    ],
)
def test_negative_running_var_is_named(name, running_var, index):
    forward = FORWARDS[name]
    x, g, b = np.ones((4, 3)), np.ones(3), np.zeros(3)
    for mode in ("train", "test"):
        p = {"mode": mode, "running_mean": np.zeros(3), "running_var": running_var}
        with pytest.raises(ValueError, match=rf"bn_param\['running_var'\]\[{index}\] = .* is neg"):
            forward(x, g, b, p)
    p = {"mode": "test", "running_mean": np.zeros(3), "running_var": np.array([np.nan, 0, 1])}
    with np.errstate(invalid="ignore"):
        forward(x, g, b, p)  # NaN is not negative


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_single_row_warns_and_outputs_beta(name):
    forward = FORWARDS[name]
    g, b = np.array([2.0, 3.0]), np.array([0.5, -1.0])
    with pytest.warns(RuntimeWarning, match="variance is 0") as record:
        out, cache = forward(np.array([[1.0, 7.0]]), g, b, {"mode": "train"})
    assert record[0].filename == __file__  # points at the caller, not into fastnn
    np.testing.assert_allclose(out, [[0.5, -1.0]])
    backward = fast.batchnorm_backward if name == "fast" else ref.batchnorm_backward
    dx, dgamma, dbeta = backward(np.array([[1.0, 2.0]]), cache)
    np.testing.assert_allclose(dx, 0, atol=1e-12)
    np.testing.assert_allclose(dbeta, [1.0, 2.0])
    # test mode with one row is fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
        forward(np.array([[1.0, 7.0]]), g, b, {"mode": "test", **stats})


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_empty_batch_in_test_mode_gives_empty_results(name):
    forward = FORWARDS[name]
    backward = fast.batchnorm_backward if name == "fast" else ref.batchnorm_backward
    stats = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    out, cache = forward(
        np.ones((0, 3), np.float32), np.ones(3), np.zeros(3), {"mode": "test", **stats}
    )
    assert out.shape == (0, 3) and out.dtype == np.float32
    dx, dgamma, dbeta = backward(np.ones((0, 3), np.float32), cache)
    assert dx.shape == (0, 3)
    np.testing.assert_array_equal(dgamma, 0)
    np.testing.assert_array_equal(dbeta, 0)


@pytest.mark.parametrize("name", ["fast", "ref"])
def test_nan_propagates_to_its_column_only(name):
    forward = FORWARDS[name]
    backward = fast.batchnorm_backward if name == "fast" else ref.batchnorm_backward
    x = np.random.default_rng(9).standard_normal((20, 4))
    x[3, 1] = np.nan
    out, cache = forward(x, np.ones(4), np.zeros(4), p := {"mode": "train"})
    assert np.all(np.isnan(out[:, 1]))
    assert np.all(np.isfinite(np.delete(out, 1, axis=1)))
    assert np.isnan(p["running_mean"][1]) and np.isfinite(np.delete(p["running_mean"], 1)).all()
    dx, dgamma, dbeta = backward(np.ones_like(x), cache)
    assert np.all(np.isnan(dx[:, 1])) and np.all(np.isfinite(np.delete(dx, 1, axis=1)))
    assert np.isnan(dgamma[1]) and np.isfinite(np.delete(dgamma, 1)).all()


def test_inputs_are_not_modified_and_read_only_inputs_work():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((30, 6))
    gamma, beta = _params(6, np.float64)
    rm, rv = np.zeros(6), np.ones(6)
    arrays = (x, gamma, beta, rm, rv)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    bn_param = {"mode": "train", "running_mean": rm, "running_var": rv}
    out, cache = fast.batchnorm_forward(x, gamma, beta, bn_param)
    dout = rng.standard_normal(x.shape)
    dout.flags.writeable = False
    fast.batchnorm_backward(dout, cache)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)
    assert bn_param["running_mean"] is not rm


def test_dtype_promotion_and_mixed_parameter_dtypes():
    x = np.arange(12).reshape(4, 3)  # int -> float64
    out, _ = fast.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    assert out.dtype == np.float64
    x32 = np.arange(12, dtype=np.float32).reshape(4, 3)
    p = {"mode": "train", "running_mean": np.zeros(3), "running_var": np.ones(3)}  # float64 stats
    out, cache = fast.batchnorm_forward(x32, np.ones(3), np.zeros(3), p)  # float64 gamma/beta
    assert out.dtype == np.float32 and p["running_var"].dtype == np.float32
    dx, dgamma, dbeta = fast.batchnorm_backward(np.ones((4, 3)), cache)  # float64 dout
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


# ---------------------------------------------------------------- cache, layout, threads


def test_cache_keeps_x_without_copies_and_no_xhat():
    x = np.random.default_rng(11).standard_normal((64, 10))
    _, cache = fast.batchnorm_forward(x, np.ones(10), np.zeros(10), {"mode": "train"})
    assert cache.x is x  # C-contiguous float input: kept by reference, xhat recomputed
    stored = [getattr(cache, k) for k in cache.__slots__]
    extra = sum(a.nbytes for a in stored if isinstance(a, np.ndarray) and a is not x)
    assert extra <= 3 * 10 * 8
    strided = np.asfortranarray(x)
    _, cache = fast.batchnorm_forward(strided, np.ones(10), np.zeros(10), {"mode": "train"})
    assert cache.x.flags.c_contiguous and not np.shares_memory(cache.x, strided)
    x4 = np.random.default_rng(12).standard_normal((2, 3, 4, 5))
    _, cache = fast.spatial_batchnorm_forward(x4, np.ones(3), np.zeros(3), {"mode": "train"})
    assert cache.x is x4  # no transposed copy for the images either


def test_caches_are_not_interchangeable_between_backends_or_layouts():
    x = np.random.default_rng(13).standard_normal((8, 3))
    _, fast_cache = fast.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    _, ref_cache = ref.batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(TypeError, match="batchnorm_forward"):
        fast.batchnorm_backward(np.ones((8, 3)), ref_cache)
    with pytest.raises(TypeError, match="reference"):
        ref.batchnorm_backward(np.ones((8, 3)), fast_cache)
    with pytest.raises(TypeError, match="spatial_batchnorm_forward"):
        fast.spatial_batchnorm_backward(np.ones((8, 3)), fast_cache)
    with pytest.raises(ValueError, match="dout has shape"):
        fast.batchnorm_backward(np.ones((3, 8)), fast_cache)


def test_kernel_refuses_bad_buffers():
    x = np.ones((4, 3))
    args = [
        np.ones(3),
        np.zeros(3),
        1e-5,
        0.9,
        np.zeros(3),
        np.ones(3),
        np.empty(3),
        np.empty(3),
        np.empty(3),
        np.empty(3),
        1,
    ]
    with pytest.raises(TypeError, match="float32 or float64"):
        ext.forward_train(x.astype(np.int64), np.empty((4, 3), np.int64), 4, 3, 1, *args)
    with pytest.raises(ValueError, match="C-contiguous"):
        ext.forward_train(np.ones((3, 4)).T, np.empty((4, 3)), 4, 3, 1, *args)
    with pytest.raises(ValueError, match="elements"):
        ext.forward_train(x, np.empty((4, 3)), 4, 4, 1, *args)
    out = np.empty((4, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ext.forward_train(x, out, 4, 3, 1, *args)


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_counts_agree(dtype):
    rng = np.random.default_rng(14)
    for shape, fwd, bwd in (
        ((1500, 300), fast.batchnorm_forward, fast.batchnorm_backward),
        ((3, 2, 100, 130), fast.spatial_batchnorm_forward, fast.spatial_batchnorm_backward),
        ((70000, 2), fast.batchnorm_forward, fast.batchnorm_backward),
    ):
        x = (rng.standard_normal(shape) + 2).astype(dtype)
        gamma, beta = _params(shape[1], dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        results = []
        for n in (1, 2, 3):
            with fastnn.num_threads(n):
                p = {"mode": "train"}
                out, cache = fwd(x, gamma, beta, p)
                results.append((out, p["running_var"], *bwd(dout, cache)))
        for other in results[1:]:
            for a, b in zip(results[0], other):
                assert_close(a, b, dtype, f"threads {shape}")


# ---------------------------------------------------------------- PyTorch oracle


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 10), (4, 3, 5, 5)], ids=str)
def test_matches_pytorch_native_batch_norm(dtype, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    c = shape[1]
    gamma, beta = _params(c, dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    fwd = fast.batchnorm_forward if len(shape) == 2 else fast.spatial_batchnorm_forward
    bwd = fast.batchnorm_backward if len(shape) == 2 else fast.spatial_batchnorm_backward
    p = {"mode": "train", "running_mean": np.full(c, 0.5, dtype), "running_var": np.ones(c, dtype)}
    out, cache = fwd(x, gamma, beta, p)
    dx, dgamma, dbeta = bwd(dout, cache)
    tx, tg, tb, td = (torch.from_numpy(a.copy()) for a in (x, gamma, beta, dout))
    rm, rv = torch.full((c,), 0.5, dtype=tx.dtype), torch.ones(c, dtype=tx.dtype)
    t_out, smean, sinv = torch.ops.aten.native_batch_norm(tx, tg, tb, rm, rv, True, 0.1, 1e-5)
    t_dx, t_dg, t_db = torch.ops.aten.native_batch_norm_backward(
        td, tx, tg, rm, rv, smean, sinv, True, 1e-5, [True, True, True]
    )
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, t_out.numpy(), rtol=rtol, atol=rtol)
    for a, b in ((dx, t_dx), (dgamma, t_dg), (dbeta, t_db)):
        np.testing.assert_allclose(a, b.numpy(), rtol=rtol, atol=rtol * 10)
    # Same momentum convention written two ways; PyTorch's running_var is unbiased.
    np.testing.assert_allclose(p["running_mean"], rm.numpy(), rtol=rtol)
    m = x.size // c
    np.testing.assert_allclose(p["running_var"], 0.9 + (rv.numpy() - 0.9) * (m - 1) / m, rtol=1e-4)


# ---------------------------------------------------------------- CS231n layers, both backends


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_layers_batchnorm_gradients(backend):
    fastnn.use_backend(backend)
    rng = np.random.default_rng(16)
    x = 3 * rng.standard_normal((8, 4)) + 2
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal(x.shape)
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for backward in (layers.batchnorm_backward, layers.batchnorm_backward_alt):
        dx, dgamma, dbeta = backward(dout, cache)
        f = _bn_function(layers.batchnorm_forward, gamma, beta, "train", "x", x)
        assert rel_error(dx, numerical_gradient(f, x, dout, h=1e-5)) < 1e-7
        f = _bn_function(layers.batchnorm_forward, gamma, beta, "train", "gamma", x)
        assert rel_error(dgamma, numerical_gradient(f, gamma, dout, h=1e-5)) < 1e-7
    x4 = rng.standard_normal((2, 3, 4, 4))
    g3, b3 = rng.standard_normal(3), rng.standard_normal(3)
    d4 = rng.standard_normal(x4.shape)
    _, cache = layers.spatial_batchnorm_forward(x4, g3, b3, {"mode": "train"})
    dx, _, dbeta = layers.spatial_batchnorm_backward(d4, cache)
    f = _bn_function(layers.spatial_batchnorm_forward, g3, b3, "train", "x", x4)
    # h = 1e-4: the forward's rounding noise / h dominates the small entries at 1e-5
    assert rel_error(dx, numerical_gradient(f, x4, d4, h=1e-4)) < 1e-7
    np.testing.assert_allclose(dbeta, d4.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_layers_affine_bn_relu_gradients(backend):
    fastnn.use_backend(backend)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((6, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    gamma, beta = rng.uniform(0.5, 1.5, 5), rng.uniform(-0.3, 0.3, 5)
    dout = rng.standard_normal((6, 5))

    def f_of(which):
        def f(v):
            args = dict(x=x, w=w, b=b, gamma=gamma, beta=beta)
            args[which] = v
            return layers.affine_bn_relu_forward(**args, bn_param={"mode": "train"})[0]

        return f

    _, cache = layers.affine_bn_relu_forward(x, w, b, gamma, beta, {"mode": "train"})
    grads = dict(zip(("x", "w", "b", "gamma", "beta"), layers.affine_bn_relu_backward(dout, cache)))
    values = dict(x=x, w=w, b=b, gamma=gamma, beta=beta)
    for name, grad in grads.items():
        num = numerical_gradient(f_of(name), values[name], dout, h=1e-5)
        assert grad.shape == values[name].shape
        # db is ~0 analytically (batchnorm removes a per-column shift): compare absolutely
        if name == "b":
            np.testing.assert_allclose(grad, num, atol=1e-8)
        else:
            assert rel_error(grad, num) < 1e-7, f"d{name} on {backend}: {rel_error(grad, num)}"


def test_layers_dispatch_to_the_active_backend():
    x = np.random.default_rng(18).standard_normal((5, 2))
    with fastnn.backend("numpy"):
        _, cache = layers.batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train"})
    assert isinstance(cache, dict)
    with fastnn.backend("cython"):
        _, cache = layers.batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train"})
    assert isinstance(cache, fast.BatchNormCache)


def test_registry_backward_specs_build_their_own_caches():
    from fastnn import registry

    rng = np.random.default_rng(19)
    for name in ("batchnorm_backward", "batchnorm_backward_alt", "spatial_batchnorm_backward"):
        spec = registry.get(name)
        shape = (4, 3, 2, 2) if name.startswith("spatial") else (6, 3)
        for impl in (spec.fast, spec.reference):
            args, kwargs = spec.make_args(rng, shape, np.float64, impl)
            dx, dgamma, dbeta = impl(*args, **kwargs)
            assert dx.shape == shape and dgamma.shape == (3,)


def test_outputs_start_apart_from_their_inputs_modulo_4096():
    """Fresh large arrays share their offset in the page; with dx there too, the 2-d
    backward's four-row loop waited on 4K aliasing (1.4-1.6x slower at (256, 512) float64),
    and the forward was 1.2-1.3x slower with out 64 bytes past x."""
    from fastnn._kernels._runtime import APART_MIN_BYTES, empty_apart

    def apart(a, b):
        d = (a.ctypes.data - b.ctypes.data) % 4096
        return min(d, 4096 - d)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 512))
    for shift in (0, 8, 64, 1000, 2048, 4000):  # dout at every kind of offset from x
        buf = np.empty(x.nbytes + 4096 + 8, np.uint8)
        start = (x.ctypes.data + shift - buf.ctypes.data) % 4096
        dout = buf[start : start + x.nbytes].view(np.float64).reshape(x.shape)
        dout[...] = rng.standard_normal(x.shape)
        out, cache = fastnn.batchnorm_forward(x, np.ones(512), np.zeros(512), {"mode": "train"})
        assert apart(out, x) >= 960 and out.ctypes.data % 64 == 0  # (64 bytes past x is slow)
        dx, _, _ = fastnn.batchnorm_backward(dout, cache)
        assert dx.flags.c_contiguous and dx.flags.aligned and dx.flags.writeable
        assert dx.ctypes.data % 64 == 0
        assert min(apart(dx, x), apart(dx, dout)) >= 960, (shift, apart(dx, x), apart(dx, dout))
        _, ref_cache = ref.batchnorm_forward(x, np.ones(512), np.zeros(512), {"mode": "train"})
        np.testing.assert_allclose(
            dx, ref.batchnorm_backward(dout, ref_cache)[0], rtol=1e-9, atol=1e-12
        )
    small = np.ones(APART_MIN_BYTES // 8 - 1)
    assert empty_apart(small, small).base is None  # small outputs: a plain allocation
