"""fastnn.workflow.preprocessing: ZeroCenter, Standardize, PCA against plain NumPy computations."""

import numpy as np
import pytest

from fastnn.workflow.preprocessing import PCA, NotFittedError, Standardize, ZeroCenter

DTYPES = (np.float32, np.float64)
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _data(rng, shape, dtype):
    # Offset and unequal scales per feature, so that a wrong axis or a missing step shows.
    x = rng.standard_normal(shape) * np.linspace(0.5, 3.0, shape[-1]) + np.arange(shape[-1]) * 10
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_center_matches_numpy_and_round_trips(rng, dtype):
    X, X_val = _data(rng, (50, 7), dtype), _data(rng, (9, 7), dtype)
    X_copy = X.copy()
    zc = ZeroCenter()
    assert zc.fit(X) is zc
    np.testing.assert_allclose(zc.mean_, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    out = zc.transform(X_val)
    assert out.dtype == dtype and out.shape == X_val.shape
    np.testing.assert_allclose(out, X_val - X.mean(axis=0), rtol=TOL[dtype], atol=TOL[dtype] * 60)
    np.testing.assert_allclose(zc.inverse_transform(out), X_val, rtol=TOL[dtype] * 10)
    np.testing.assert_allclose(zc.fit_transform(X).mean(axis=0), 0, atol=TOL[dtype] * 60)
    np.testing.assert_array_equal(X, X_copy)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_center_images_mean_image_and_per_channel(rng, dtype):
    X = _data(rng, (6, 4, 5, 3), dtype)
    mean_image = ZeroCenter().fit(X)
    assert mean_image.mean_.shape == (4, 5, 3)
    np.testing.assert_allclose(
        mean_image.transform(X), X - X.mean(axis=0), rtol=TOL[dtype], atol=TOL[dtype] * 60
    )
    per_channel = ZeroCenter(per_channel=True).fit(X)
    assert per_channel.mean_.shape == (3,)
    np.testing.assert_allclose(per_channel.mean_, X.astype(np.float64).mean(axis=(0, 1, 2)))
    # Applied to images of another size: only the channel count must match.
    other = _data(rng, (2, 8, 8, 3), dtype)
    out = per_channel.transform(other)
    assert out.dtype == dtype
    np.testing.assert_allclose(
        out, other - X.mean(axis=(0, 1, 2)), rtol=TOL[dtype], atol=TOL[dtype] * 60
    )
    with pytest.raises(ValueError, match="channels"):
        per_channel.transform(_data(rng, (2, 4, 5, 4), dtype))
    with pytest.raises(ValueError, match="features"):
        mean_image.transform(other)


@pytest.mark.parametrize("dtype", DTYPES)
def test_standardize_matches_numpy(rng, dtype):
    X = _data(rng, (80, 6), dtype)
    st = Standardize().fit(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(st.var_, X64.var(axis=0), rtol=1e-10)
    out = st.transform(X)
    assert out.dtype == dtype
    np.testing.assert_allclose(
        out, (X64 - X64.mean(0)) / X64.std(0), rtol=1e-4, atol=TOL[dtype] * 10
    )
    np.testing.assert_allclose(out.astype(np.float64).std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(st.inverse_transform(out), X, rtol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_standardize_constant_feature_does_not_divide_by_zero(dtype):
    X = np.column_stack([np.full(33, 0.1), np.arange(33.0), np.zeros(33)]).astype(dtype)
    st = Standardize().fit(X)
    np.testing.assert_array_equal(st.scale_[[0, 2]], 1.0)
    out = st.transform(X)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[:, [0, 2]], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[:, 1].std(), 1.0, rtol=1e-5)


def test_standardize_per_channel(rng):
    X = _data(rng, (5, 3, 3, 2), np.float32)
    st = Standardize(per_channel=True).fit(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(st.scale_, X64.std(axis=(0, 1, 2)), rtol=1e-10)
    out = st.transform(X).astype(np.float64)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, rtol=1e-5)


def _known_pca_data(rng, n, lam, mu):
    """X (n, D) whose mean is mu and whose covariance (1/n) is Q diag(lam) Q^T, exactly up to
    rounding, for a random orthogonal Q: X = mu + Z diag(sqrt(lam)) Q^T with Z's columns
    zero-mean and orthogonal (Z^T Z = n I).  Returns X, Z, Q."""
    d = len(lam)
    a = rng.standard_normal((n, d))
    z = np.linalg.qr(a - a.mean(axis=0))[0] * np.sqrt(n)  # columns stay orthogonal to ones
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return mu + (z * np.sqrt(lam)) @ q.T, z, q


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_recovers_known_axes_and_variances(rng, dtype, whiten):
    """Against data built with known principal axes and variances (not a re-run of the
    algorithm): the axes, variances, ratios and mean are found, the rotated data is
    decorrelated with the variances on the diagonal, whitened data has unit covariance."""
    lam = np.array([9.0, 4.0, 2.0, 1.0, 0.25])
    mu = np.linspace(-3.0, 5.0, 5)
    X64, Z, Q = _known_pca_data(rng, 200, lam, mu)
    X = X64.astype(dtype)
    eps = 1e-5
    pca = PCA(n_components=3, whiten=whiten, eps=eps).fit(X)
    out = pca.transform(X)
    assert out.dtype == dtype and out.shape == (200, 3)
    # float32 input moves the statistics by its rounding (~1e-6 here); float64 by ~1e-15
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(pca.mean_, mu, rtol=0, atol=rtol * 10)
    np.testing.assert_allclose(pca.explained_variance_, lam[:3], rtol=rtol)
    np.testing.assert_allclose(pca.explained_variance_ratio_, lam[:3] / lam.sum(), rtol=rtol)
    signs = np.sign(np.sum(pca.components_ * Q[:, :3].T, axis=1))  # an axis' sign is free
    np.testing.assert_allclose(pca.components_ * signs[:, None], Q[:, :3].T, atol=rtol * 10)
    scale = np.sqrt(lam[:3] / (lam[:3] + eps)) if whiten else np.sqrt(lam[:3])
    np.testing.assert_allclose(
        out * signs,
        Z[:, :3] * scale,
        rtol=1e-3 if dtype == np.float32 else 1e-9,
        atol=1e-4 if dtype == np.float32 else 1e-9,
    )
    # the statistics of the data as given (float32 rounding included) to float64 accuracy:
    # eigh of its covariance, computed by NumPy in float64
    w, v = np.linalg.eigh(np.cov(X.astype(np.float64), rowvar=False, bias=True))
    w, v = w[::-1][:3], v[:, ::-1][:, :3]
    np.testing.assert_allclose(pca.explained_variance_, w, rtol=1e-10)
    v_signs = np.sign(np.sum(pca.components_ * v.T, axis=1))
    np.testing.assert_allclose(pca.components_ * v_signs[:, None], v.T, atol=1e-9)
    cov = np.cov(out.astype(np.float64), rowvar=False, bias=True)
    atol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cov, np.diag(scale**2), rtol=0, atol=atol * lam[0])
    if whiten:
        np.testing.assert_allclose(cov, np.eye(3), rtol=0, atol=2 * eps)


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_inverse_transform(rng, whiten):
    X = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 4)) + 1.0
    full = PCA(whiten=whiten).fit(X)
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, rtol=1e-9, atol=1e-9)
    # Rank-2 data is reconstructed exactly from 2 components.
    low = rng.standard_normal((60, 2)) @ rng.standard_normal((2, 4)) + 5.0
    two = PCA(2, whiten=whiten).fit(low)
    np.testing.assert_allclose(two.inverse_transform(two.transform(low)), low, atol=1e-8)
    np.testing.assert_allclose(two.explained_variance_ratio_.sum(), 1.0)


def test_pca_float_n_components_and_deterministic_signs(rng):
    X = rng.standard_normal((100, 6)) * np.array([10, 5, 1, 0.1, 0.1, 0.1])
    pca = PCA(0.95).fit(X)
    ratio = pca.explained_variance_ratio_
    assert ratio.sum() >= 0.95
    assert ratio[:-1].sum() < 0.95
    again = PCA(0.95).fit(X.copy())
    np.testing.assert_array_equal(pca.components_, again.components_)
    rows = np.arange(pca.n_components_)
    assert (pca.components_[rows, np.argmax(np.abs(pca.components_), axis=1)] > 0).all()


def test_transform_before_fit_and_wrong_features_raise(rng):
    X = rng.standard_normal((10, 3))
    for t in (ZeroCenter(), Standardize(), PCA(2)):
        with pytest.raises(NotFittedError, match="not fitted"):
            t.transform(X)
        t.fit(X)
        with pytest.raises(ValueError, match="fitted"):
            t.transform(rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="components"):
        PCA(2).fit(X).inverse_transform(X)


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((0, 3)), ValueError, "no samples|shape"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN"),
        (np.ones(5), ValueError, "reshape"),
        (np.array([["a"]]), TypeError, "dtype"),
    ],
)
def test_bad_fit_input_raises(bad, exc, match):
    for t in (ZeroCenter(), Standardize(), PCA()):
        with pytest.raises(exc, match=match):
            t.fit(bad)


def test_pca_parameter_validation(rng):
    X = rng.standard_normal((10, 3))
    for bad, exc in [
        (0, ValueError),
        (4, ValueError),
        (1.5, ValueError),
        (True, TypeError),
        ("all", TypeError),
    ]:
        with pytest.raises(exc, match="n_components"):
            PCA(bad).fit(X)
    with pytest.raises(ValueError, match="eps"):
        PCA(eps=-1).fit(X)
    with pytest.raises(TypeError, match="eps"):
        PCA(eps="tiny").fit(X)


def test_sklearn_conventions():
    pca = PCA(3, whiten=True)
    assert pca.get_params() == {"n_components": 3, "whiten": True, "eps": 1e-5}
    assert pca.set_params(eps=1e-3) is pca and pca.eps == 1e-3
    assert repr(pca) == "PCA(n_components=3, whiten=True, eps=0.001)"
    assert repr(ZeroCenter()) == "ZeroCenter()"
    with pytest.raises(ValueError, match="invalid parameter 'whitten'"):
        pca.set_params(whitten=False)
    sklearn_base = pytest.importorskip("sklearn.base")
    clone = sklearn_base.clone(Standardize(per_channel=True))
    assert clone.per_channel is True and not hasattr(clone, "mean_")


def test_integer_input_becomes_float64():
    X = np.arange(12).reshape(4, 3)
    assert ZeroCenter().fit_transform(X).dtype == np.float64


def _fit_peak_bytes(transformer, X):
    """Peak memory NumPy allocates during ``transformer.fit(X)`` (NumPy reports to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        transformer.fit(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "make", [ZeroCenter, Standardize, PCA, lambda: Standardize(per_channel=True)]
)
def test_fit_makes_one_float64_copy_of_float32_data(rng, make):
    # One float64 temporary of X is 2 * X.nbytes; two of them (X - mean, then its square or
    # X.astype(float64) - mean) were 4 * X.nbytes, 2.4 GB extra on CIFAR-10.
    X = _data(rng, (4000, 64), np.float32)
    assert _fit_peak_bytes(make(), X) < 3 * X.nbytes


@pytest.mark.parametrize("per_channel", [False, True])
def test_fit_statistics_are_the_two_pass_formula_bit_for_bit(rng, per_channel):
    X = _data(rng, (40, 3, 5), np.float32)
    axes = (0, 1) if per_channel else (0,)
    mean = X.mean(axis=axes, dtype=np.float64)
    st = Standardize(per_channel=per_channel).fit(X)
    np.testing.assert_array_equal(st.mean_, mean)
    np.testing.assert_array_equal(
        st.var_, np.mean(np.square(X - mean, dtype=np.float64), axis=axes)
    )
    X2 = X.reshape(40, -1)
    pca = PCA().fit(X2)
    Xc = X2.astype(np.float64) - X2.mean(axis=0, dtype=np.float64)
    S = np.linalg.svd(Xc.T @ Xc / 40)[1]
    np.testing.assert_array_equal(pca.explained_variance_, S)


def test_pca_checks_n_components_before_the_svd(rng, monkeypatch):
    def no_svd(*args, **kwargs):
        raise AssertionError("svd ran before n_components was checked")

    monkeypatch.setattr(np.linalg, "svd", no_svd)
    X = rng.standard_normal((10, 3))
    for bad, exc in [
        (0, ValueError),
        (4, ValueError),
        (1.5, ValueError),
        (True, TypeError),
        ("all", TypeError),
        (float("nan"), ValueError),
    ]:
        with pytest.raises(exc, match="n_components"):
            PCA(bad).fit(X)
