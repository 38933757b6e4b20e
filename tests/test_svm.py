"""The multiclass SVM loss: compiled kernel against the NumPy twin, the course's checks,
gradients, edge cases, threads and bad input."""

import numpy as np
import pytest
from util import DTYPES, layouts, numerical_gradient, rel_error

import fastnn
from fastnn import reference as ref
from fastnn.core import svm as fast
from fastnn.nn import layers


def _scores(shape, dtype, seed=0, kind="normal"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "large":
        x *= 1e4
    elif kind == "offset":
        x += 1e4
    elif kind == "nonfinite":
        x = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0]), size=shape)
    elif kind == "extreme":
        big = float(np.finfo(dtype).max)
        x = rng.choice(np.array([big, -big, 0.0, 1.0, 1e30, -1e30]), size=shape)
    return x.astype(dtype), rng.integers(0, shape[1], shape[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["normal", "large", "offset", "nonfinite", "extreme"])
@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 7), (3, 5), (64, 10), (33, 40), (9, 64), (7, 65), (257, 300), (5, 1000)]
)
def test_matches_twin_in_every_layout(shape, kind, dtype):
    x, y = _scores(shape, dtype, kind=kind)
    for what, view in layouts(x):
        if view.shape != x.shape:
            continue
        want_loss, want_dx = ref.svm_loss(view, y)
        loss, dx = fast.svm_loss(view, y)
        assert isinstance(loss, float)
        assert dx.dtype == want_dx.dtype and dx.shape == want_dx.shape, what
        # the margins are formed in float64 by both: the gradient is identical
        np.testing.assert_array_equal(dx, want_dx, err_msg=what)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-12, equal_nan=True, err_msg=what)


def test_course_sanity_loss_near_c_minus_one_and_gradient_check():
    """The course's check: small random scores for C = 10 give a loss near 9."""
    rng = np.random.default_rng(231)
    n, c = 50, 10
    x = 0.001 * rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    for impl in (fast.svm_loss, ref.svm_loss, layers.svm_loss):
        loss, dx = impl(x, y)
        assert abs(loss - 9.0) < 0.05, loss
        num = numerical_gradient(lambda z: np.array(impl(z, y)[0]), x, np.array(1.0), h=1e-6)
        assert rel_error(dx, num) < 1e-7


def test_known_values():
    x = np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 0.0]])
    y = np.array([0, 0])
    # row 0: margins (2 - 1 + 1, 0.5 - 1 + 1) = (2, 0.5); row 1: (0 - 3 + 1) < 0 twice
    loss, dx = fastnn.svm_loss(x, y)
    assert loss == pytest.approx(2.5 / 2)
    np.testing.assert_array_equal(dx, [[-1.0, 0.5, 0.5], [0.0, 0.0, 0.0]])


def test_label_dtypes_and_float_labels():
    x, y = _scores((20, 4), np.float32)
    want = ref.svm_loss(x, y)
    for labels in (y.astype(np.int8), y.astype(np.uint16), y.astype(np.float64)):
        got = fast.svm_loss(x, labels)
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize(
    "x, y, error",
    [
        (np.zeros((0, 3)), np.zeros(0, int), ValueError),
        (np.zeros((3, 0)), np.zeros(3, int), ValueError),
        (np.zeros(3), np.zeros(3, int), ValueError),
        (np.zeros((2, 3)), np.array([0, 3]), ValueError),
        (np.zeros((2, 3)), np.array([0, -1]), ValueError),
        (np.zeros((2, 3)), np.array([0.5, 1]), ValueError),
        (np.zeros((2, 3)), np.array([0]), ValueError),
        (np.zeros((2, 3), complex), np.array([0, 1]), TypeError),
    ],
)
def test_bad_input_raises_like_the_twin(x, y, error):
    with pytest.raises(error) as got:
        fast.svm_loss(x, y)
    with pytest.raises(error) as want:
        ref.svm_loss(x, y)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_for_every_thread_count(dtype):
    x, y = _scores((4099, 40), dtype, seed=3)
    with fastnn.num_threads(1):
        one = fast.svm_loss(x, y)
    for n in (2, 3, 7):
        with fastnn.num_threads(n):
            many = fast.svm_loss(x, y)
        np.testing.assert_array_equal(many[1], one[1])
        assert many[0] == pytest.approx(one[0], rel=1e-13)


def test_inputs_unchanged_and_read_only_inputs_work():
    x, y = _scores((30, 6), np.float64)
    x.flags.writeable = False
    y.flags.writeable = False
    before = x.copy()
    fast.svm_loss(x, y)
    np.testing.assert_array_equal(x, before)
