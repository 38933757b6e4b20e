"""Activation kernels: compiled path against the NumPy twins, accuracy in ulp, edge values,
``out=``, layouts, dtypes, threads, gradients and (when installed) PyTorch."""

import numpy as np
import pytest
from util import (
    DTYPES,
    SHAPES,
    VALUE_KINDS,
    assert_matches,
    numerical_gradient,
    odd_arrays,
    rel_error,
)

import fastnn
from fastnn import reference as ref
from fastnn._kernels import activations as ext
from fastnn.registry import activations as specs

ELEMENTWISE = [s for s in specs.KERNELS if not s.name.startswith("maxout")]
FORWARD = ["relu", "sigmoid", "tanh", "leaky_relu", "elu"]
BACKWARD = [
    "relu_backward",
    "sigmoid_backward",
    "tanh_backward",
    "leaky_relu_backward",
    "elu_backward",
]
WITH_ALPHA = {"leaky_relu": 0.1, "leaky_relu_backward": 0.1, "elu": 0.7, "elu_backward": 0.7}
# Kernels whose results must equal NumPy's bit for bit (same IEEE operations in same order).
EXACT = {
    "relu",
    "relu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "sigmoid_backward",
    "tanh_backward",
}


@pytest.fixture(params=[False, True], ids=["dispatched", "baseline"])
def isa(request):
    """Run a test on the dispatched clone and on the baseline-ISA (no FMA) twin."""
    previous = ext._use_baseline(request.param)
    yield request.param
    ext._use_baseline(previous)


def _call(fn, name, *arrays, **kwargs):
    if name in WITH_ALPHA:
        kwargs.setdefault("alpha", WITH_ALPHA[name])
    return fn(*arrays, **kwargs)


def _tolerance(name, dtype):
    if name in EXACT:
        return dict(rtol=0, atol=0)
    eps = np.finfo(dtype).eps
    # Both sides are within a few ulp of the truth; below the normal range allow a few
    # smallest-normals of absolute error (subnormal results carry few significant bits).
    return dict(rtol=8 * eps, atol=4 * float(np.finfo(dtype).tiny))


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - compared between the two paths
        return None, exc


# ---- the sweep: every kernel x dtype x shape x layout x odd values, against its twin

SMALL = [s for s in SHAPES if np.prod(s) < 10000]
LARGE = [s for s in SHAPES if np.prod(s) >= 10000]


def _sweep(dtype, seed=0):
    """Every odd value kind on the small shapes, normal values on the large ones (fast)."""
    yield from odd_arrays(dtype, seed, kinds=VALUE_KINDS, shapes=SMALL)
    yield from odd_arrays(dtype, seed, kinds=("normal",), shapes=LARGE)


# The baseline-ISA twin of an exact kernel is the same C source: swept once, dispatched.
SWEEP_CASES = [
    pytest.param(spec, baseline, id=f"{spec.name}-{'baseline' if baseline else 'dispatched'}")
    for spec in ELEMENTWISE
    for baseline in (False, True)
    if not (baseline and spec.name in EXACT)
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec, baseline", SWEEP_CASES)
def test_matches_reference_on_odd_arrays(spec, baseline, dtype):
    previous = ext._use_baseline(baseline)
    try:
        _sweep_against_twin(spec, dtype)
    finally:
        ext._use_baseline(previous)


def _sweep_against_twin(spec, dtype):
    second = dict(_sweep(dtype, seed=1))
    for what, x in _sweep(dtype):
        arrays = (second[what], x) if spec.name in BACKWARD else (x,)
        before = [a.copy() for a in arrays]
        got, got_exc = _outcome(_call, spec.fast, spec.name, *arrays)
        want, want_exc = _outcome(_call, spec.reference, spec.name, *arrays)
        label = f"{spec.name} {np.dtype(dtype).name} {what}"
        assert (got_exc is None) == (want_exc is None), f"{label}: {got_exc!r} vs {want_exc!r}"
        assert_matches(got, want, what=label, **_tolerance(spec.name, dtype))
        for a, b in zip(arrays, before):
            np.testing.assert_array_equal(a, b, err_msg=f"{label}: input modified")


# ---- accuracy in ulp against a wider evaluation


def _wide(name, x, alpha):
    """float64 evaluation for float32 input, long double for float64 input."""
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    xw = x.astype(wide)
    with np.errstate(all="ignore"):
        if name == "sigmoid":
            e = np.exp(-np.abs(xw))
            return np.where(xw < 0, e, 1) / (1 + e)
        if name == "tanh":
            return np.tanh(xw)
        a = wide(x.dtype.type(alpha))
        return np.where(xw > 0, xw, a * np.expm1(np.minimum(xw, 0)))


def _ulp_error(got, exact, dtype):
    with np.errstate(over="ignore"):  # spacing(max) is inf: those points count as 0 ulp
        spacing = np.spacing(np.abs(exact.astype(dtype))).astype(exact.dtype)
    return np.abs(got.astype(exact.dtype) - exact) / spacing


def _ulp_points(dtype):
    info = np.finfo(dtype)
    rng = np.random.default_rng(7)
    tiny = float(info.smallest_subnormal)
    lo = -110.0 if dtype == np.float32 else -760.0
    return np.concatenate(
        [
            np.linspace(-40, 40, 80001),
            rng.standard_normal(50000) * 4,
            np.geomspace(tiny, 4, 20000),
            -np.geomspace(tiny, 4, 20000),
            np.linspace(lo, -40, 20001),  # sigmoid/exp into the subnormal range and to 0
            [float(info.max), -float(info.max), 1e4, -1e4, 0.0, -0.0],
        ]
    ).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(
    "name, alpha", [("sigmoid", None), ("tanh", None), ("elu", 1.0), ("elu", 0.3), ("elu", 2.5)]
)
def test_within_4_ulp(name, alpha, dtype, isa):
    x = _ulp_points(dtype)
    fn = getattr(fastnn, name)
    got = fn(x) if alpha is None else fn(x, alpha)
    err = _ulp_error(got, _wide(name, x, alpha), dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= 4, f"{name} {np.dtype(dtype).name}: {err[worst]:.2f} ulp at x={x[worst]!r}"


def test_ulp_measure_can_fail():
    # The ulp check above must notice a one-ulp-per-step drift.
    x = np.linspace(-5, 5, 101)
    exact = _wide("tanh", x, None)
    bad = np.nextafter(np.nextafter(np.tanh(x), 2), 2)
    bad = np.nextafter(np.nextafter(np.nextafter(bad, 2), 2), 2)
    assert _ulp_error(bad, exact, np.float64).max() > 4


# ---- edge values


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_saturation_and_limits(dtype, isa):
    big = dtype(1000)
    x = np.array([-1e4, -1000, 1000, 1e4, -np.inf, np.inf, np.nan, -0.0, 0.0], dtype)
    s = fastnn.sigmoid(x)
    np.testing.assert_array_equal(s[:6], [0, 0, 1, 1, 0, 1])
    assert np.isnan(s[6]) and s[7] == 0.5 and s[8] == 0.5
    t = fastnn.tanh(x)
    np.testing.assert_array_equal(t[:6], [-1, -1, 1, 1, -1, 1])
    assert np.isnan(t[6]) and t[7] == 0 and np.signbit(t[7]) and not np.signbit(t[8])
    for alpha in (1.0, 0.5, 3.0):
        e = fastnn.elu(x, alpha)
        a = dtype(alpha)
        np.testing.assert_array_equal(e[:6], [-a, -a, big, 1e4, -a, np.inf])
        assert np.isnan(e[6]) and e[7] == 0 and e[8] == 0
    assert np.all(np.isnan(fastnn.relu(x)[6:7])) and np.isnan(fastnn.leaky_relu(x)[6])
    np.testing.assert_array_equal(fastnn.relu(x)[[0, 2, 4, 5]], [0, 1000, 0, np.inf])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_tiny_inputs_keep_relative_accuracy(dtype, isa):
    tiny = np.array([1e-30, -1e-30, 1e-8, -1e-8, np.finfo(dtype).smallest_subnormal], dtype)
    np.testing.assert_array_equal(fastnn.tanh(tiny), tiny)  # tanh(x) rounds to x
    elu = fastnn.elu(-np.abs(tiny))
    exact = np.expm1(-np.abs(tiny).astype(np.longdouble))
    np.testing.assert_allclose(elu, exact.astype(dtype), rtol=2 * np.finfo(dtype).eps)


def test_sigmoid_subnormal_results():
    x = np.array([-710.0, -720.0, -740.0, -746.0])
    exact = np.exp(x.astype(np.longdouble))
    got = fastnn.sigmoid(x)
    assert got[0] > 0 and got[-1] == 0
    assert np.all(np.abs(got - exact.astype(np.float64)) <= 2 * 5e-324)
    assert fastnn.sigmoid(np.float32(-90))[()] > 0
    assert fastnn.sigmoid(np.float32(-104))[()] == 0


def _exp_kernel_edges(dtype):
    """Inputs where the exp kernels' pieces change regime: the exp's clamp, the scaled exp's
    normal/subnormal boundary (sigmoid divides 2**K * exp(-|x|)), tanh's saturation, signed
    zeros, infinities, tiny and random values."""
    info = np.finfo(dtype)
    lo, sub = (-104.0, -87.4) if dtype == np.float32 else (-746.0, -708.4)
    rng = np.random.default_rng(16)
    x = np.concatenate(
        [
            np.linspace(lo - 1, lo + 1, 301),
            np.linspace(sub - 1.5, sub + 1.5, 301),
            -np.linspace(sub - 1.5, sub + 1.5, 301),
            np.linspace(-25, 25, 501),
            rng.standard_normal(300) * 10,
            np.geomspace(float(info.smallest_subnormal), 1, 100),
            -np.geomspace(float(info.smallest_subnormal), 1, 100),
            [0.0, -0.0, np.inf, -np.inf, float(info.max), -float(info.max)],
        ]
    )
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "elu_backward"])
def test_exp_kernels_vector_body_equals_scalar_tail(name, dtype, isa):
    # One long call runs the vector loop; one-element calls run the scalar element
    # functions.  Both must give the same bits (the loops compute the same operations): a
    # vector-only shortcut, such as a reciprocal estimate in place of the division, fails here.
    x = _exp_kernel_edges(dtype)
    arrays = (x[::-1].copy(), x) if name in BACKWARD else (x,)
    fast = getattr(fastnn, name)
    whole = _call(fast, name, *arrays)
    parts = np.concatenate(
        [_call(fast, name, *(a[i : i + 1] for a in arrays)) for i in range(x.size)]
    )
    np.testing.assert_array_equal(whole.view(f"u{x.itemsize}"), parts.view(f"u{x.itemsize}"))


def test_no_floating_point_warnings_on_extreme_input():
    # pytest turns warnings into errors; the twins must be silent as well.
    x = np.array([np.finfo(np.float64).max, -np.finfo(np.float64).max, np.inf, -np.inf, np.nan])
    for spec in ELEMENTWISE:
        arrays = (x, x) if spec.name in BACKWARD else (x,)
        _call(spec.fast, spec.name, *arrays)
        _call(spec.reference, spec.name, *arrays)


def test_relu_family_gradient_at_zero():
    x = np.array([-1.0, -0.0, 0.0, 1.0])
    dout = np.full(4, 3.0)
    np.testing.assert_array_equal(fastnn.relu_backward(dout, x), [0, 0, 0, 3])
    np.testing.assert_array_equal(fastnn.leaky_relu_backward(dout, x, 0.25), [0.75, 0.75, 0.75, 3])
    np.testing.assert_allclose(
        fastnn.elu_backward(dout, x, 2.0), [6 * np.exp(-1), 6, 6, 3], rtol=1e-15
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu_backward_infinite_dout_where_exp_underflows(isa, dtype, alpha):
    # alpha * exp(x) underflows to 0 (subnormal or below) for these finite x, but the true
    # factor is positive: an infinite dout stays infinite instead of inf * 0 = NaN
    tiny = np.finfo(dtype).tiny
    lows = [np.log(tiny) - 0.5, np.log(tiny) - 10, np.log(tiny) - 30, -1e4, np.finfo(dtype).min]
    x = np.array(lows * 2, dtype)
    dout = np.array([-np.inf] * len(lows) + [np.inf] * len(lows), dtype)
    expected = np.where(dout < 0, -np.inf, np.inf).astype(dtype)
    for fn in (fastnn.elu_backward, ref.elu_backward):
        np.testing.assert_array_equal(fn(dout, x, alpha), expected)
    # finite douts are unchanged (the product rounds to a zero of dout's sign), x = -inf
    # (exp exactly 0) still gives NaN for an infinite dout, like inf * 0
    x2 = np.array([-1e4, -1e4, -np.inf], dtype)
    dout2 = np.array([3.0, -3.0, np.inf], dtype)
    for fn in (fastnn.elu_backward, ref.elu_backward):
        got = fn(dout2, x2, alpha)
        np.testing.assert_array_equal(got[:2], [0.0, -0.0])
        assert np.signbit(got[1]) and not np.signbit(got[0])
        assert np.isnan(got[2])


def test_leaky_relu_is_max_of_alpha_x_and_x():
    x = np.linspace(-3, 3, 61)
    np.testing.assert_array_equal(fastnn.leaky_relu(x), np.maximum(0.01 * x, x))
    np.testing.assert_array_equal(fastnn.leaky_relu(x, 0.2), np.maximum(0.2 * x, x))


# ---- out=, aliasing, layouts


@pytest.mark.parametrize("name", FORWARD + BACKWARD)
def test_out_argument(name, rng):
    fast = getattr(fastnn, name)
    x = rng.standard_normal((6, 7))
    d = rng.standard_normal((6, 7))
    arrays = (d, x) if name in BACKWARD else (x,)
    expected = _call(fast, name, *arrays)

    out = np.empty_like(x)
    assert _call(fast, name, *arrays, out=out) is out
    np.testing.assert_array_equal(out, expected)

    big = np.zeros((6, 14))  # non-contiguous out
    view = big[:, ::2]
    assert _call(fast, name, *arrays, out=view) is view
    np.testing.assert_array_equal(view, expected)
    assert np.all(big[:, 1::2] == 0)

    for i in range(len(arrays)):  # in place on each input
        copies = [a.copy() for a in arrays]
        res = _call(fast, name, *copies, out=copies[i])
        assert res is copies[i]
        np.testing.assert_array_equal(res, expected)

    buf = np.concatenate([x.ravel(), x.ravel()[:5]])  # out overlapping the input, shifted
    src = buf[:42].reshape(6, 7)
    dst = buf[5:47].reshape(6, 7)
    arrays2 = (d, src) if name in BACKWARD else (src,)
    _call(fast, name, *arrays2, out=dst)
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("name", FORWARD + BACKWARD)
def test_bad_out_raises(name, impl):
    fn = getattr(fastnn if impl == "fast" else ref, name)
    x = np.ones((3, 4))
    arrays = (x, x) if name in BACKWARD else (x,)
    with pytest.raises(ValueError, match="shape"):
        _call(fn, name, *arrays, out=np.empty((4, 3)))
    with pytest.raises(ValueError, match="dtype"):
        _call(fn, name, *arrays, out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _call(fn, name, *arrays, out=ro)
    with pytest.raises(TypeError, match="ndarray"):
        _call(fn, name, *arrays, out=[0.0] * 12)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("name", FORWARD + BACKWARD)
def test_dtypes_and_bad_input(name, impl):
    fn = getattr(fastnn if impl == "fast" else ref, name)
    unary = name not in BACKWARD

    def call(*arrays):
        return _call(fn, name, *(arrays if not unary else arrays[:1]))

    for ints in (np.arange(-3, 3), np.array([True, False])):
        out = call(ints, ints)
        assert out.dtype == np.float64
        assert_matches(out, call(ints.astype(np.float64), ints.astype(np.float64)), rtol=0)
    assert call(np.ones(3, np.float16), np.ones(3, np.float16)).dtype == np.float32
    assert call([1.0, -2.0], [0.5, 0.5]).dtype == np.float64  # lists work
    for bad in (np.ones(3, complex), np.array([1, "a"], dtype=object), np.array(["x"])):
        with pytest.raises(TypeError):
            call(bad, bad)
    if not unary:
        with pytest.raises(ValueError, match="shape"):
            call(np.ones(3), np.ones(4))
        assert call(np.ones(3, np.float32), np.ones(3)).dtype == np.float64
    if name in WITH_ALPHA:
        with pytest.raises(ValueError, match="alpha"):
            fn(*([np.ones(3)] * (1 if unary else 2)), alpha=np.nan)
        with pytest.raises(TypeError, match="alpha"):
            fn(*([np.ones(3)] * (1 if unary else 2)), alpha="big")


def test_zero_d_and_empty_shapes():
    for name in FORWARD:
        fn = getattr(fastnn, name)
        r = fn(np.float32(-0.5))
        assert isinstance(r, np.ndarray) and r.shape == () and r.dtype == np.float32
        assert fn(np.empty((0, 3))).shape == (0, 3)
    assert fastnn.relu_backward(np.array(2.0), np.array(1.0)).shape == ()


def test_read_only_input_is_accepted():
    x = np.linspace(-2, 2, 9)
    x.flags.writeable = False
    np.testing.assert_array_equal(fastnn.relu(x), ref.relu(x))
    np.testing.assert_array_equal(fastnn.relu_backward(x, x), ref.relu_backward(x, x))


# ---- threads


@pytest.mark.parametrize("name", FORWARD + BACKWARD)
def test_threads_give_identical_results(name, rng):
    fast = getattr(fastnn, name)
    n = (1 << 17) + 13  # above both thresholds, not a multiple of the chunk alignment
    x = rng.standard_normal(n)
    d = rng.standard_normal(n)
    arrays = (d, x) if name in BACKWARD else (x,)
    with fastnn.num_threads(1):
        one = _call(fast, name, *arrays)
    with fastnn.num_threads(3):  # more threads than cores is still correct
        three = _call(fast, name, *arrays)
    np.testing.assert_array_equal(one, three)


def test_kernel_chunking_covers_every_element():
    # Call the extension directly with many threads on small sizes: every element is
    # written exactly once whatever the split.
    op = ext.OPS["leaky_relu"]
    for n in list(range(0, 70)) + [127, 128, 129, 1000]:
        x = -np.arange(1, n + 1, dtype=np.float32)
        out = np.full(n, np.nan, np.float32)
        ext.apply(op, x, None, out, 0.5, 4)
        np.testing.assert_array_equal(out, 0.5 * x)


def test_extension_checks_its_arrays():
    x = np.ones(8)
    with pytest.raises(ValueError, match="C-contiguous"):
        ext.apply(ext.OPS["relu"], x[::2], None, np.empty(4), 0.0, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        ext.apply(ext.OPS["relu"], x, None, np.empty(8, np.float32), 0.0, 1)
    with pytest.raises(ValueError, match="required"):
        ext.apply(ext.OPS["relu_backward"], x, None, np.empty(8), 0.0, 1)
    with pytest.raises(ValueError, match="unknown"):
        ext.apply(99, x, None, np.empty(8), 0.0, 1)
    with pytest.raises(TypeError):
        ext.apply(ext.OPS["relu"], x.astype(int), None, np.empty(8, int), 0.0, 1)


# ---- gradients


def _forward_of(name, alpha):
    if name.startswith(("leaky", "elu")):
        return lambda x: getattr(ref, name)(x, alpha)
    return getattr(ref, name)


@pytest.mark.parametrize("impl", ["fast", "reference"])
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu", "elu"])
def test_backward_matches_numerical_gradient(name, impl, rng):
    module = fastnn if impl == "fast" else ref
    alpha = WITH_ALPHA.get(name, None)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks of relu/leaky/elu
    dout = rng.standard_normal(x.shape)
    forward = _forward_of(name, alpha)
    num = numerical_gradient(forward, x, dout)
    backward = getattr(module, name + "_backward")
    if name in ("sigmoid", "tanh"):
        got = backward(dout, forward(x))
    elif alpha is not None:
        got = backward(dout, x, alpha)
    else:
        got = backward(dout, x)
    assert rel_error(got, num) < 1e-6, name


# ---- maxout


def test_maxout_matches_reference_on_odd_arrays():
    for dtype in DTYPES:
        for what, z in _sweep(dtype, seed=3):
            label = f"maxout {np.dtype(dtype).name} {what}"
            got, got_exc = _outcome(fastnn.maxout, z)
            want, want_exc = _outcome(ref.maxout, z)
            assert (got_exc is None) == (want_exc is None), f"{label}: {got_exc!r} {want_exc!r}"
            if got is None:
                assert type(got_exc) is type(want_exc), label
                continue
            assert_matches(got[0], want[0], rtol=0, what=label)
            np.testing.assert_array_equal(got[1], want[1], err_msg=label)
            assert got[1].dtype == np.intp
            k = z.shape[-1]
            dout = np.linspace(-1, 1, got[0].size).reshape(got[0].shape).astype(dtype)
            assert_matches(
                fastnn.maxout_backward(dout, got[1], k),
                ref.maxout_backward(dout, want[1], k),
                rtol=0,
                what=label,
            )


def test_maxout_ties_nan_and_threads():
    z = np.array([[1.0, 3.0, 3.0], [np.nan, 5.0, np.nan], [2.0, np.nan, 9.0], [-np.inf] * 3])
    y, idx = fastnn.maxout(z)
    np.testing.assert_array_equal(idx, [1, 0, 1, 0])
    np.testing.assert_array_equal(y, [3.0, np.nan, np.nan, -np.inf])
    big = np.random.default_rng(5).standard_normal((40000, 3)).astype(np.float32)
    with fastnn.num_threads(1):
        one = fastnn.maxout(big)
    with fastnn.num_threads(2):
        two = fastnn.maxout(big)
        dz = fastnn.maxout_backward(one[0], one[1], 3)
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(dz, ref.maxout_backward(one[0], one[1], 3))


def test_maxout_out_and_errors():
    z = np.random.default_rng(2).standard_normal((5, 4, 3))
    out = np.empty((5, 4))
    y, idx = fastnn.maxout(z, out=out)
    assert y is out and idx.shape == (5, 4)
    for impl in (fastnn, ref):
        with pytest.raises(ValueError, match="0-d"):
            impl.maxout(np.float64(1.0))
        with pytest.raises(ValueError, match="empty"):
            impl.maxout(np.ones((3, 0)))
        with pytest.raises(ValueError, match="shape"):
            impl.maxout(z, out=np.empty((5, 3)))
        with pytest.raises(TypeError):
            impl.maxout(z.astype(complex))
        with pytest.raises(ValueError, match="out of range"):
            impl.maxout_backward(np.ones(3), np.array([0, 3, 1]), 3)
        with pytest.raises(ValueError, match="out of range"):
            impl.maxout_backward(np.ones(3), np.array([0, -1, 1]), 3)
        with pytest.raises(ValueError, match="shape"):
            impl.maxout_backward(np.ones(3), np.array([0, 1]), 3)
        with pytest.raises(TypeError, match="integer"):
            impl.maxout_backward(np.ones(3), np.array([0.0, 1.0, 1.0]), 3)
        with pytest.raises(ValueError, match="k must be"):
            impl.maxout_backward(np.ones(3), np.array([0, 0, 0]), 0)
        with pytest.raises(TypeError, match="k must be"):
            impl.maxout_backward(np.ones(3), np.array([0, 0, 0]), 2.5)
        with pytest.raises(TypeError, match="k must be"):  # True is not a piece count
            impl.maxout_backward(np.ones(3), np.array([0, 0, 0]), True)


def test_maxout_gradient_numerically(rng):
    z = rng.standard_normal((3, 4, 3))
    dout = rng.standard_normal((3, 4))
    _, idx = fastnn.maxout(z)
    num = numerical_gradient(lambda a: ref.maxout(a)[0], z, dout)
    assert rel_error(fastnn.maxout_backward(dout, idx, 3), num) < 1e-7


# ---- PyTorch as an independent oracle


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("spec", specs.KERNELS, ids=lambda s: s.name)
def test_matches_pytorch(spec, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    shape = (3, 50, 4)
    args, kwargs = spec.make_args(rng, shape, dtype, spec.fast)
    if spec.name in FORWARD:
        args = (args[0] * 4,)  # reach the saturated ranges too
    if spec.name in WITH_ALPHA:
        kwargs = dict(kwargs, alpha=WITH_ALPHA[spec.name])
    got = spec.fast(*args, **kwargs)
    want = spec.torch(torch, args, kwargs)()
    if spec.name == "maxout":
        np.testing.assert_array_equal(got[1], want.indices.numpy())
        got, want = got[0], want.values
    want = want.numpy()
    # PyTorch orders and fuses the backward products differently (1 - y*y cancels near
    # |y| = 1), so only the piecewise-linear kernels must agree exactly.
    exact = spec.name in (
        "relu",
        "relu_backward",
        "leaky_relu",
        "leaky_relu_backward",
        "maxout",
        "maxout_backward",
    )
    rtol = 0 if exact else (1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(
        got, want, rtol=rtol, atol=float(np.finfo(dtype).tiny), err_msg=spec.name
    )
