"""Data sets: the 8x8 handwritten digits shipped in the package, CIFAR-10 from its python batches,
and a train/validation split.

The implementation behind the public namespace ``fastnn.datasets``, which documents it.
"""

import functools
import gzip
import os
import pickle
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn._validation import check_float_dtype
from fastnn.nn.init import as_generator

__all__ = ["load_digits", "load_cifar10", "train_val_split"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_DIR = "cifar-10-batches-py"


@functools.lru_cache(maxsize=1)
def _digits_table():
    with resources.files("fastnn.data").joinpath("digits.csv.gz").open("rb") as raw:
        with gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    table.setflags(write=False)
    return table


def load_digits(
    dtype: DTypeLike = np.float32,
    images: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The UCI optical handwritten digits (test set), 1797 8x8 images of digits 0-9.

    Shipped with fastnn (``fastnn/data/digits.csv.gz``, CC BY 4.0, E. Alpaydin and
    C. Kaynak; see ``fastnn/data/DIGITS_LICENSE.txt``); no download, no extra dependency.

    Returns (X, y): X (1797, 64) (or (1797, 8, 8) with images=True) of pixel counts 0..16
    in ``dtype`` (not centred or scaled), y (1797,) int64 labels.  New arrays on every call.
    """
    table = _digits_table()
    X = table[:, :64].astype(check_float_dtype(dtype))
    y = table[:, 64].astype(np.int64)
    if images:
        X = X.reshape(-1, 8, 8)
    return X, y


def _load_batch(path):
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (KeyError, TypeError):
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch (no b'data' / b'labels')"
        ) from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise ValueError(
            f"{path}: expected data (N, 3072) and labels (N,), got {data.shape} and {labels.shape}"
        )
    return data, labels


def load_cifar10(
    root: str | os.PathLike[str],
    dtype: DTypeLike = np.float32,
    flatten: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 from the standard python batches, as CS231n's ``load_CIFAR10``.

    root: the ``cifar-10-batches-py`` folder (holding ``data_batch_1`` ... ``data_batch_5``
    and ``test_batch``) or its parent.  Get it from https://www.cs.toronto.edu/~kriz/cifar.html
    ("CIFAR-10 python version") and extract it.  The batches are pickles: load only files
    you trust.

    Returns (X_train, y_train, X_test, y_test): X of shape (N, 32, 32, 3) (or (N, 3072) in
    the same channel-last order with flatten=True) with pixel values 0..255 in ``dtype``,
    y int64 labels 0..9.
    """
    root = os.fspath(root)
    folder = root
    if not os.path.isfile(os.path.join(folder, "test_batch")):
        folder = os.path.join(root, CIFAR10_DIR)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 python batches not found in {root!r} (missing {', '.join(missing)}). "
            f"Download 'CIFAR-10 python version' (cifar-10-python.tar.gz) from {CIFAR10_URL}, "
            f"extract it and pass the {CIFAR10_DIR} folder (or its parent) as root."
        )
    dt = check_float_dtype(dtype)

    def convert(parts):
        data = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        X = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(dt)
        return (X.reshape(X.shape[0], -1) if flatten else X), labels

    X_train, y_train = convert([_load_batch(os.path.join(folder, n)) for n in names[:5]])
    X_test, y_test = convert([_load_batch(os.path.join(folder, "test_batch"))])
    return X_train, y_train, X_test, y_test


def train_val_split(
    X: ArrayLike,
    y: ArrayLike,
    val_size: float | int = 0.2,
    shuffle: bool = True,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
    seed: np.random.Generator | np.random.SeedSequence | int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split (X, y) into training and validation parts.

    val_size: number of validation rows (int) or fraction of rows (float in (0, 1)).
    shuffle: draw the validation rows at random (rng/seed make it reproducible);
    otherwise the last rows are the validation set.
    Returns (X_train, X_val, y_train, y_val).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    n = X.shape[0] if X.ndim else 0
    if y.shape[:1] != (n,):
        raise ValueError(f"X has {n} rows but y has shape {y.shape}")
    if isinstance(val_size, bool):
        raise TypeError("val_size must be an int or a float")
    if isinstance(val_size, (int, np.integer)):
        n_val = int(val_size)
    elif isinstance(val_size, (float, np.floating)) and 0.0 < val_size < 1.0:
        n_val = int(round(val_size * n))
    else:
        raise ValueError(f"val_size must be an int or a float in (0, 1), got {val_size!r}")
    if not 0 < n_val < n:
        raise ValueError(
            f"val_size gives {n_val} validation rows out of {n}: need at least one row on each side"
        )
    if shuffle:
        order = as_generator(rng, seed).permutation(n)
        train_idx, val_idx = np.sort(order[n_val:]), np.sort(order[:n_val])
        return X[train_idx], X[val_idx], y[train_idx], y[val_idx]
    return X[: n - n_val], X[n - n_val :], y[: n - n_val], y[n - n_val :]
