"""Property-based checks (hypothesis): arbitrary arrays, compiled path == reference twin.

The hand-written sweeps cover the odd values we thought of; hypothesis searches for the ones
we did not (shapes, strides, mixed NaN/inf/subnormal values) and shrinks any failure.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import reference as ref

# FASTNN_HYPOTHESIS_EXAMPLES=5000 for a long search; CI keeps the default short.
SETTINGS = settings(
    max_examples=int(os.environ.get("FASTNN_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FLOATS = st.sampled_from([np.float32, np.float64])


def _arrays(dtype, finite=False, min_dims=0):
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=0, max_side=40),
        elements=st.floats(
            allow_nan=not finite, allow_infinity=not finite, width=np.dtype(dtype).itemsize * 8
        ),
    )


def _bounded(dtype, bound):
    return st.floats(-bound, bound, width=np.dtype(dtype).itemsize * 8)


def _tol(name, dtype):
    if name in ("relu", "leaky_relu", "relu_backward", "leaky_relu_backward"):
        return dict(rtol=0, atol=0)
    return dict(rtol=8 * np.finfo(dtype).eps, atol=4 * float(np.finfo(dtype).tiny))


@SETTINGS
@given(
    data=st.data(),
    dtype=FLOATS,
    name=st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu", "elu"]),
)
def test_forward_activations_match_reference(data, dtype, name):
    x = data.draw(_arrays(dtype))
    if x.ndim >= 2 and data.draw(st.booleans()):
        x = x.T  # a non-contiguous view
    before = x.copy()
    got = getattr(fastnn, name)(x)
    want = getattr(ref, name)(x)
    np.testing.assert_array_equal(x, before)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, equal_nan=True, **_tol(name, dtype))


@SETTINGS
@given(
    data=st.data(),
    dtype=FLOATS,
    name=st.sampled_from(
        [
            "relu_backward",
            "sigmoid_backward",
            "tanh_backward",
            "leaky_relu_backward",
            "elu_backward",
        ]
    ),
)
def test_backward_activations_match_reference(data, dtype, name):
    x = data.draw(_arrays(dtype, finite=True))
    dout = data.draw(hnp.arrays(dtype, x.shape, elements=_bounded(dtype, 1e3)))
    if name in ("sigmoid_backward", "tanh_backward"):
        x = getattr(ref, name.replace("_backward", ""))(x)  # these take y = f(x)
    got = getattr(fastnn, name)(dout, x)
    want = getattr(ref, name)(dout, x)
    np.testing.assert_allclose(got, want, equal_nan=True, **_tol(name, dtype))


@SETTINGS
@given(data=st.data(), dtype=FLOATS)
def test_softmax_loss_matches_reference(data, dtype):
    n = data.draw(st.integers(1, 30))
    c = data.draw(st.integers(1, 30))
    x = data.draw(hnp.arrays(dtype, (n, c), elements=_bounded(dtype, 1e4)))
    y = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    loss, dx = fastnn.softmax_loss(x, y)
    ref_loss, ref_dx = ref.softmax_loss(x, y)
    assert np.isfinite(loss)
    assert loss == pytest.approx(
        ref_loss,
        rel=1e-5 if dtype == np.float32 else 1e-10,
        abs=1e-6 if dtype == np.float32 else 1e-12,
    )
    np.testing.assert_allclose(
        dx,
        ref_dx,
        rtol=1e-4 if dtype == np.float32 else 1e-9,
        atol=1e-6 if dtype == np.float32 else 1e-12,
    )


@SETTINGS
@given(data=st.data(), dtype=FLOATS)
def test_batchnorm_forward_matches_reference(data, dtype):
    n = data.draw(st.integers(2, 40))
    d = data.draw(st.integers(1, 20))
    x = data.draw(hnp.arrays(dtype, (n, d), elements=_bounded(dtype, 1e3)))
    gamma = data.draw(hnp.arrays(dtype, (d,), elements=_bounded(dtype, 10)))
    beta = data.draw(hnp.arrays(dtype, (d,), elements=_bounded(dtype, 10)))
    got, _ = fastnn.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    # against float64 on the same data, within a few roundings of each term: x - mean loses
    # |x| / std of relative precision to cancellation when the column is nearly constant
    x64, g64, b64 = (a.astype(np.float64) for a in (x, gamma, beta))
    want, _ = ref.batchnorm_forward(x64, g64, b64, {"mode": "train"})
    inv_std = 1 / np.sqrt(x64.var(axis=0) + 1e-5)
    xhat = (x64 - x64.mean(axis=0)) * inv_std
    info = np.finfo(dtype)
    bound = 16 * info.eps * (
        np.abs(g64) * (np.abs(xhat) + np.abs(x64) * inv_std + 1) + np.abs(b64)
    ) + 4 * float(info.tiny)  # subnormal outputs
    assert got.dtype == dtype and got.shape == x.shape
    assert np.all(np.abs(got - want) <= bound), np.max(np.abs(got - want) / bound)
