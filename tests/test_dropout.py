"""Dropout: the compiled kernel draws the NumPy twin's mask bit for bit, the course's
statistics, reproducibility across thread counts, gradients, edge cases and bad input; the
mask stored as bits on the baseline path (the kernels themselves run under any cap)."""

import copy
import pickle

import numpy as np
import pytest
from util import DTYPES, odd_arrays, run_with_cap

import fastnn
from fastnn import reference as ref
from fastnn._kernels import dropout as kernels
from fastnn.checks.dropout import keep_threshold
from fastnn.core import dropout as fast
from fastnn.nn import layers
from fastnn.reference.dropout import dropout_mask, mask_bits, random_words


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_and_backward_equal_the_twin_on_odd_arrays(dtype):
    checked = 0
    for desc, x in odd_arrays(dtype):
        for p in (0.3, 1.0):
            param = {"mode": "train", "p": p, "seed": 1234 + checked}
            out, cache = fast.dropout_forward(x, param)
            want, ref_cache = ref.dropout_forward(x, param)
            assert out.dtype == want.dtype and out.shape == want.shape, desc
            np.testing.assert_array_equal(out, want, err_msg=desc)
            dout = np.arange(x.size, dtype=dtype).reshape(x.shape)
            np.testing.assert_array_equal(
                fast.dropout_backward(dout, cache), ref.dropout_backward(dout, ref_cache), desc
            )
            checked += 1
    assert checked > 100


def test_mask_words_are_splitmix64_outputs():
    """Pin the generator: SplitMix64 seeded with 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4
    (the published reference outputs); element 2j keeps the low word of output j."""
    words = random_words(0, 4)
    np.testing.assert_array_equal(words, [0x7B1DCDAF, 0xE220A839, 0xA1B965F4, 0x6E789E6A])


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_course_statistics(p):
    """The course's check: train-mode mean ~ input mean, a fraction 1 - p of zeros; test
    mode leaves x alone."""
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for impl in (layers.dropout_forward, ref.dropout_forward):
        out, _ = impl(x, {"mode": "train", "p": p})
        out_test, _ = impl(x, {"mode": "test", "p": p})
        assert abs(out.mean() - x.mean()) < 0.05 * x.mean()
        assert abs(np.mean(out == 0) - (1 - p)) < 0.01
        assert out_test is x


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_mask_for_every_thread_count(dtype):
    x = np.random.default_rng(0).standard_normal((513, 257)).astype(dtype)
    param = {"mode": "train", "p": 0.6, "seed": 99}
    with fastnn.num_threads(1):
        one, _ = fast.dropout_forward(x, param)
    for n in (2, 3, 5):
        with fastnn.num_threads(n):
            many, _ = fast.dropout_forward(x, param)
        np.testing.assert_array_equal(many, one)
    np.testing.assert_array_equal(one, ref.dropout_forward(x, param)[0])


def test_without_seed_calls_differ_and_follow_np_random():
    x = np.ones((64, 64))
    param = {"mode": "train", "p": 0.5}
    a, _ = fast.dropout_forward(x, param)
    b, _ = fast.dropout_forward(x, param)
    assert not np.array_equal(a, b)
    np.random.seed(7)
    c, _ = fast.dropout_forward(x, param)
    np.random.seed(7)
    d, _ = ref.dropout_forward(x, param)
    np.testing.assert_array_equal(c, d)


def test_gradient_is_the_mask():
    """Dropout is linear for a fixed mask: dx = d(sum(out * dout))/dx = dout * mask."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 9))
    dout = rng.standard_normal((7, 9))
    param = {"mode": "train", "p": 0.45, "seed": 3}
    out, cache = fast.dropout_forward(x, param)
    h = 1e-6
    num = (fast.dropout_forward(x + h, param)[0] - fast.dropout_forward(x - h, param)[0]) / (2 * h)
    np.testing.assert_allclose(fast.dropout_backward(dout, cache), dout * num, rtol=1e-8)
    np.testing.assert_allclose(cache.mask, np.where(out != 0, 1 / 0.45, 0.0))


def test_p_one_keeps_everything_and_test_backward_passes_dout():
    x = np.random.default_rng(2).standard_normal((40, 40)).astype(np.float32)
    out, _ = fast.dropout_forward(x, {"mode": "train", "p": 1.0})
    np.testing.assert_array_equal(out, x)
    dout = x + 1
    _, cache = fast.dropout_forward(x, {"mode": "test", "p": 0.5})
    assert fast.dropout_backward(dout, cache) is dout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0**-40, 1e-300])
def test_p_below_two_to_minus_33_keeps_nothing_like_the_twin(p, dtype):
    """p < 2**-33 rounds the keep threshold to 0 (the kernel's own loop): every element times
    0, so NaN and inf give NaN and a negative -0, bit for bit as the twin gives them (1/p is
    inf in float32 for p = 1e-300; nothing is multiplied by it)."""
    x = np.array([1.5, -2.0, 0.0, -0.0, np.inf, -np.inf, np.nan] * 4001, dtype=dtype)
    bits = np.uint32 if dtype == np.float32 else np.uint64
    param = {"mode": "train", "p": p, "seed": 5}
    with np.errstate(over="ignore"):
        want, _ = ref.dropout_forward(x, param)
        for threads in (1, 2):
            with fastnn.num_threads(threads):
                out, cache = fast.dropout_forward(x, param)
                back = fast.dropout_backward(x, cache)
            np.testing.assert_array_equal(out.view(bits), want.view(bits))
            np.testing.assert_array_equal(back.view(bits), want.view(bits))


def test_dropped_nan_stays_nan_like_the_course():
    x = np.full(1000, np.nan)
    out, _ = fast.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 0})
    assert np.isnan(out).all()


@pytest.mark.parametrize(
    "param, error",
    [
        ({"mode": "train", "p": 0.0}, ValueError),
        ({"mode": "train", "p": 1.5}, ValueError),
        ({"mode": "train", "p": -0.1}, ValueError),
        ({"mode": "train", "p": float("nan")}, ValueError),
        ({"mode": "train"}, ValueError),
        ({"mode": "eval", "p": 0.5}, ValueError),
        ({"p": 0.5}, ValueError),
        ({"mode": "train", "p": 0.5, "seed": -1}, ValueError),
        ({"mode": "train", "p": 0.5, "seed": 1 << 64}, ValueError),
        ({"mode": "train", "p": 0.5, "seed": 1.5}, TypeError),
        ({"mode": "train", "p": "half"}, TypeError),
        ([("mode", "train")], TypeError),
    ],
)
def test_bad_param_raises_like_the_twin(param, error):
    x = np.ones((3, 3))
    with pytest.raises(error) as got:
        fast.dropout_forward(x, param)
    with pytest.raises(error) as want:
        ref.dropout_forward(x, param)
    assert str(got.value) == str(want.value)


def test_backward_checks_its_arguments():
    _, cache = fast.dropout_forward(np.ones((3, 4)), {"mode": "train", "p": 0.5, "seed": 1})
    with pytest.raises(ValueError, match="shape"):
        fast.dropout_backward(np.ones((4, 3)), cache)
    with pytest.raises(TypeError, match="dropout_forward"):
        fast.dropout_backward(np.ones((3, 4)), ({"mode": "train"}, None))


# --- the mask stored as bits (the baseline path's forward; the kernels exist on every path) ---

BIT_SHAPES = [(0,), (1,), (31,), (32,), (33,), (1000,), (4097,), (37, 29)]


def _kernel_forward(x, key, p, n_threads, with_bits):
    """The compiled forward on a C-contiguous x: (out, bits or None).  The bits buffer starts
    full of ones, so that a word or bit the kernel leaves unwritten shows."""
    out = np.empty_like(x)
    bits = np.full(kernels.bits_size(x.size), 0xFFFFFFFF, np.uint32) if with_bits else None
    scale = float(np.asarray(1.0 / p, dtype=x.dtype))
    with np.errstate(over="ignore"):
        kernels.apply_mask(x, out, key, keep_threshold(p), scale, bits, n_threads)
    return out, bits


def _odd_values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x.flat[::7] = np.nan
    x.flat[3::11] = np.inf
    x.flat[5::13] = -0.0
    return x.astype(dtype)


def test_mask_bits_layout():
    """The reference's bits: bit t of word g for element 32 * g + t, 0 past the end."""
    size, key, p = 70, 11, 0.5
    keep = random_words(key, size) < keep_threshold(p)
    want = [
        sum(1 << t for t in range(32) if 32 * g + t < size and keep[32 * g + t]) for g in range(3)
    ]
    got = mask_bits(key, p, size)
    assert got.dtype == np.uint32 and got.tolist() == want
    assert mask_bits(key, p, 0).shape == (0,)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BIT_SHAPES, ids=str)
@pytest.mark.parametrize("p", [0.3, 1.0, 2.0**-40])
def test_forward_writes_the_twins_bits_and_the_same_output(p, shape, dtype):
    """With a bits buffer the forward writes the twin's bits (1 and 2 threads) and the very
    output of the forward without one; the backward from those bits gives, bit for bit, what
    the backward regenerating the mask gives (NaN, inf and -0 in dout included)."""
    x = _odd_values(shape, dtype, seed=len(shape) + int(np.prod(shape)))
    dout = _odd_values(shape, dtype, seed=7)
    key = 2024 + int(np.prod(shape))
    uint = np.uint32 if dtype == np.float32 else np.uint64
    want_bits = mask_bits(key, p, x.size)
    regenerated, _ = _kernel_forward(dout, key, p, 1, with_bits=False)
    scale = float(np.asarray(1.0 / p, dtype=dtype))
    for n_threads in (1, 2):
        plain, _ = _kernel_forward(x, key, p, n_threads, with_bits=False)
        out, bits = _kernel_forward(x, key, p, n_threads, with_bits=True)
        np.testing.assert_array_equal(bits, want_bits, err_msg=f"{n_threads} threads")
        np.testing.assert_array_equal(out.view(uint), plain.view(uint))
        dx = np.empty_like(dout)
        kernels.apply_bits(dout, dx, bits, scale, n_threads)
        np.testing.assert_array_equal(dx.view(uint), regenerated.view(uint))
    with np.errstate(invalid="ignore", over="ignore"):
        twin = ref.dropout_backward(dout, (None, dropout_mask(key, p, shape, dtype)))
    np.testing.assert_array_equal(regenerated.view(uint), twin.view(uint))


def test_bits_kernels_check_their_buffers():
    x = np.ones(40, np.float32)
    out = np.empty_like(x)
    for bad in (np.zeros(1, np.uint32), np.zeros(2, np.int32), np.zeros(4, np.uint32)[::2]):
        with pytest.raises(ValueError, match="bits"):
            kernels.apply_bits(x, out, bad, 2.0, 1)
        with pytest.raises(ValueError, match="bits"):
            kernels.apply_mask(x, out, 1, 1 << 31, 2.0, bad, 1)
    with pytest.raises(ValueError, match="bits is required"):
        kernels.apply_bits(x, out, None, 2.0, 1)
    with pytest.raises(ValueError, match="read-only"):
        bits = np.zeros(2, np.uint32)
        bits.flags.writeable = False
        kernels.apply_mask(x, out, 1, 1 << 31, 2.0, bits, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_path_decides_whether_the_cache_holds_bits(dtype):
    """Bits on the baseline path only (the module's one flag), the twin's; none in test mode."""
    assert fast.STORES_MASK_BITS == kernels.STORES_MASK_BITS == (kernels.ISA == "baseline")
    x = _odd_values((61, 33), dtype, seed=3)
    param = {"mode": "train", "p": 0.4, "seed": 77}
    out, cache = fast.dropout_forward(x, param)
    if fast.STORES_MASK_BITS:
        np.testing.assert_array_equal(cache.bits, mask_bits(cache.key, 0.4, x.size))
        assert "bits stored" in repr(cache)
    else:
        assert cache.bits is None and "bits" not in repr(cache)
    assert fast.dropout_forward(x, {"mode": "test", "p": 0.4})[1].bits is None


@pytest.mark.parametrize("stored", [False, True])
def test_backward_reads_the_caches_bits_whatever_the_path(stored):
    """A cache with bits is applied from them, one without from its key, on any path (a
    pickled cache may come from another machine's path); pickling and copying keep them."""
    x = _odd_values((45, 23), np.float64, seed=5)
    dout = _odd_values((45, 23), np.float64, seed=6)
    param = {"mode": "train", "p": 0.7, "seed": 8}
    _, cache = fast.dropout_forward(x, param)
    key = cache.key
    bits = mask_bits(key, 0.7, x.size) if stored else None
    cache = fast.DropoutCache(param, "train", key, 0.7, x.shape, x.dtype, bits)
    want = ref.dropout_backward(dout, ref.dropout_forward(x, param)[1])
    for c in (cache, pickle.loads(pickle.dumps(cache)), copy.deepcopy(cache)):
        assert (c.bits is not None) == stored
        with np.errstate(invalid="ignore"):
            got = fast.dropout_backward(dout, c)
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))
    np.testing.assert_array_equal(cache.mask, ref.dropout_forward(x, param)[1][1])


PATH_PROBE = """
import json
import numpy as np
import fastnn
from fastnn import reference as ref
from fastnn._kernels import dropout
rows = []
for dtype in (np.float32, np.float64):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 77)).astype(dtype)[:, ::2]  # non-contiguous
    dout = rng.standard_normal(x.shape).astype(dtype)
    for threads in (1, 2):
        with fastnn.num_threads(threads):
            param = {"mode": "train", "p": 0.55, "seed": 4}
            out, cache = fastnn.dropout_forward(x, param)
            dx = fastnn.dropout_backward(dout, cache)
        want, ref_cache = ref.dropout_forward(x, param)
        rows.append({
            "bits": cache.bits is not None,
            "forward": bool(np.array_equal(out, want)),
            "backward": bool(np.array_equal(dx, ref.dropout_backward(dout, ref_cache))),
        })
print(json.dumps({"path": dropout.ISA, "rows": rows}))
"""


@pytest.mark.parametrize("cap", ["baseline", "avx2", "avx512"])
def test_public_dropout_stores_bits_on_the_baseline_path_only(cap, tmp_path):
    """Under each FASTNN_MAX_CPU_ISA cap (fresh interpreters): the cache holds bits exactly on
    the baseline path, and forward and backward equal the twin on both dtypes and 1-2 threads."""
    info, _ = run_with_cap(PATH_PROBE, cap, tmp_path)
    if info["path"] != cap:
        pytest.skip(f"this CPU or build has no {cap} path (ran {info['path']})")
    for row in info["rows"]:
        assert row == {"bits": cap == "baseline", "forward": True, "backward": True}
