"""``fastnn predict MODEL DATA``: labels (or probabilities) of a saved model for new rows."""

import os
import sys

import numpy as np

from fastnn.cli.common import CLIError, say
from fastnn.workflow.atomic import replacing
from fastnn.workflow.persistence import ModelFileError, load_model

DATA_SUFFIXES = (".npy", ".csv")


def _suffix(path, what):
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in DATA_SUFFIXES:
        raise CLIError(f"{what} {path} must end in .npy or .csv")
    return suffix


def read_rows(path):
    """The (N, D) rows of a ``.npy`` file or a comma-separated ``.csv`` file (no header)."""
    suffix = _suffix(path, "DATA")
    if not os.path.isfile(path):
        raise CLIError(f"data file not found: {path}")
    try:
        if suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        else:
            X = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if X.ndim == 1 and suffix == ".npy":
        X = X.reshape(1, -1)  # one row
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise CLIError(f"{path} must hold a 2-d numeric array (N, D), got {X.dtype} {X.shape}")
    return X


def write_output(path, values):
    """Save labels (N,) or probabilities (N, C) to ``.npy`` or ``.csv``."""
    suffix = _suffix(path, "--out")
    try:
        # whole or not at all; a file object, so that np.save keeps a .NPY name as it is
        with replacing(path) as tmp, open(tmp, "wb") as f:
            if suffix == ".npy":
                np.save(f, values)
            else:
                fmt = "%d" if values.dtype.kind in "iu" else "%.9g"
                np.savetxt(f, values, delimiter=",", fmt=fmt)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_predict(args):
    if args.out is not None:
        _suffix(args.out, "--out")  # before any work
    try:
        model = load_model(args.model)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {args.model}") from None
    except ModelFileError as exc:
        raise CLIError(str(exc)) from None
    X = read_rows(args.data)
    try:
        values = model.predict_proba(X) if args.proba else model.predict(X)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{args.data}: {exc}") from None
    if args.out is not None:
        write_output(args.out, values)
        say(f"{len(values)} predictions saved to {args.out}")
    elif args.proba:
        np.savetxt(sys.stdout, values, delimiter=",", fmt="%.6f")
    else:
        sys.stdout.write("".join(f"{label}\n" for label in values.tolist()))
    sys.stdout.flush()
    return 0
