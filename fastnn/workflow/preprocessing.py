"""Data preprocessing (lecture notes, section 3): zero-centering, standardization, PCA, whitening.

The implementation behind the public namespace ``fastnn.preprocessing``, which documents it.
"""

import inspect
import numbers

import numpy as np

from fastnn._validation import as_float_array, check_scalar

__all__ = ["NotFittedError", "ZeroCenter", "Standardize", "PCA"]


class NotFittedError(ValueError, AttributeError):
    """A transformer was used before ``fit`` (a ValueError and an AttributeError, as in sklearn)."""


class _Transformer:
    """Shared plumbing: parameters, fitted-state and input checks, fit_transform, repr."""

    def fit(self, X, y=None):
        """Learn the statistics from ``X``; returns self (each transformer defines it)."""
        raise NotImplementedError

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self"]

    def get_params(self, deep=True):
        """Constructor parameters as a dict (``deep`` is accepted for sklearn compatibility)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor parameters; unknown names raise ValueError. Returns self."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; "
                    f"valid parameters: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    # Fitted attributes that :meth:`fitted_arrays` saves; integers and shapes as int arrays.
    _fitted_names: tuple[str, ...] = ()

    def fitted_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as arrays keyed by attribute name (``mean_``...), for saving
        (``fastnn.save_model``); :meth:`from_fitted_arrays` rebuilds the transformer."""
        self._check_fitted()
        return {name: np.asarray(getattr(self, name)) for name in self._fitted_names}

    @classmethod
    def from_fitted_arrays(cls, arrays, **params):
        """A fitted transformer from :meth:`fitted_arrays`' output and constructor ``params``.

        Raises ValueError when an array is missing or the shapes disagree.
        """
        missing = [name for name in cls._fitted_names if name not in arrays]
        if missing:
            raise ValueError(f"{cls.__name__} state lacks {', '.join(missing)}")
        self = cls(**params)
        for name in cls._fitted_names:
            array = np.asarray(arrays[name])
            value: object = array.astype(np.float64)
            if array.dtype.kind in "iu":
                value = tuple(int(v) for v in array) if array.ndim else int(array)
            setattr(self, name, value)
        self._check_fitted_shapes()
        return self

    def _check_fitted_shapes(self):
        """Raise ValueError when rebuilt fitted attributes disagree (each transformer's rule)."""

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def _check_fitted(self):
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(X_train) before "
                "transform (fit on the training data only, then transform validation/test data)"
            )

    @staticmethod
    def _as_data(X, min_ndim=2, what="X"):
        X = as_float_array(X, what)
        if X.ndim < min_ndim:
            raise ValueError(
                f"{what} must have at least {min_ndim} dimensions (N, D...) with samples along "
                f"axis 0, got shape {X.shape}"
                + ("; use X.reshape(-1, 1) for a single feature" if X.ndim == 1 else "")
            )
        return X

    @staticmethod
    def _check_finite(X, what="X"):
        if X.size and not np.isfinite(X).all():
            raise ValueError(f"{what} contains NaN or infinity")


class _Centering(_Transformer):
    """Mean (and optionally scale) per feature, or per channel for (N, ..., C) images."""

    per_channel: bool
    _fitted_names: tuple[str, ...] = (
        "mean_",
        "n_features_in_",
        "feature_shape_",
        "n_samples_seen_",
    )

    def _check_fitted_shapes(self):
        shape = tuple(self.feature_shape_)
        for name in self._fitted_names:
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, expected {shape}")
        if self.n_features_in_ != int(np.prod(shape)):
            raise ValueError(f"n_features_in_ {self.n_features_in_} does not match {shape}")

    def _reduce_axes(self, X):
        return tuple(range(X.ndim - 1)) if self.per_channel else (0,)

    def _stats_shape(self, X):
        return X.shape[-1:] if self.per_channel else X.shape[1:]

    def _fit_mean(self, X, y):
        X = self._as_data(X)
        if X.shape[0] == 0:
            raise ValueError(f"cannot fit {type(self).__name__} on X with no samples (N = 0)")
        self._check_finite(X)
        axes = self._reduce_axes(X)
        mean = X.mean(axis=axes, dtype=np.float64)
        # Two-pass variance: subtracting the mean first avoids E[x^2] - E[x]^2 cancellation.
        # One float64 temporary (mean is float64), squared in place.
        d = X - mean
        var = np.mean(np.square(d, out=d), axis=axes)
        self.n_features_in_ = int(np.prod(self._stats_shape(X)))
        self.feature_shape_ = tuple(self._stats_shape(X))
        self.n_samples_seen_ = int(np.prod([X.shape[a] for a in axes]))
        return mean, var

    def _check_X(self, X, what="X"):
        self._check_fitted()
        X = self._as_data(X, what=what)
        if tuple(self._stats_shape(X)) != self.feature_shape_:
            where = "channels (last axis)" if self.per_channel else "features (X.shape[1:])"
            raise ValueError(
                f"{what} has {where} of shape {tuple(self._stats_shape(X))} but "
                f"{type(self).__name__} was fitted on shape {self.feature_shape_}"
            )
        return X


class ZeroCenter(_Centering):
    """Subtract the training mean: per feature, or per channel for images.

    Parameters
    ----------
    per_channel : bool, default False
        False: one mean per feature, ``mean_`` has shape ``X.shape[1:]`` (for images of shape
        (N, H, W, C) this is the CS231n "mean image"). True: one mean per channel (last axis)
        over all other axes, ``mean_`` of shape (C,) (the VGG-style per-channel mean).

    Attributes
    ----------
    mean_ : float64 ndarray
    n_features_in_ : int
        Number of statistics (features or channels).
    feature_shape_ : tuple
    n_samples_seen_ : int
        Number of values averaged into each statistic.
    """

    def __init__(self, per_channel: bool = False) -> None:
        self.per_channel = per_channel

    def fit(self, X: np.ndarray, y: object = None) -> "ZeroCenter":
        """Learn the mean of X (N, ...) float32/float64. Returns self."""
        self.mean_, _ = self._fit_mean(X, y)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X - mean_``, same shape and float dtype as X (a new array)."""
        X = self._check_X(X)
        return X - self.mean_.astype(X.dtype)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """``X + mean_``, undoing :meth:`transform`."""
        X = self._check_X(X)
        return X + self.mean_.astype(X.dtype)


class Standardize(_Centering):
    """Zero mean and unit variance per feature (or per channel): ``(X - mean_) / scale_``.

    A constant feature (zero variance, up to rounding) gets ``scale_ = 1`` instead of dividing
    by zero, so it maps to 0 (scikit-learn's StandardScaler does the same).

    Parameters
    ----------
    per_channel : bool, default False
        As in :class:`ZeroCenter`.

    Attributes
    ----------
    mean_, var_, scale_ : float64 ndarrays of shape ``feature_shape_``
        Population variance (divided by N) and the standard deviation used for scaling.
    n_features_in_, feature_shape_, n_samples_seen_ : as in :class:`ZeroCenter`.
    """

    _fitted_names = _Centering._fitted_names + ("var_", "scale_")

    def __init__(self, per_channel: bool = False) -> None:
        self.per_channel = per_channel

    def fit(self, X: np.ndarray, y: object = None) -> "Standardize":
        """Learn mean and standard deviation of X (N, ...). Returns self."""
        self.mean_, self.var_ = self._fit_mean(X, y)
        std = np.sqrt(self.var_)
        # A constant column's two-pass std is exactly 0 or a few ulps of its mean.
        constant = std <= 10 * np.finfo(np.float64).eps * np.abs(self.mean_)
        self.scale_ = np.where(constant, 1.0, std)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_) / scale_``, same shape and float dtype as X."""
        X = self._check_X(X)
        out = X - self.mean_.astype(X.dtype)
        out /= self.scale_.astype(X.dtype)
        return out

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """``X * scale_ + mean_``, undoing :meth:`transform`."""
        X = self._check_X(X)
        out = X * self.scale_.astype(X.dtype)
        out += self.mean_.astype(X.dtype)
        return out


class PCA(_Transformer):
    """PCA and whitening in the course notes' form.

    ``fit`` centres X, forms the covariance ``cov = Xc.T @ Xc / N`` (D, D) and takes its SVD
    ``U, S, _ = svd(cov)``; ``transform`` projects onto the first ``k`` columns of U
    (``Xrot = Xc @ U[:, :k]``) and, with ``whiten=True``, divides by ``sqrt(S[:k] + eps)``.

    Parameters
    ----------
    n_components : int, float in (0, 1) or None, default None
        Number of components k; a float keeps the fewest components whose explained variance
        ratio sums to at least that fraction; None keeps all D.
    whiten : bool, default False
    eps : float, default 1e-5
        Added to the variances before the square root when whitening (the notes' 1e-5),
        which also keeps whitening invertible for zero-variance directions.

    Attributes
    ----------
    mean_ : (D,) float64
    components_ : (k, D) float64
        Principal axes (rows), the columns ``U[:, :k]`` transposed, signs fixed so that the
        largest-magnitude entry of each axis is positive (the SVD's sign is arbitrary).
    explained_variance_ : (k,) float64
        Eigenvalues S[:k] of the covariance (variance along each axis).
    explained_variance_ratio_ : (k,) float64
        S[:k] / sum(S).
    n_components_ : int
    n_features_in_ : int
    """

    _fitted_names = (
        "mean_",
        "components_",
        "explained_variance_",
        "explained_variance_ratio_",
        "n_components_",
        "n_features_in_",
    )

    def __init__(
        self,
        n_components: int | float | None = None,
        whiten: bool = False,
        eps: float = 1e-5,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.eps = eps

    def _check_components(self, d):
        """n_components must be None, an int in [1, d] or a float in (0, 1) (before the SVD)."""
        k = self.n_components
        if k is None:
            return
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Real):
            raise TypeError(f"n_components must be an int, a float in (0, 1) or None, got {k!r}")
        if isinstance(k, numbers.Integral):
            if not 1 <= int(k) <= d:
                raise ValueError(f"n_components={k} must be between 1 and the {d} features")
        elif not 0.0 < float(k) < 1.0:
            raise ValueError(f"a float n_components is a variance fraction in (0, 1), got {k}")

    def _resolve_components(self, S, d):
        k = self.n_components
        if k is None:
            return d
        if isinstance(k, numbers.Integral):
            return int(k)
        total = S.sum()
        if total <= 0:
            return 1
        ratio = np.cumsum(S) / total
        return int(min(np.searchsorted(ratio, k) + 1, d))

    def fit(self, X: np.ndarray, y: object = None) -> "PCA":
        """Fit on X (N, D) float32/float64 with N >= 1. Returns self."""
        X = self._as_data(X)
        if X.ndim != 2:
            raise ValueError(
                f"PCA needs 2-d X (N, D), got shape {X.shape}; "
                "flatten images with X.reshape(len(X), -1)"
            )
        n, d = X.shape
        if n == 0 or d == 0:
            raise ValueError(f"cannot fit PCA on X of shape {X.shape}")
        self._eps = check_scalar(self.eps, "eps", minimum=0)
        self._check_components(d)
        self._check_finite(X)
        mean = X.mean(axis=0, dtype=np.float64)
        Xc = X - mean  # float64 (mean is): the only copy of X
        cov = Xc.T @ Xc / n
        U, S, _ = np.linalg.svd(cov)
        # svd_flip: make the largest-magnitude entry of each axis positive (deterministic signs).
        signs = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(d)])
        signs[signs == 0] = 1.0
        U *= signs
        k = self._resolve_components(S, d)
        self.mean_ = mean
        self.components_ = U[:, :k].T.copy()
        self.explained_variance_ = S[:k].copy()
        total = S.sum()
        self.explained_variance_ratio_ = S[:k] / total if total > 0 else np.zeros(k)
        self.n_components_ = k
        self.n_features_in_ = d
        return self

    def _check_fitted_shapes(self):
        self._eps = check_scalar(self.eps, "eps", minimum=0)
        k, d = self.n_components_, self.n_features_in_
        shapes = {
            "mean_": (d,),
            "components_": (k, d),
            "explained_variance_": (k,),
            "explained_variance_ratio_": (k,),
        }
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")

    def _scale(self):
        return np.sqrt(self.explained_variance_ + self._eps)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project X (M, D) onto the principal axes: (M, k) in X's float dtype."""
        self._check_fitted()
        X = self._as_data(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has shape {X.shape} but PCA was fitted on {self.n_features_in_} features "
                f"(expected (M, {self.n_features_in_}))"
            )
        Xrot = (X - self.mean_.astype(X.dtype)) @ self.components_.T.astype(X.dtype)
        if self.whiten:
            Xrot /= self._scale().astype(X.dtype)
        return Xrot

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Map (M, k) components back to (M, D); exact when k = D, else the projection."""
        self._check_fitted()
        X = self._as_data(X)
        if X.ndim != 2 or X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has shape {X.shape} but this PCA has {self.n_components_} components "
                f"(expected (M, {self.n_components_}))"
            )
        if self.whiten:
            X = X * self._scale().astype(X.dtype)
        out = X @ self.components_.astype(X.dtype)
        out += self.mean_.astype(X.dtype)
        return out
