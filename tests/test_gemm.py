"""fastnn.core.gemm: c = alpha * a.T @ b + beta * c on NumPy's own BLAS, against matmul."""

import numpy as np
import pytest

from fastnn.core import gemm

NUMPY_BLAS = np.show_config(mode="dicts")["Build Dependencies"]["blas"].get("name")
needs_gemm = pytest.mark.skipif(gemm.GEMM_TN is None, reason=f"no gemm_tn: {gemm.GEMM_TN_SOURCE}")


@pytest.mark.skipif(NUMPY_BLAS != "scipy-openblas", reason="NumPy without its wheel's OpenBLAS")
def test_the_wheels_openblas_is_found_for_both_dtypes():
    # NumPy's PyPI wheels ship scipy-openblas: there the fused path must not be lost quietly
    assert gemm.GEMM_TN == ("float32", "float64"), gemm.GEMM_TN_SOURCE
    assert "scipy_openblas" in gemm.GEMM_TN_SOURCE


@needs_gemm
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "k, m, n",
    [(1, 1, 1), (7, 3, 5), (200, 3072, 100), (64, 100, 10), (0, 4, 3), (5, 0, 3), (5, 4, 0)],
)
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-1e-3, 1.0), (-0.5, 0.99), (2.0, -1.0)])
def test_matches_matmul(dtype, k, m, n, alpha, beta):
    gen = np.random.default_rng(k * 1000 + m * 10 + n)
    a = gen.standard_normal((k, m)).astype(dtype)
    b = gen.standard_normal((k, n)).astype(dtype)
    c = gen.standard_normal((m, n)).astype(dtype)
    expected = alpha * (a.T.astype(np.float64) @ b) + beta * c.astype(np.float64)
    gemm.gemm_tn(a, b, c, alpha, beta)
    assert c.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c, expected, rtol=tol, atol=tol * max(k, 1))


@needs_gemm
def test_beta_zero_ignores_nan_in_c_as_blas_does():
    a, b = np.ones((3, 2)), np.ones((3, 4))
    c = np.full((2, 4), np.nan)
    gemm.gemm_tn(a, b, c, 1.0, 0.0)
    np.testing.assert_array_equal(c, np.full((2, 4), 3.0))


def _misaligned(shape):
    """A C-contiguous float64 array whose data starts one byte past an aligned address."""
    raw = np.zeros(int(np.prod(shape)) * 8 + 1, np.uint8)
    array = np.frombuffer(raw.data, np.float64, int(np.prod(shape)), offset=1).reshape(shape)
    assert not array.flags.aligned
    return array


@needs_gemm
def test_bad_arrays_are_named_and_c_is_untouched():
    a, b = np.ones((3, 2)), np.ones((3, 4))
    c = np.zeros((2, 4))
    cases = [
        ((a.astype(np.float32), b, c), TypeError, "a has dtype float32"),
        ((a, b, np.zeros((4, 2))), ValueError, "shapes"),
        ((a, np.ones((2, 4)), c), ValueError, "shapes"),
        ((np.ones((3, 4))[:, ::2], b, c), ValueError, "a must be C-contiguous"),
        ((a, np.ones((4, 3)).T, c), ValueError, "b must be C-contiguous"),
        ((a, b, np.zeros((2, 8))[:, ::2]), ValueError, "c must be C-contiguous"),
        ((a, b, [[0.0] * 4] * 2), TypeError, "2-d ndarray"),
        ((_misaligned((3, 2)), b, c), ValueError, "a must be C-contiguous and aligned"),
        ((a, b, _misaligned((2, 4))), ValueError, "c must be C-contiguous and aligned"),
    ]
    for args, exc, match in cases:
        with pytest.raises(exc, match=match):
            gemm.gemm_tn(*args, 1.0, 1.0)
    assert not c.any()
    readonly = np.zeros((2, 4))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        gemm.gemm_tn(a, b, readonly, 1.0, 1.0)
    square = np.ones((3, 3))
    with pytest.raises(ValueError, match="shares memory"):
        gemm.gemm_tn(square, square[:, :3].copy(), square, 1.0, 1.0)


def test_unavailable_dtype_raises(monkeypatch):
    monkeypatch.setattr(gemm, "_BOUND", {})
    with pytest.raises(RuntimeError, match="unavailable for float32"):
        gemm.gemm_tn(*(np.ones(s, np.float32) for s in ((3, 2), (3, 4), (2, 4))), 1.0, 0.0)
