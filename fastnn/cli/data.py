"""The commands' data: digits or CIFAR-10 split into train/val/test, zero-centered."""

import os
from typing import Any

import numpy as np

from fastnn.cli.common import CLIError
from fastnn.workflow import datasets
from fastnn.workflow.preprocessing import ZeroCenter


def load_data(spec, seed=0, val_fraction=0.15, test_fraction=0.15, dtype="float32"):
    """Train/val/test arrays for ``("digits", None)`` or ``("cifar10", folder)``, flattened rows.

    Digits: shuffled split (``test_fraction`` test, ``val_fraction`` validation).  CIFAR-10:
    its own test batch, 1000 validation rows taken from the training batches.
    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (``dtype`` rows),
    ``name`` and ``n_classes``.  A missing or unreadable CIFAR-10 folder is a CLIError.
    """
    kind, path = spec
    if kind == "digits":
        X, y = datasets.load_digits(dtype=dtype)
        X_rest, X_test, y_rest, y_test = datasets.train_val_split(X, y, test_fraction, seed=seed)
        X_train, X_val, y_train, y_val = datasets.train_val_split(
            X_rest, y_rest, val_fraction / (1 - test_fraction), seed=seed + 1
        )
        name = "digits (8x8 handwritten digits, UCI)"
    else:
        if not os.path.isdir(path):
            raise CLIError(
                f"CIFAR-10 folder not found: {path} (download the python version from "
                "https://www.cs.toronto.edu/~kriz/cifar.html and extract it; the folder must "
                "hold data_batch_1..5 and test_batch)"
            )
        try:
            X_full, y_full, X_test, y_test = datasets.load_cifar10(path, dtype=dtype, flatten=True)
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot read CIFAR-10 from {path}: {exc}") from None
        X_train, X_val, y_train, y_val = datasets.train_val_split(
            X_full, y_full, min(1000, len(y_full) // 10), seed=seed
        )
        name = f"CIFAR-10 ({path})"
    out: dict[str, Any] = {"name": name}
    for key, value in (("X_train", X_train), ("X_val", X_val), ("X_test", X_test)):
        out[key] = np.ascontiguousarray(value.reshape(value.shape[0], -1), dtype=dtype)
    for key, value in (("y_train", y_train), ("y_val", y_val), ("y_test", y_test)):
        out[key] = np.asarray(value, dtype=np.intp)
    out["n_classes"] = int(max(out["y_train"].max(), out["y_test"].max()) + 1)
    return out


def zero_center(data):
    """Fit ZeroCenter on the training rows and apply it to all three sets (the notes, §3);
    the fitted transformer is ``data["center"]``, its mean ``data["mean"]``."""
    zc = ZeroCenter().fit(data["X_train"])
    data = dict(data)
    for key in ("X_train", "X_val", "X_test"):
        data[key] = zc.transform(data[key])
    data["mean"] = zc.mean_
    data["center"] = zc
    return data
