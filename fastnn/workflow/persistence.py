"""Saved models: one versioned ``.npz`` file that loads back into a model that predicts.

The file holds plain arrays only (it is read with ``np.load(allow_pickle=False)``, so loading
a file cannot run code):

- ``fastnn_model_format``: the format version (an int, :data:`FORMAT_VERSION`);
- ``kind``: ``"two_layer_net"`` (the lecture's dict from ``init_two_layer_model``) or
  ``"fully_connected_net"`` (:class:`~fastnn.FullyConnectedNet`);
- ``architecture``: JSON text, the constructor arguments of a FullyConnectedNet (``{}``
  for the dict model, whose shapes say everything);
- ``param/NAME``: every parameter; ``bn/I/running_mean`` and ``bn/I/running_var``: the
  running statistics (and ``eps`` when set) of normalization layer I (1-based);
- ``preprocess``: JSON text, the list of preprocessing steps (class name and constructor
  parameters), each step's fitted arrays under ``preprocess/I/NAME``;
- ``meta``: JSON text, free-form facts about the run (``fastnn_version`` is always added).
"""

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from fastnn._config.backend import ops
from fastnn._version import __version__
from fastnn.nn.models import FullyConnectedNet, two_layer_net
from fastnn.workflow import preprocessing
from fastnn.workflow.atomic import replacing

__all__ = ["FORMAT_VERSION", "ModelFileError", "SavedModel", "save_model", "load_model"]

FORMAT_VERSION = 1
VERSION_KEY = "fastnn_model_format"
TWO_LAYER_KEYS = ("W1", "b1", "W2", "b2")
PREPROCESSORS = {
    cls.__name__: cls
    for cls in (preprocessing.ZeroCenter, preprocessing.Standardize, preprocessing.PCA)
}


class ModelFileError(ValueError):
    """A file that is not a fastnn model: not an ``.npz``, another format version, keys
    missing or arrays that do not fit together.  The message is one line naming the file."""


# -- saving -----------------------------------------------------------------------------------


def _model_arrays(model):
    """(kind, architecture, arrays) of a model, or TypeError for anything else."""
    if isinstance(model, FullyConnectedNet):
        hidden = [int(model.params[f"b{i}"].shape[0]) for i in range(1, model.num_layers)]
        architecture = {
            "hidden_dims": hidden,
            "input_dim": int(model.params["W1"].shape[0]),
            "num_classes": int(model.params[f"b{model.num_layers}"].shape[0]),
            "activation": model.activation,
            "normalization": model.normalization,
            "dropout_keep_ratio": float(model.dropout_param.get("p", 1.0)),
            "reg": model.reg,
            "dtype": np.dtype(model.dtype).name,
            "maxout_pieces": model.maxout_pieces,
        }
        arrays = {f"param/{k}": np.asarray(v) for k, v in model.params.items()}
        for i, bn in enumerate(model.bn_params, start=1):
            for key in ("running_mean", "running_var", "eps"):
                if bn.get(key) is not None:
                    arrays[f"bn/{i}/{key}"] = np.asarray(bn[key])
        return "fully_connected_net", architecture, arrays
    if isinstance(model, Mapping) and sorted(model) == sorted(TWO_LAYER_KEYS):
        return "two_layer_net", {}, {f"param/{k}": np.asarray(model[k]) for k in TWO_LAYER_KEYS}
    raise TypeError(
        "save_model saves a fastnn.FullyConnectedNet or the dict of init_two_layer_model "
        f"(W1, b1, W2, b2), got {type(model).__name__}"
        + (f" with keys {', '.join(sorted(map(str, model)))}" if isinstance(model, Mapping) else "")
    )


def _preprocess_steps(preprocess):
    if preprocess is None:
        return []
    steps = list(preprocess) if isinstance(preprocess, Sequence) else [preprocess]
    for step in steps:
        if type(step).__name__ not in PREPROCESSORS or not isinstance(
            step, PREPROCESSORS[type(step).__name__]
        ):
            raise TypeError(
                "preprocess must be a fitted ZeroCenter, Standardize or PCA of "
                f"fastnn.preprocessing (or a list of them, applied in order), got {step!r}"
            )
    return steps


def save_model(
    path: str | os.PathLike,
    model: Any,
    *,
    preprocess: Any = None,
    meta: Mapping[str, Any] | None = None,
) -> str:
    """Save ``model`` and its preprocessing to one ``.npz`` file that :func:`load_model` reads.

    Parameters
    ----------
    path : str or path-like
        The file; NumPy appends ``.npz`` when the name lacks it.
    model : FullyConnectedNet or dict
        A :class:`~fastnn.FullyConnectedNet` (parameters and batchnorm running statistics)
        or the lecture's dict of :func:`~fastnn.init_two_layer_model` (W1, b1, W2, b2).
    preprocess : fitted ZeroCenter, Standardize or PCA, or a list of them, optional
        Applied in order to the raw input before the model (fit them on the training data).
    meta : mapping, optional
        JSON-serialisable facts about the run (epochs, lr, accuracy...); ``fastnn_version``
        is added unless present.

    Returns
    -------
    str
        The path written (with ``.npz``).
    """
    kind, architecture, arrays = _model_arrays(model)
    steps = _preprocess_steps(preprocess)
    described = []
    for i, step in enumerate(steps):
        described.append({"class": type(step).__name__, "params": step.get_params()})
        for name, value in step.fitted_arrays().items():
            arrays[f"preprocess/{i}/{name}"] = value
    meta = {"fastnn_version": __version__, **dict(meta or {})}
    arrays[VERSION_KEY] = np.array(FORMAT_VERSION)
    arrays["kind"] = np.array(kind)
    arrays["architecture"] = np.array(json.dumps(architecture))
    arrays["preprocess"] = np.array(json.dumps(described))
    try:
        arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"meta must be JSON-serialisable with finite numbers: {exc}") from None
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    with replacing(path) as tmp:  # a save cut short leaves no half-written model
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle
    return path


# -- loading ----------------------------------------------------------------------------------


class SavedModel:
    """A model read by :func:`load_model`: its preprocessing, then the network.

    Attributes
    ----------
    model : FullyConnectedNet or dict
        The network (the dict of the two-layer net of the notes).
    preprocess : list of fitted transformers, applied in order before the model.
    meta : dict
        What the saving run recorded (epochs, lr, accuracy, ``fastnn_version``...).
    format_version : int
    """

    def __init__(self, model, preprocess, meta, format_version=FORMAT_VERSION):
        self.model = model
        self.preprocess = list(preprocess)
        self.meta = dict(meta)
        self.format_version = format_version

    @property
    def input_dim(self) -> int:
        """Number of features of one raw input row."""
        if self.preprocess:
            return int(self.preprocess[0].n_features_in_)
        return int(self._params()["W1"].shape[0])

    @property
    def num_classes(self) -> int:
        """Number of classes (the width of the scores)."""
        layers = self.model.num_layers if isinstance(self.model, FullyConnectedNet) else 2
        return int(self._params()[f"b{layers}"].shape[0])

    def _params(self):
        return self.model.params if isinstance(self.model, FullyConnectedNet) else self.model

    def scores(self, X: ArrayLike) -> np.ndarray:
        """Class scores (N, C) of raw rows X (N, D): the saved preprocessing, then the model."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-d (N, {self.input_dim}), got shape {X.shape}")
        if X.shape[1] != self.input_dim:
            raise ValueError(f"X has {X.shape[1]} features but the model takes {self.input_dim}")
        for step in self.preprocess:
            X = step.transform(X)
        if isinstance(self.model, FullyConnectedNet):
            return cast(np.ndarray, self.model.loss(X))
        return cast(np.ndarray, two_layer_net(X, self.model))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class of each raw row of X (N, D): int array (N,)."""
        return np.argmax(self.scores(X), axis=1)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities (N, C) of raw rows X (N, D), in the model's float dtype."""
        return ops().softmax(self.scores(X))

    def __repr__(self):
        steps = ", ".join(type(s).__name__ for s in self.preprocess) or "none"
        return (
            f"SavedModel({type(self.model).__name__}, input_dim={self.input_dim}, "
            f"preprocess: {steps})"
        )


def _read_json(arrays, key, path):
    try:
        return json.loads(str(arrays[key][()]))
    except (ValueError, TypeError, IndexError) as exc:
        raise ModelFileError(f"{path}: the {key!r} entry is not valid JSON text ({exc})") from None


def _build_model(kind, architecture, arrays, path):
    params = {k[len("param/") :]: v for k, v in arrays.items() if k.startswith("param/")}
    for name, value in params.items():
        if value.dtype.kind != "f":
            raise ModelFileError(f"{path}: parameter {name} has dtype {value.dtype}, not float")
    if kind == "two_layer_net":
        missing = [k for k in TWO_LAYER_KEYS if k not in params]
        if missing:
            raise ModelFileError(f"{path}: the two-layer model lacks {', '.join(missing)}")
        W1, b1, W2, b2 = (params[k] for k in TWO_LAYER_KEYS)
        fits = W1.ndim == W2.ndim == 2 and W2.shape[0] == W1.shape[1]
        if not (fits and b1.shape == (W1.shape[1],) and b2.shape == (W2.shape[1],)):
            raise ModelFileError(f"{path}: the two-layer model's shapes do not fit together")
        return {k: params[k] for k in TWO_LAYER_KEYS}
    if kind != "fully_connected_net":
        raise ModelFileError(f"{path}: unknown model kind {kind!r}")
    try:
        net = FullyConnectedNet(**architecture, seed=0)  # weights replaced below
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: bad architecture {architecture}: {exc}") from None
    for name, expected in net.params.items():
        if name not in params:
            raise ModelFileError(f"{path}: parameter {name} is missing")
        if params[name].shape != expected.shape:
            raise ModelFileError(
                f"{path}: parameter {name} has shape {params[name].shape}, "
                f"the architecture needs {expected.shape}"
            )
        net.params[name] = params[name].astype(net.dtype)
    for i, bn in enumerate(net.bn_params, start=1):
        for key in ("running_mean", "running_var"):
            value = arrays.get(f"bn/{i}/{key}")
            if value is not None:
                bn[key] = value.astype(net.dtype)
        eps = arrays.get(f"bn/{i}/eps")
        if eps is not None:
            bn["eps"] = float(eps)
    return net


def _build_preprocess(described, arrays, path):
    steps = []
    for i, step in enumerate(described):
        cls = PREPROCESSORS.get(step.get("class")) if isinstance(step, dict) else None
        if cls is None:
            raise ModelFileError(f"{path}: unknown preprocessing step {step!r}")
        prefix = f"preprocess/{i}/"
        state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        try:
            steps.append(cls.from_fitted_arrays(state, **step.get("params", {})))
        except (TypeError, ValueError) as exc:
            raise ModelFileError(
                f"{path}: preprocessing step {i} ({cls.__name__}): {exc}"
            ) from None
    return steps


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read a model written by :func:`save_model` (or by ``fastnn train/search/demo``).

    Returns
    -------
    SavedModel
        ``predict(X)`` and ``predict_proba(X)`` take raw rows: the saved preprocessing is
        applied first.

    Raises
    ------
    ModelFileError
        (a ValueError) when the file is not an ``.npz``, has another format version or lacks
        entries; FileNotFoundError when it does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a fastnn model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable fastnn model file (.npz): {exc}") from None
    if VERSION_KEY not in arrays:
        raise ModelFileError(
            f"{path}: not a fastnn model file (no {VERSION_KEY!r} entry: it was not written "
            "by fastnn.save_model)"
        )
    try:
        version = int(arrays[VERSION_KEY])
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: the format version is not an integer") from None
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version}, this fastnn {__version__} reads "
            f"version {FORMAT_VERSION}"
        )
    for key in ("kind", "architecture", "preprocess", "meta"):
        if key not in arrays:
            raise ModelFileError(f"{path}: the {key!r} entry is missing")
    kind = str(arrays["kind"][()])
    model = _build_model(kind, _read_json(arrays, "architecture", path), arrays, path)
    steps = _build_preprocess(_read_json(arrays, "preprocess", path), arrays, path)
    meta = _read_json(arrays, "meta", path)
    return SavedModel(model, steps, meta if isinstance(meta, dict) else {}, version)
