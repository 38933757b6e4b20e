"""The trainer's kernels (fastnn.core.optim): take_rows and the fused in-place updates vs their
NumPy twins, written-out formulas, PyTorch, layouts, threads, bad input; and the trainer on
both backends."""

import importlib

import numpy as np
import pytest
from util import DTYPES, SHAPES, layouts, odd_arrays

import fastnn
from fastnn import ClassifierTrainer, init_two_layer_model, two_layer_net
from fastnn.core.threads import PARALLEL_THRESHOLDS

fast = importlib.import_module("fastnn.core.optim")
ref = importlib.import_module("fastnn.reference.optim")

UPDATES = {  # name -> (number of state arrays, extra scalar arguments after lr)
    "sgd_update": (0, ()),
    "momentum_update": (1, (0.9,)),
    "nesterov_update": (1, (0.9,)),
    "rmsprop_update": (1, (0.99, 1e-8)),
    "adam_update": (2, (3, 0.9, 0.999, 1e-8)),
}


def _outcome(fn, *args, **kwargs):
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # compared by the callers: both raise the same or neither
        return "raise", exc


def _same_outcome(f, r, what):
    (kf, vf), (kr, vr) = f, r
    assert kf == kr, f"{what}: compiled {kf} {vf!r}, reference {kr} {vr!r}"
    if kf == "raise":
        assert type(vf) is type(vr) and str(vf) == str(vr), f"{what}: {vf!r} != {vr!r}"
    return kf == "ok"


# ----------------------------------------------------------------------------- take_rows


@pytest.mark.parametrize("dtype", DTYPES)
def test_take_rows_matches_numpy_indexing(dtype):
    rng = np.random.default_rng(0)
    for what, x in odd_arrays(
        dtype,
        kinds=("normal", "nonfinite"),
        shapes=[(1, 1), (7, 3), (1, 5), (40, 33), (300, 257), (5, 0), (6, 2, 3), (9,)],
    ):
        n = x.shape[0]
        for m in (0, 1, 5, 3 * n):
            idx = rng.integers(-n, n, m) if n else np.zeros(0, np.intp)
            want = x[idx]
            for impl in (fast.take_rows, ref.take_rows):
                got = impl(x, idx)
                assert got.dtype == x.dtype and got.shape == want.shape, what
                np.testing.assert_array_equal(got, want, err_msg=f"{what} m={m}")


@pytest.mark.parametrize(
    "index_dtype",
    [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64],
)
def test_take_rows_any_integer_index_dtype(index_dtype):
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    idx = np.array([0, 19, 7, 7, 3], dtype=index_dtype)
    out = np.empty((5, 3), np.float32)
    assert fast.take_rows(x, idx, out=out) is out
    np.testing.assert_array_equal(out, x[idx.astype(np.intp)])
    np.testing.assert_array_equal(ref.take_rows(x, idx), out)
    np.testing.assert_array_equal(fast.take_rows(x, list(idx)), out)
    np.testing.assert_array_equal(fast.take_rows(x, idx[::-1].copy()[::-1]), out)


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int32, np.int64, np.float16, np.complex128, np.bool_, object, "U3"]
)
def test_take_rows_other_dtypes_like_numpy(dtype):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 100, (11, 6)).astype(dtype)
    for layout, xl in layouts(x):
        idx = rng.integers(-len(xl), len(xl), 17)
        np.testing.assert_array_equal(fast.take_rows(xl, idx), xl[idx], err_msg=layout)
        np.testing.assert_array_equal(ref.take_rows(xl, idx), xl[idx], err_msg=layout)


def test_take_rows_large_gather_threads_agree():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2000, 3072)).astype(np.float32)
    idx = rng.integers(-2000, 2000, 257)
    assert idx.size * x.shape[1] * 4 >= PARALLEL_THRESHOLDS["take_rows"]
    results = []
    for threads in (1, 2, 3, 300):
        with fastnn.num_threads(threads):
            results.append(fast.take_rows(x, idx))
    for r in results:
        np.testing.assert_array_equal(r, x[idx])


@pytest.mark.parametrize("dtype", DTYPES)
def test_take_rows_long_rows_into_reversed_out(dtype):
    # whole rows are copied four at a time, line by line: groups, leftover rows and the
    # bytes past the last whole cache line, into an out whose rows run backwards
    rng = np.random.default_rng(5)
    x = rng.standard_normal((30, 131)).astype(dtype)
    for m in (4, 7, 9, 30):
        idx = rng.integers(-30, 30, m)
        out = np.zeros((m, 131), dtype)[::-1]
        assert fast.take_rows(x, idx, out=out) is out
        np.testing.assert_array_equal(out, x[idx], err_msg=f"m={m}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_take_rows_streaming_stores_copy_the_same_bytes(dtype):
    # stream=True stores whole rows' 64-byte lines with SSE2 streaming stores where out's
    # rows are 16-byte aligned (else it copies as usual): groups of four rows, leftover rows,
    # row tails past the last whole line, reversed and misaligned outs, 1 and 2 threads
    rng = np.random.default_rng(11)
    itemsize = np.dtype(dtype).itemsize
    for cols in (16 // itemsize, 64 // itemsize, 1040 // itemsize, 3072):
        x = rng.standard_normal((300, cols)).astype(dtype)
        x[::7, ::3] = np.nan
        for m in (1, 4, 7, 257):
            idx = rng.integers(-300, 300, m)
            raw = np.zeros(m * cols + 1, dtype)
            outs = {
                "aligned": np.zeros((m, cols), dtype),
                "reversed": np.zeros((m, cols), dtype)[::-1],
                "misaligned": raw[1:].reshape(m, cols),
            }
            for name, out in outs.items():
                for threads in (1, 2):
                    out[...] = 0
                    with fastnn.num_threads(threads):
                        assert fast.take_rows(x, idx, out=out, stream=True) is out
                    np.testing.assert_array_equal(
                        out.view(np.uint8), x[idx].view(np.uint8), err_msg=f"{name} {m}x{cols}"
                    )
            np.testing.assert_array_equal(ref.take_rows(x, idx, stream=True), x[idx])


def test_take_rows_out_overlapping_x():
    x = np.arange(40, dtype=np.float64).reshape(10, 4)
    idx = np.array([9, 8, 7, 0, 1])
    want = x[idx]
    for impl in (fast.take_rows, ref.take_rows):
        xx = x.copy()
        out = xx[:5]
        assert impl(xx, idx, out=out) is out
        np.testing.assert_array_equal(out, want)


def test_take_rows_leaves_inputs_alone_and_writes_only_out():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 8))
    idx = rng.integers(0, 50, 20)
    x0, idx0 = x.copy(), idx.copy()
    out = np.full((20, 8), np.nan)
    fast.take_rows(x, idx, out=out)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(idx, idx0)
    np.testing.assert_array_equal(out, x[idx])


@pytest.mark.parametrize(
    "x, idx, out, exc, match",
    [
        (
            np.zeros((5, 3)),
            [0, 5],
            None,
            IndexError,
            "index 5 is out of bounds for axis 0 with size 5",
        ),
        (np.zeros((5, 3)), [1, -6, 9], None, IndexError, "index -6 is out of bounds"),
        (
            np.zeros((0, 3)),
            [0],
            None,
            IndexError,
            "index 0 is out of bounds for axis 0 with size 0",
        ),
        (
            np.zeros((5, 3)),
            np.array([2**64 - 1], np.uint64),
            None,
            IndexError,
            "index 18446744073709551615 is out of bounds",
        ),
        (np.zeros((5, 3)), [0.0, 1.0], None, TypeError, "idx must hold integers"),
        (np.zeros((5, 3)), [True, False], None, TypeError, "idx must hold integers"),
        (np.zeros((5, 3)), [[0, 1]], None, ValueError, "idx must be 1-d"),
        (np.zeros((5, 3)), 1, None, ValueError, "idx must be 1-d"),
        (np.float64(3.0), [0], None, ValueError, "at least 1-d"),
        (np.zeros((5, 3)), [0, 1], np.zeros((2, 4)), ValueError, "out has shape"),
        (np.zeros((5, 3)), [0, 1], np.zeros((2, 3), np.float32), ValueError, "out has dtype"),
        (np.zeros((5, 3)), [0, 1], [[0.0] * 3] * 2, TypeError, "out must be a numpy.ndarray"),
    ],
)
def test_take_rows_bad_input(x, idx, out, exc, match):
    if isinstance(out, np.ndarray):
        out = out.copy()
    for impl in (fast.take_rows, ref.take_rows):
        with pytest.raises(exc, match=match):
            impl(x, idx, out=out)
    _same_outcome(
        _outcome(fast.take_rows, x, idx, out), _outcome(ref.take_rows, x, idx, out), "bad input"
    )


def test_take_rows_read_only_out():
    out = np.zeros((2, 3))
    out.flags.writeable = False
    for impl in (fast.take_rows, ref.take_rows):
        with pytest.raises(ValueError, match="read-only"):
            impl(np.zeros((5, 3)), np.array([0, 1]), out=out)


def test_take_rows_empty_list_index():
    x = np.ones((4, 3), np.float32)
    for impl in (fast.take_rows, ref.take_rows):
        r = impl(x, [])
        assert r.shape == (0, 3) and r.dtype == np.float32


def test_take_rows_matches_torch_index_select():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((100, 37)).astype(np.float32)
    idx = rng.integers(0, 100, 64)
    want = torch.index_select(torch.from_numpy(x), 0, torch.from_numpy(idx)).numpy()
    np.testing.assert_array_equal(fast.take_rows(x, idx), want)


# ----------------------------------------------------------------------------- updates


def _formula(name, p, g, states, lr, extra):
    """The update rules written out in float64 (the trainer's documented formulas)."""
    p, g = p.astype(np.float64), g.astype(np.float64)
    states = [s.astype(np.float64) for s in states]
    if name == "sgd_update":
        return p - lr * g, []
    if name == "momentum_update":
        (mu,), (v,) = extra, states
        v = mu * v - lr * g
        return p + v, [v]
    if name == "nesterov_update":
        (mu,), (v,) = extra, states
        v_new = mu * v - lr * g
        return p - mu * v + (1 + mu) * v_new, [v_new]
    if name == "rmsprop_update":
        (decay, eps), (cache,) = extra, states
        cache = decay * cache + (1 - decay) * g**2
        return p - lr * g / np.sqrt(cache + eps), [cache]
    (t, b1, b2, eps), (m, v) = extra, states
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    return p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), [m, v]


def _update_case(rng, name, shape, dtype):
    n_state = UPDATES[name][0]
    p = np.asarray(rng.standard_normal(shape), dtype=dtype)
    g = np.asarray(rng.standard_normal(shape), dtype=dtype)
    states = []
    for i in range(n_state):
        if (name, i) in (("rmsprop_update", 0), ("adam_update", 1)):
            states.append(np.asarray(rng.random(shape), dtype=dtype))
        else:
            states.append(np.asarray(0.1 * rng.standard_normal(shape), dtype=dtype))
    return p, g, states


def _call_update(impl, name, p, g, states, lr):
    return impl(p, g, *states, lr, *UPDATES[name][1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UPDATES)
def test_update_matches_twin_bitwise_and_formula(name, dtype):
    rng = np.random.default_rng(5)
    f, r = getattr(fast, name), getattr(ref, name)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for shape in SHAPES:
        p, g, states = _update_case(rng, name, shape, dtype)
        g0 = g.copy()
        want_p, want_states = _formula(name, p, g, states, 1e-2, UPDATES[name][1])
        pf, sf = p.copy(), [s.copy() for s in states]
        pr, sr = p.copy(), [s.copy() for s in states]
        assert _call_update(f, name, pf, g, sf, 1e-2) is None
        assert _call_update(r, name, pr, g, sr, 1e-2) is None
        np.testing.assert_array_equal(g, g0, err_msg="gradient modified")
        # same operation order, no contraction: the same bits
        np.testing.assert_array_equal(pf, pr, err_msg=f"{name} {shape}")
        for a, b in zip(sf, sr):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {shape} state")
        np.testing.assert_allclose(pf, want_p, err_msg=f"{name} {shape}", **tol)
        for a, b in zip(sf, want_states):
            np.testing.assert_allclose(a, b, err_msg=f"{name} {shape} state", **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "t, beta2",
    [(1, 0.999), (2, 0.999), (7, 0.999), (50, 0.999), (5000, 0.999), (10**6, 0.999)]
    + [(1, 1 - 1e-7), (3, 0.5), (1, 0.25), (40, 0.9)],
)
def test_adam_bias_correction_rounds_like_the_twin(t, beta2, dtype):
    """v / (1 - beta2**t), which the float32 kernel computes as a product by the reciprocal in
    double (docs/perf/solver.md), rounds as the twin's division does: v of random bits
    (subnormals, huge values, zeros, inf), m = 1 and eps = 0 so that p = -step / sqrt(vhat)
    shows vhat's last bit (a float32 reciprocal product fails this)."""
    rng = np.random.default_rng(t)
    uint = np.uint32 if dtype == np.float32 else np.uint64
    finite_top = np.asarray(np.inf, dtype).view(uint)  # bits of +inf: every finite value below
    n = 1 << 15
    bits = rng.integers(0, finite_top, n, dtype=uint, endpoint=True)
    bits[:2000] = rng.integers(0, 1 << (23 if dtype == np.float32 else 52), 2000, dtype=uint)
    v = bits.view(dtype)
    v[-4:] = [0.0, np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal, np.inf]
    g = np.zeros(n, dtype)
    runs = []
    for impl in (fast, ref):
        p, m, vv = np.zeros(n, dtype), np.ones(n, dtype), v.copy()
        with np.errstate(all="ignore"):
            impl.adam_update(p, g, m, vv, 1.0, t, 0.9, beta2, 0.0)
        runs.append((p, m, vv))
    for a, b, what in zip(runs[0], runs[1], ("p", "m", "v")):
        np.testing.assert_array_equal(a, b, err_msg=f"adam {what}, t={t}, beta2={beta2}")


@pytest.mark.parametrize("name", UPDATES)
def test_update_layouts_nonfinite_and_threads(name):
    """Strided, transposed and overlapping arrays take the NumPy path; thread counts agree."""
    rng = np.random.default_rng(6)
    dtype = np.float32
    runs = ((ref, 1), (fast, 1), (fast, 2), (fast, 7))

    def cases():  # a fresh set of views per run: p is updated in place, layout and all
        return odd_arrays(
            dtype, kinds=("normal", "extreme", "nonfinite"), shapes=[(3, 5), (257, 300), (65537,)]
        )

    for per_run in zip(*(cases() for _ in runs)):
        what, x = per_run[0]
        _, g, states = _update_case(rng, name, x.shape, dtype)
        states = [np.abs(s) for s in states]
        results = []
        for (impl, threads), (_, p) in zip(runs, per_run):
            assert p.strides == x.strides and not np.shares_memory(p, x) or p is x
            ss = [s.copy() for s in states]
            with fastnn.num_threads(threads), np.errstate(all="ignore"):
                _call_update(getattr(impl, name), name, p, g, ss, 1e-2)
            results.append((p, ss))
        for p, ss in results[1:]:
            np.testing.assert_array_equal(p, results[0][0], err_msg=f"{name} {what}")
            for a, b in zip(ss, results[0][1]):
                np.testing.assert_array_equal(a, b, err_msg=f"{name} {what} state")


def test_update_aliasing_takes_the_numpy_path():
    p = np.arange(1.0, 9.0)
    q = p.copy()
    fast.sgd_update(p, p, 0.5)  # p -= 0.5 * p
    ref.sgd_update(q, q, 0.5)
    np.testing.assert_array_equal(p, q)
    base = np.arange(1.0, 11.0)
    base_r = base.copy()
    fast.momentum_update(base[:8], np.ones(8), base[2:], 0.1, 0.9)  # p and v overlap
    ref.momentum_update(base_r[:8], np.ones(8), base_r[2:], 0.1, 0.9)
    np.testing.assert_array_equal(base, base_r)


def test_large_update_uses_threads_and_agrees():
    rng = np.random.default_rng(7)
    n = 4 * PARALLEL_THRESHOLDS["updates"] + 5
    for name in UPDATES:
        p, g, states = _update_case(rng, name, (n,), np.float32)
        out = []
        for threads in (1, 2, 3):
            pp, ss = p.copy(), [s.copy() for s in states]
            with fastnn.num_threads(threads):
                _call_update(getattr(fast, name), name, pp, g, ss, 1e-3)
            out.append(pp)
        for pp in out[1:]:
            np.testing.assert_array_equal(pp, out[0], err_msg=name)


def test_update_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    p, g, _ = _update_case(rng, "sgd_update", (40, 30), np.float64)
    pt = torch.from_numpy(p.copy()).requires_grad_(True)
    pt.grad = torch.from_numpy(g.copy())
    torch.optim.SGD([pt], lr=0.1, momentum=0.9).step()  # first step: buf = g, p -= lr*g
    pf = p.copy()
    fast.sgd_update(pf, g, 0.1)
    np.testing.assert_allclose(pf, pt.detach().numpy(), rtol=1e-12)
    # Adam, several steps (torch's eps is added outside the sqrt of the corrected v, like ours)
    pt = torch.from_numpy(p.copy()).requires_grad_(True)
    opt = torch.optim.Adam([pt], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    pf, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t in range(1, 4):
        gt = rng.standard_normal(p.shape)
        pt.grad = torch.from_numpy(gt)
        opt.step()
        fast.adam_update(pf, gt, m, v, 1e-2, t)
    np.testing.assert_allclose(pf, pt.detach().numpy(), rtol=1e-9, atol=1e-12)


def _bad_update_cases():
    p = np.zeros((3, 4))
    ro = np.zeros((3, 4))
    ro.flags.writeable = False
    yield "p list", ([[0.0] * 4] * 3, p, 0.1), TypeError, "p must be a numpy.ndarray"
    yield "p int", (np.zeros((3, 4), int), np.zeros((3, 4), int), 0.1), TypeError, "float32 or"
    yield "p read-only", (ro, p, 0.1), ValueError, "p is read-only"
    yield "g shape", (p.copy(), np.zeros((4, 3)), 0.1), ValueError, "g has shape"
    yield "g dtype", (p.copy(), np.zeros((3, 4), np.float32), 0.1), TypeError, "g has dtype"
    yield "lr nan", (p.copy(), p, float("nan")), ValueError, "lr must be finite"
    yield "lr str", (p.copy(), p, "a"), TypeError, "lr must be a real number"


@pytest.mark.parametrize(
    "what, args, exc, match",
    list(_bad_update_cases()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_sgd_update_bad_input(what, args, exc, match):
    for impl in (fast.sgd_update, ref.sgd_update):
        with pytest.raises(exc, match=match):
            impl(*args)


@pytest.mark.parametrize("name", [n for n in UPDATES if UPDATES[n][0]])
def test_state_bad_input_same_errors(name):
    rng = np.random.default_rng(9)
    p, g, states = _update_case(rng, name, (4, 5), np.float64)
    ro = states[0].copy()
    ro.flags.writeable = False
    bad_states = [
        ([states[0].astype(np.float32)] + states[1:], TypeError, "has dtype float32"),
        ([states[0][:, :4]] + states[1:], ValueError, "has shape"),
        ([ro] + states[1:], ValueError, "is read-only"),
        ([states[0].tolist()] + states[1:], TypeError, "must be a numpy.ndarray"),
    ]
    for bad, exc, match in bad_states:
        for impl in (getattr(fast, name), getattr(ref, name)):
            pp = p.copy()
            with pytest.raises(exc, match=match):
                _call_update(impl, name, pp, g, bad, 0.1)
            np.testing.assert_array_equal(pp, p, err_msg="p modified on error")
    if name == "adam_update":
        for t, exc in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
            for impl in (fast.adam_update, ref.adam_update):
                with pytest.raises(exc, match="t must be"):
                    impl(p.copy(), g, *states, 0.1, t)
    else:
        for impl in (getattr(fast, name), getattr(ref, name)):
            with pytest.raises(ValueError, match="must be finite"):
                impl(p.copy(), g, *states, 0.1, float("inf"))


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("adam_update", {"beta1": 1.0}, "beta1 must be < 1"),
        ("adam_update", {"beta2": 1.0}, "beta2 must be < 1"),
        ("adam_update", {"beta1": -0.1}, "beta1 must be >= 0"),
        ("adam_update", {"eps": -1e-8}, "eps must be >= 0"),
        ("rmsprop_update", {"decay": 1.5}, "decay must be <= 1"),
        ("rmsprop_update", {"decay": -0.5}, "decay must be >= 0"),
        ("rmsprop_update", {"eps": -1e-8}, "eps must be >= 0"),
    ],
)
def test_update_hyperparameters_out_of_range_raise_on_both_paths(name, kwargs, match):
    """beta1 = 1 divided by zero in the NumPy twin's bias correction and gave NaN in the
    kernel; both now refuse it (and the other rates outside their ranges)."""
    rng = np.random.default_rng(10)
    p, g, states = _update_case(rng, name, (4, 5), np.float64)
    extra = {"adam_update": (1,), "rmsprop_update": ()}[name]
    for impl in (getattr(fast, name), getattr(ref, name)):
        pp = p.copy()
        with pytest.raises(ValueError, match=match):
            impl(pp, g, *states, 0.1, *extra, **kwargs)
        np.testing.assert_array_equal(pp, p)


# ----------------------------------------------------------------------------- trainer


@pytest.mark.parametrize("update", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_trainer_same_on_both_backends(update, dtype):
    rng = np.random.default_rng(10)
    X = rng.standard_normal((300, 40)).astype(dtype)
    y = rng.integers(0, 5, 300)
    results = []
    for backend in ("cython", "numpy"):
        model = init_two_layer_model(40, 16, 5, dtype=dtype, seed=0)
        with fastnn.backend(backend):
            best, stats = ClassifierTrainer().train(
                X,
                y,
                X[:50],
                y[:50],
                model,
                two_layer_net,
                reg=1e-3,
                learning_rate=1e-2,
                momentum=0.9,
                update=update,
                num_epochs=3,
                batch_size=32,
                seed=1,
            )
        results.append((model, stats))
    (m1, s1), (m2, s2) = results
    assert len(s1["loss_history"]) == len(s2["loss_history"]) == 3 * (300 // 32)
    # the backends' relu/softmax kernels round differently in float32, and rmsprop/adam
    # divide by sqrt(cache), which magnifies that on tiny gradients: hence the float32 atol
    rtol, atol = (1e-4, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
    np.testing.assert_allclose(s1["loss_history"], s2["loss_history"], rtol=rtol)
    for k in m1:
        np.testing.assert_allclose(m1[k], m2[k], rtol=rtol, atol=atol, err_msg=k)
    # the run moved the weights (the comparison is not of two untouched models)
    assert not np.allclose(m1["W1"], init_two_layer_model(40, 16, 5, dtype=dtype, seed=0)["W1"])


def test_trainer_gathers_rows_of_nd_data():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((120, 2, 3, 4)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    out = []
    for backend in ("cython", "numpy"):
        model = init_two_layer_model(24, 8, 3, dtype=np.float32, seed=0)
        with fastnn.backend(backend):
            _, stats = ClassifierTrainer().train(
                X,
                y,
                X[:20],
                y[:20],
                model,
                two_layer_net,
                update="sgd",
                num_epochs=2,
                batch_size=16,
                seed=2,
            )
        out.append(stats["loss_history"])
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5)


# ----------------------------------------------------------------------------- update_many

RULE_OF = {name: name.removesuffix("_update") for name in UPDATES}


def _many_case(rng, name, dtype, shapes):
    """A step's parameters: (params, grads, states) lists, one entry per shape."""
    cases = [_update_case(rng, name, shape, dtype) for shape in shapes]
    return [c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UPDATES)
def test_update_many_is_the_single_updates_bitwise(name, dtype):
    """Every parameter gets exactly what its own ``<rule>_update`` call gives, on both
    backends and thread counts, for every shape (empty and 0-d ones too) and odd layouts
    and non-finite values (those layouts take the NumPy path inside the same call)."""
    rng = np.random.default_rng(9)
    odd = [x for _, x in odd_arrays(dtype, kinds=("normal", "nonfinite"), shapes=[(3, 5)])]
    params, grads, states = _many_case(rng, name, dtype, SHAPES)
    params += [x.copy() if i % 2 else x for i, x in enumerate(odd)]  # views and copies
    for x in odd:
        _, g, s = _update_case(rng, name, x.shape, dtype)
        grads.append(g)
        states.append([np.abs(a) for a in s])
    single_p = [p.copy() for p in params]
    single_s = [[a.copy() for a in s] for s in states]
    with np.errstate(all="ignore"):
        for p, g, s in zip(single_p, grads, single_s):
            _call_update(getattr(fast, name), name, p, g, s, 1e-2)
        for impl, threads in ((fast, 1), (fast, 2), (ref, 1)):
            ps = [p.copy() for p in params]
            ss = [[a.copy() for a in s] for s in states]
            with fastnn.num_threads(threads):
                result = impl.update_many(RULE_OF[name], ps, grads, ss, 1e-2, *UPDATES[name][1])
            assert result is None
            for i, (got, want) in enumerate(zip(ps, single_p)):
                np.testing.assert_array_equal(got, want, err_msg=f"{impl.__name__} {i}")
            for i, (got, want) in enumerate(zip(ss, single_s)):
                for a, b in zip(got, want):
                    np.testing.assert_array_equal(a, b, err_msg=f"{impl.__name__} state {i}")


def test_update_many_rmsprop_eps_outside_the_root():
    rng = np.random.default_rng(10)
    params, grads, states = _many_case(rng, "rmsprop_update", np.float32, [(4, 3), (5,)])
    for impl in (fast, ref):
        ps, ss = [p.copy() for p in params], [[a.copy() for a in s] for s in states]
        impl.update_many("rmsprop", ps, grads, ss, 1e-2, 0.9, 1e-3, eps_in_sqrt=False)
        for p, g, s, got in zip(params, grads, states, ps):
            pp, cache = p.copy(), s[0].copy()
            fast.rmsprop_update(pp, g, cache, 1e-2, 0.9, 1e-3, eps_in_sqrt=False)
            np.testing.assert_array_equal(got, pp)


def test_update_many_threads_split_large_parameters():
    rng = np.random.default_rng(11)
    n = 4 * PARALLEL_THRESHOLDS["updates"] + 5
    params, grads, states = _many_case(rng, "adam_update", np.float32, [(n,), (7,), (n + 3,)])
    out = []
    for threads in (1, 2, 3):
        ps, ss = [p.copy() for p in params], [[a.copy() for a in s] for s in states]
        with fastnn.num_threads(threads):
            fast.update_many("adam", ps, grads, ss, 1e-3, 4)
        out.append(ps)
    for ps in out[1:]:
        for a, b in zip(ps, out[0]):
            np.testing.assert_array_equal(a, b)


def test_update_many_of_no_parameters_checks_its_scalars():
    for impl in (fast, ref):
        assert impl.update_many("sgd", [], [], [], 0.1) is None
        with pytest.raises(ValueError, match="lr"):
            impl.update_many("sgd", [], [], [], float("nan"))


_P = np.zeros(3)
_BAD_MANY = [
    (("nadam", [_P], [_P], [()], 0.1), ValueError, "unknown update rule 'nadam'.*adam"),
    (("sgd", [_P], [_P, _P], [(), ()], 0.1), ValueError, "one entry per parameter"),
    (("momentum", [_P], [_P], [()], 0.1, 0.9), ValueError, r"states\[0\].*1 state"),
    (("adam", [_P], [_P], [(_P, _P)], 0.1), TypeError, r"scalars \(lr, t, beta1"),
    (("sgd", [_P], [_P], [()], 0.1, 0.2), TypeError, r"scalars \(lr\), got 2"),
    (("sgd", _P[None], [_P], [()], 0.1), TypeError, "params must be a list or tuple"),
    (("sgd", [_P], [np.zeros(4)], [()], 0.1), ValueError, "g has shape"),
    (("sgd", [_P], [_P.astype(np.float32)], [()], 0.1), TypeError, "g has dtype"),
    (("sgd", [[0.0, 1.0, 2.0]], [_P], [()], 0.1), TypeError, "numpy.ndarray"),
    (("adam", [_P], [_P], [(_P, _P)], 0.1, 1, 1.0), ValueError, "beta1"),
]


@pytest.mark.parametrize("args, exc, match", _BAD_MANY)
def test_update_many_bad_input_same_errors(args, exc, match):
    for impl in (fast, ref):
        with pytest.raises(exc, match=match):
            impl.update_many(*args)
    for impl in (fast, ref):
        with pytest.raises(TypeError, match="eps_in_sqrt is an option of the rmsprop rule"):
            impl.update_many("sgd", [_P], [_P], [()], 0.1, eps_in_sqrt=False)


def test_update_many_checks_every_parameter_before_changing_any():
    p, q = np.ones(3), np.ones(3)
    for impl in (fast, ref):
        readonly = np.ones(3)
        readonly.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            impl.update_many("sgd", [p, readonly], [q, q], [(), ()], 1.0)
        np.testing.assert_array_equal(p, np.ones(3))
