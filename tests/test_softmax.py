"""Softmax, log-softmax and the fused softmax cross-entropy loss: compiled path vs NumPy twin,
finite differences, PyTorch, extreme and non-finite scores, labels, out= and threads."""

import importlib
import math

import numpy as np
import pytest
from util import DTYPES, assert_matches, numerical_gradient, odd_arrays, rel_error

import fastnn
from fastnn import registry
from fastnn.core.threads import PARALLEL_THRESHOLDS

fast = importlib.import_module("fastnn.core.softmax")
ref = importlib.import_module("fastnn.reference.softmax")

NAMES = ("softmax_loss", "softmax", "log_softmax")
# C >= 128 takes the one-row-at-a-time kernel; 127/128/129 straddle the switch and the
# 16-lane steps, 300 and 5000 have tails.
SHAPES_2D = [
    (1, 1),
    (1, 7),
    (3, 5),
    (5, 2),
    (64, 10),
    (37, 16),
    (200, 10),
    (9, 33),
    (4, 127),
    (5, 128),
    (6, 129),
    (257, 300),
    (3, 5000),
]
# (rtol, atol) per dtype: float32 kernels compute exp in float32 (the twin in float64)
TOL = {np.dtype(np.float32): (2e-5, 1e-37), np.dtype(np.float64): (1e-12, 1e-300)}


def _labels(rng, n, c):
    return rng.integers(0, c, n)


def _call(fn, x, y):
    return fn(x, y) if fn in (fast.softmax_loss, ref.softmax_loss) else fn(x)


def _outcome(fn, x, y):
    try:
        return "ok", _call(fn, x, y)
    except Exception as exc:  # compared below: both raise the same or neither
        return "raise", exc


def _compare(name, x, y, what):
    f, r = getattr(fast, name), getattr(ref, name)
    (kf, vf), (kr, vr) = _outcome(f, x, y), _outcome(r, x, y)
    assert kf == kr, f"{name} {what}: compiled {kf} {vf!r}, reference {kr} {vr!r}"
    if kf == "raise":
        assert type(vf) is type(vr) and str(vf) == str(vr), f"{name} {what}: {vf!r} != {vr!r}"
        return
    rtol, atol = TOL[np.asarray(x).dtype if np.asarray(x).dtype in TOL else np.dtype(np.float64)]
    if name == "softmax_loss":
        lf, df = vf
        lr, dr = vr
        assert type(lf) is float, what
        assert_matches(np.float64(lf), np.float64(lr), rtol, atol, f"{name} loss {what}")
        assert_matches(df, dr, rtol, atol / max(1, x.shape[0]), f"{name} dx {what}")
    else:
        assert_matches(vf, vr, rtol, atol, f"{name} {what}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_on_odd_arrays(name, dtype):
    rng = np.random.default_rng(1)
    for what, x in odd_arrays(
        dtype, shapes=[(), (0,), (7,), (0, 4), (4, 0), (3, 5), (2, 3, 4), (257, 300), (64, 10)]
    ):
        y = (
            _labels(rng, x.shape[0], x.shape[1])
            if x.ndim == 2 and x.shape[1]
            else np.zeros(x.shape[0] if x.ndim else 0, dtype=np.intp)
        )
        _compare(name, x, y, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES_2D)
def test_matches_reference_over_shapes_and_layouts(shape, dtype):
    rng = np.random.default_rng(2)
    base = (rng.standard_normal((shape[0], 2 * shape[1])) * 3).astype(dtype)
    views = {
        "C": np.ascontiguousarray(base[:, : shape[1]]),
        "strided": base[:, ::2],
        "fortran": np.asfortranarray(base[:, : shape[1]]),
        "reversed": base[::-1, : shape[1]],
    }
    y = _labels(rng, *shape)
    for layout, x in views.items():
        for name in NAMES:
            _compare(name, x, y, f"{shape} {np.dtype(dtype).name} {layout}")


def test_integer_scores_become_float64():
    x = np.arange(12).reshape(3, 4)
    y = np.array([0, 3, 1])
    for name in NAMES:
        _compare(name, x, y, "int scores")
    assert fast.softmax(x).dtype == np.float64


@pytest.mark.parametrize(
    "ldtype",
    [
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float32,
        np.float64,
        np.bool_,
    ],
)
def test_label_dtypes(ldtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 2 if ldtype is np.bool_ else 7))
    y = _labels(rng, 50, x.shape[1])
    expected = fast.softmax_loss(x, y)
    for impl in (fast, ref):
        loss, dx = impl.softmax_loss(x, y.astype(ldtype))
        assert loss == pytest.approx(expected[0], rel=1e-14)
        assert_matches(dx, expected[1], 1e-14, 0, f"labels {np.dtype(ldtype).name}")
    _compare("softmax_loss", x, y[::-1].astype(ldtype)[::-1], "strided labels")
    _compare("softmax_loss", x, list(y), "list labels")


BAD_LABELS = [
    (np.array([0, 1, 5, 2]), r"y\[2\] = 5 is out of range"),
    (np.array([0, -1, 9, 2]), r"y\[1\] = -1 is out of range"),
    (np.array([0, 1, 2, 4], dtype=np.uint8), r"y\[3\] = 4 is out of range"),
    (np.array([0, 2**64 - 1, 0, 0], dtype=np.uint64), r"y\[1\] = 18446744073709551615 is out"),
    (np.array([0, 1, 2**40, 0], dtype=np.int64), r"y\[2\] = 1099511627776 is out of range"),
    (np.array([0.0, 1.0, 1.5, 0.0]), r"y\[2\] = .*1\.5.* is not an integer label"),
    (np.array([0.0, np.nan, 1.0, 0.0]), r"y\[1\] = .*nan.* is not an integer label"),
    (np.array([0.0, 1e30, 1.0, 0.0]), r"y\[1\] = 1000000000000000019884624838656 is out"),
    (np.array([0, 1, 2]), r"y must have shape \(4,\) to match the scores, got \(3,\)"),
    (np.zeros((4, 1), dtype=int), r"y must have shape \(4,\) to match the scores, got \(4, 1\)"),
    (np.array(["a", "b", "c", "d"]), r"y must hold integer labels, got dtype <U1"),
    (np.array([1 + 0j, 0, 0, 0]), r"y must hold integer labels, got dtype complex128"),
]


@pytest.mark.parametrize("y, message", BAD_LABELS)
def test_bad_labels_raise_naming_first_bad_index_and_value(y, message):
    x = np.zeros((4, 4), dtype=np.float32)
    out = np.full((4, 4), 7.0, dtype=np.float32)
    for impl in (fast, ref):
        with pytest.raises(ValueError, match=message):
            impl.softmax_loss(x, y)
        with pytest.raises(ValueError, match=message):
            impl.softmax_loss(x, y, out=out)
    assert np.all(out == 7.0), "out was written before the labels were checked"
    _compare("softmax_loss", x, y, "bad labels")


@pytest.mark.parametrize("name", NAMES)
def test_bad_scores_raise_same_errors(name):
    for x in (
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        np.zeros(3),
        np.zeros((2, 2, 2)),
        5.0,
        np.zeros((2, 3), dtype=complex),
        np.array([["a", "b"]]),
    ):
        n = np.shape(x)[0] if np.ndim(x) else 0
        _compare(name, x, np.zeros(n, dtype=int), f"scores {np.shape(x)}")
    if name == "softmax_loss":  # the mean of no losses is undefined
        with pytest.raises(ValueError, match="N = 0"):
            fast.softmax_loss(np.zeros((0, 3)), np.zeros(0, int))


@pytest.mark.parametrize("impl", [fast, ref])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_no_rows_is_no_rows(impl, name, dtype):
    """As NumPy and torch.softmax: only the mean loss of an empty batch is undefined."""
    out = getattr(impl, name)(np.zeros((0, 3), dtype))
    assert out.shape == (0, 3) and out.dtype == dtype
    buffer = np.empty((0, 3), dtype)
    assert getattr(impl, name)(np.zeros((0, 3), dtype), out=buffer) is buffer


def test_numerical_gradient_of_the_loss():
    rng = np.random.default_rng(4)
    for shape in [(1, 1), (4, 3), (7, 10), (3, 40)]:
        x = rng.standard_normal(shape) * 2
        y = _labels(rng, *shape)
        _, dx = fast.softmax_loss(x, y)
        num = numerical_gradient(lambda z: np.array(fast.softmax_loss(z, y)[0]), x, 1.0, h=1e-4)
        assert rel_error(dx, num) < 1e-6, shape
        dx32 = fast.softmax_loss(x.astype(np.float32), y)[1]
        assert rel_error(dx32, num) < 1e-4, shape


def test_known_values():
    # uniform scores: loss = log(C) (the lecture notes' 2.3 for 10 classes), dx = (1/C - onehot)/N
    for dtype in DTYPES:
        x = np.zeros((5, 10), dtype=dtype)
        y = np.array([0, 9, 3, 3, 1])
        loss, dx = fast.softmax_loss(x, y)
        assert loss == pytest.approx(math.log(10), rel=1e-7)
        expected = np.full((5, 10), 0.1)
        expected[np.arange(5), y] -= 1.0
        np.testing.assert_allclose(dx, expected / 5, rtol=1e-6)
        np.testing.assert_allclose(fast.softmax(x), 0.1, rtol=1e-6)
        np.testing.assert_allclose(fast.log_softmax(x), -math.log(10), rtol=1e-6)


def _exact_row_losses(x, y):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    losses = []
    for row, label in zip(x.tolist(), y.tolist()):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row))
        losses.append(lse - mpmath.mpf(row[label]))
    return losses


@pytest.mark.parametrize("width", [10, 200])
def test_extreme_logits_are_stable_and_exact(width):
    rng = np.random.default_rng(5)
    x = rng.choice([-1e4, 1e4, 0.0, 9970.0, -9999.5, 1e4 - 30.0], size=(40, width))
    x[::3] *= -1
    y = _labels(rng, 40, width)
    exact = _exact_row_losses(x, y)
    mean = float(sum(exact) / len(exact))
    for impl in (fast, ref):
        loss, dx = impl.softmax_loss(x, y)
        assert np.isfinite(loss) and np.all(np.isfinite(dx))
        assert loss == pytest.approx(mean, rel=1e-6)
        assert np.all(np.isfinite(impl.softmax(x))) and np.all(np.isfinite(impl.log_softmax(x)))
    loss32, dx32 = fast.softmax_loss(x.astype(np.float32), y)
    assert np.isfinite(loss32) and np.all(np.isfinite(dx32))
    assert loss32 == pytest.approx(mean, rel=1e-6)


@pytest.mark.parametrize("width", [10, 300])
def test_tiny_losses_keep_their_relative_accuracy(width):
    # the correct class dominates by 25..36 logits: the per-row loss is ~1e-11..1e-15
    gaps = np.array([25.0, 28.0, 31.0, 36.0]) + np.log(width / 10)
    x = np.zeros((4, width))
    x[np.arange(4), 2] = gaps
    y = np.full(4, 2)
    exact = [math.log1p((width - 1) * math.exp(-g)) for g in gaps]
    for impl in (fast, ref):
        for i in range(4):
            loss, dx = impl.softmax_loss(x[i : i + 1], y[i : i + 1])
            assert loss == pytest.approx(exact[i], rel=1e-12)
            assert dx[0, 2] == pytest.approx(-exact[i], rel=1e-10)  # p_y - 1 ~ -loss
            assert impl.log_softmax(x[i : i + 1])[0, 2] == pytest.approx(-exact[i], rel=1e-12)


@pytest.mark.parametrize("width", [4, 150])
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_rows(dtype, width):
    x = np.zeros((6, width), dtype=dtype)
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    x[3] = -np.inf
    x[4, 1] = -np.inf  # probability 0, loss +inf when it is the label
    x[5, 3] = -np.inf
    y = np.array([0, 1, 1, 2, 1, 0])
    for impl in (fast, ref):
        loss, dx = impl.softmax_loss(x, y)
        assert math.isnan(loss)
        assert np.all(np.isnan(dx[1:4])), impl
        assert np.all(np.isfinite(dx[[0, 4, 5]]))
        assert dx[4, 1] == pytest.approx(-1 / 6) and dx[5, 3] == 0
        p, lp = impl.softmax(x), impl.log_softmax(x)
        assert np.all(np.isnan(p[1:4])) and np.all(np.isnan(lp[1:4]))
        assert p[4, 1] == 0 and lp[4, 1] == -np.inf
        assert impl.softmax_loss(x[4:5], y[4:5])[0] == np.inf
        assert impl.softmax_loss(x[5:], y[5:])[0] == pytest.approx(math.log(width - 1))
    _compare("softmax_loss", x, y, "non-finite")


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_equals_separate_calls(dtype):
    rng = np.random.default_rng(6)
    for shape in [(64, 10), (33, 1000), (5, 3)]:
        x = (rng.standard_normal(shape) * 4).astype(dtype)
        y = _labels(rng, *shape)
        n = shape[0]
        loss, dx = fast.softmax_loss(x, y)
        logp = fast.log_softmax(x)
        p = fast.softmax(x)
        rtol = 1e-5 if dtype == np.float32 else 1e-13
        assert loss == pytest.approx(-np.mean(logp[np.arange(n), y].astype(np.float64)), rel=rtol)
        onehot = np.zeros(shape)
        onehot[np.arange(n), y] = 1
        np.testing.assert_allclose(dx * n + onehot, p, rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(np.exp(logp.astype(np.float64)), p, rtol=rtol * 10, atol=1e-30)
        np.testing.assert_allclose(p.sum(axis=1, dtype=np.float64), 1.0, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_agrees_with_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for shape in [(64, 10), (200, 10), (31, 1000)]:
        x = (rng.standard_normal(shape) * 5).astype(dtype)
        y = _labels(rng, *shape)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        lt = torch.nn.functional.cross_entropy(xt, torch.from_numpy(y))
        lt.backward()
        loss, dx = fast.softmax_loss(x, y)
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        assert loss == pytest.approx(lt.item(), rel=rtol)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=rtol * 10, atol=1e-9)
        xt = torch.from_numpy(x)
        np.testing.assert_allclose(
            fast.softmax(x), torch.softmax(xt, 1).numpy(), rtol=rtol * 10, atol=1e-12
        )
        np.testing.assert_allclose(
            fast.log_softmax(x),
            torch.log_softmax(xt, 1).numpy(),
            rtol=rtol * 10,
            atol=1e-6 if dtype == np.float32 else 1e-12,
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_out_argument_and_aliasing(name, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((40, 12)).astype(dtype)
    y = _labels(rng, 40, 12)
    f = getattr(fast, name)
    args = (x, y) if name == "softmax_loss" else (x,)
    expected = f(*args)
    expected = expected[1] if name == "softmax_loss" else expected

    def run(impl, out, xx=x):
        res = getattr(impl, name)(*((xx, y) if name == "softmax_loss" else (xx,)), out=out)
        return res[1] if name == "softmax_loss" else res

    for impl in (fast, ref):
        out = np.empty_like(x)
        assert run(impl, out) is out
        np.testing.assert_array_equal(out, expected) if impl is fast else assert_matches(
            out, expected, *TOL[np.dtype(dtype)], what="ref out"
        )
        fortran = np.asfortranarray(np.empty_like(x))
        assert run(impl, fortran) is fortran
        assert_matches(fortran, expected, *TOL[np.dtype(dtype)], what="fortran out")
        inplace = x.copy()
        assert run(impl, inplace, inplace) is inplace
        assert_matches(inplace, expected, *TOL[np.dtype(dtype)], what="out is x")
        # out overlapping x by one row: must still see the original x
        buf = np.concatenate([x, x[:1]])
        src, dst = buf[:-1], buf[1:]
        assert run(impl, dst, src) is dst
        assert_matches(dst, expected, *TOL[np.dtype(dtype)], what="overlapping out")


@pytest.mark.parametrize("name", NAMES)
def test_out_validation_errors_match(name):
    x = np.zeros((3, 4))
    y = np.zeros(3, dtype=int)
    ro = np.zeros((3, 4))
    ro.setflags(write=False)
    for out, exc, msg in [
        (np.zeros((4, 3)), ValueError, "out has shape"),
        (np.zeros((3, 4), np.float32), ValueError, "out has dtype"),
        (ro, ValueError, "read-only"),
        ([[0.0] * 4] * 3, TypeError, "ndarray"),
    ]:
        for impl in (fast, ref):
            args = (x, y) if name == "softmax_loss" else (x,)
            with pytest.raises(exc, match=msg):
                getattr(impl, name)(*args, out=out)


def test_inputs_are_never_modified_and_read_only_inputs_work():
    rng = np.random.default_rng(9)
    for dtype in DTYPES:
        x = rng.standard_normal((300, 10)).astype(dtype)
        y = _labels(rng, 300, 10).astype(np.int32)
        x.setflags(write=False)
        y.setflags(write=False)
        xc, yc = x.copy(), y.copy()
        for impl in (fast, ref):
            impl.softmax_loss(x, y)
            impl.softmax(x)
            impl.log_softmax(x)
            impl.softmax_loss(x[:, ::2], y % 5)
        np.testing.assert_array_equal(x, xc)
        np.testing.assert_array_equal(y, yc)


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_give_the_same_result(dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1001, 300)).astype(dtype)  # above the parallel threshold
    assert x.size >= PARALLEL_THRESHOLDS["softmax"]
    y = _labels(rng, 1001, 300)
    with fastnn.num_threads(1):
        one = fast.softmax_loss(x, y), fast.softmax(x), fast.log_softmax(x)
    for n in (2, 3, 7):
        with fastnn.num_threads(n):
            loss, dx = fast.softmax_loss(x, y)
            assert loss == pytest.approx(one[0][0], rel=1e-13)
            np.testing.assert_array_equal(dx, one[0][1])
            np.testing.assert_array_equal(fast.softmax(x), one[1])
            np.testing.assert_array_equal(fast.log_softmax(x), one[2])


def test_registry_backend_and_layers():
    for name in NAMES:
        spec = registry.get(name)
        assert spec.fast is getattr(fast, name) and spec.reference is getattr(ref, name)
        assert spec.torch is not None and spec.family == "softmax"
        assert getattr(fastnn, name) is spec.fast
    from fastnn.nn import layers

    x = np.random.default_rng(11).standard_normal((20, 10))
    y = np.arange(20) % 10
    with fastnn.backend("numpy"):
        lr, dr = layers.softmax_loss(x, y)
    with fastnn.backend("cython"):
        lf, df = layers.softmax_loss(x, y)
    assert lf == pytest.approx(lr, rel=1e-13)
    assert_matches(df, dr, 1e-12, 0, "layers")


def test_module_reports_openmp_flag():
    from fastnn._kernels import softmax as ext

    assert isinstance(ext.OPENMP, bool)
