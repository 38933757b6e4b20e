"""fastnn.preprocessing: ZeroCenter, Standardize, PCA against plain NumPy computations."""

import numpy as np
import pytest

from fastnn.preprocessing import PCA, NotFittedError, Standardize, ZeroCenter

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
    np.testing.assert_allclose(mean_image.transform(X), X - X.mean(axis=0),
                               rtol=TOL[dtype], atol=TOL[dtype] * 60)
    per_channel = ZeroCenter(per_channel=True).fit(X)
    assert per_channel.mean_.shape == (3,)
    np.testing.assert_allclose(per_channel.mean_, X.astype(np.float64).mean(axis=(0, 1, 2)))
    # Applied to images of another size: only the channel count must match.
    other = _data(rng, (2, 8, 8, 3), dtype)
    out = per_channel.transform(other)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, other - X.mean(axis=(0, 1, 2)), rtol=TOL[dtype],
                               atol=TOL[dtype] * 60)
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
    np.testing.assert_allclose(out, (X64 - X64.mean(0)) / X64.std(0), rtol=1e-4,
                               atol=TOL[dtype] * 10)
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


def _course_notes_pca(X, k, whiten, eps=1e-5):
    """Verbatim from the CS231n notes (plus whitening)."""
    X = X - np.mean(X, axis=0)
    cov = np.dot(X.T, X) / X.shape[0]
    U, S, V = np.linalg.svd(cov)
    Xrot = np.dot(X, U[:, :k])
    if whiten:
        Xrot = Xrot / np.sqrt(S[:k] + eps)
    return Xrot, S


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("whiten", [False, True])
def test_pca_matches_course_notes_up_to_sign(rng, dtype, whiten):
    X = (rng.standard_normal((200, 5)) @ rng.standard_normal((5, 5)) + 3.0).astype(dtype)
    pca = PCA(n_components=3, whiten=whiten).fit(X)
    out = pca.transform(X)
    assert out.dtype == dtype and out.shape == (200, 3)
    expected, S = _course_notes_pca(X.astype(np.float64), 3, whiten)
    signs = np.sign(np.sum(out * expected, axis=0))
    np.testing.assert_allclose(out * signs, expected, rtol=1e-3 if dtype == np.float32 else 1e-9,
                               atol=1e-4 if dtype == np.float32 else 1e-9)
    np.testing.assert_allclose(pca.explained_variance_, S[:3], rtol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio_, S[:3] / S.sum(), rtol=1e-10)
    cov = np.cov(out.astype(np.float64), rowvar=False, bias=True)
    if whiten:
        np.testing.assert_allclose(cov, np.eye(3), atol=1e-3)
    else:
        np.testing.assert_allclose(cov, np.diag(S[:3]), atol=1e-3 * S[0])


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


@pytest.mark.parametrize("bad, exc, match", [
    (np.zeros((0, 3)), ValueError, "no samples|shape"),
    (np.array([[1.0, np.nan]]), ValueError, "NaN"),
    (np.ones(5), ValueError, "reshape"),
    (np.array([["a"]]), TypeError, "dtype"),
])
def test_bad_fit_input_raises(bad, exc, match):
    for t in (ZeroCenter(), Standardize(), PCA()):
        with pytest.raises(exc, match=match):
            t.fit(bad)


def test_pca_parameter_validation(rng):
    X = rng.standard_normal((10, 3))
    for bad, exc in [(0, ValueError), (4, ValueError), (1.5, ValueError), (True, TypeError),
                     ("all", TypeError)]:
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


@pytest.mark.parametrize("make", [ZeroCenter, Standardize, PCA,
                                  lambda: Standardize(per_channel=True)])
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
    np.testing.assert_array_equal(st.var_, np.mean(np.square(X - mean, dtype=np.float64),
                                                   axis=axes))
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
    for bad, exc in [(0, ValueError), (4, ValueError), (1.5, ValueError), (True, TypeError),
                     ("all", TypeError), (float("nan"), ValueError)]:
        with pytest.raises(exc, match="n_components"):
            PCA(bad).fit(X)
