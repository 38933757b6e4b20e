"""Dropout: the compiled kernel draws the NumPy twin's mask bit for bit, the course's
statistics, reproducibility across thread counts, gradients, edge cases and bad input."""

import numpy as np
import pytest
from util import DTYPES, odd_arrays

import fastnn
from fastnn import reference as ref
from fastnn.core import dropout as fast
from fastnn.nn import layers
from fastnn.reference.dropout import random_words


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
