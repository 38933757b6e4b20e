"""Input checks shared by the compiled wrappers and the reference twins.

Both paths call the same checks so that they raise the same exceptions on bad input
(the tests require "both raise or neither").
"""

import math
import operator
import os
import sys
import warnings

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name="x"):
    """Return ``x`` as a float32/float64 ndarray (no copy when it already is one).

    Integer and bool inputs become float64 and float16 becomes float32, like NumPy's
    ufuncs promote them; byte-swapped data is converted to native order; complex, object,
    string and other dtypes raise TypeError.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if arr.dtype in FLOAT_DTYPES:
        return arr
    if not arr.dtype.isnative:  # byte-swapped data (e.g. read from a big-endian file)
        arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype in FLOAT_DTYPES:
            return arr
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        if arr.dtype.itemsize < 4:
            return arr.astype(np.float32)
        raise TypeError(f"{name} has unsupported dtype {arr.dtype}; use float32 or float64")
    raise TypeError(
        f"{name} must be a real numeric array (float32 or float64), got dtype {arr.dtype}"
    )


def check_dout(dout, shape):
    """``dout`` as a float array (:func:`as_float_array`) of the forward's output ``shape``;
    ValueError naming both shapes otherwise."""
    dout = as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(f"dout has shape {dout.shape}, expected {tuple(shape)}")
    return dout


def check_scale_shift(gamma, beta, d, dtype):
    """A normalization's gamma and beta: (d,) arrays, returned in ``dtype``."""
    gamma = as_float_array(gamma, "gamma").astype(dtype, copy=False)
    beta = as_float_array(beta, "beta").astype(dtype, copy=False)
    if gamma.shape != (d,):
        raise ValueError(f"gamma must have shape ({d},), got {gamma.shape}")
    if beta.shape != (d,):
        raise ValueError(f"beta must have shape ({d},), got {beta.shape}")
    return gamma, beta


def same_float_arrays(names_and_values):
    """Coerce several arrays and check that they share one dtype and one shape.

    ``names_and_values`` is a sequence of ``(name, value)`` pairs; returns the arrays.
    """
    arrays = [as_float_array(v, n) for n, v in names_and_values]
    first_name, first = names_and_values[0][0], arrays[0]
    for (name, _), arr in zip(names_and_values[1:], arrays[1:]):
        if arr.shape != first.shape:
            raise ValueError(
                f"{name} has shape {arr.shape} but {first_name} has shape {first.shape}"
            )
    dtype = np.result_type(*arrays)
    return [a if a.dtype == dtype else a.astype(dtype) for a in arrays]


def check_float_dtype(dtype, name="dtype"):
    """``np.dtype(dtype)`` when it is float32 or float64, else TypeError naming ``name``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def check_out(out, shape, dtype, name="out"):
    """Validate a caller-supplied output array: an ndarray of exactly ``shape`` and ``dtype``."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    return out


def check_int(value, name, minimum=1):
    """``value`` as a Python int (sizes, counts, steps).

    TypeError for non-integers and for bools (``True`` is not a size); ValueError below
    ``minimum`` (None: no bound).  The message names the argument.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not a bool, got {value!r}")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    return result


def check_scalar(value, name, minimum=None, maximum=None, below=None):
    """A finite Python float from a real scalar (for alpha, eps, momentum...).

    TypeError for a non-number; ValueError when not finite, below ``minimum``, above
    ``maximum`` or not below ``below`` (each if given).
    """
    if isinstance(value, (str, bytes)):  # float("0.1") would accept text
        raise TypeError(f"{name} must be a real number, not a string, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(result):  # math, not NumPy: this runs on every kernel call
        raise ValueError(f"{name} must be finite, got {result}")
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {result}")
    if below is not None and result >= below:
        raise ValueError(f"{name} must be < {below}, got {result}")
    return result


def check_param(p, name="p"):
    """A parameter updated in place: a writeable float32/float64 ndarray."""
    if not isinstance(p, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray (it is updated in place), got {type(p).__name__}"
        )
    if p.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {p.dtype}")
    if not p.flags.writeable:
        raise ValueError(f"{name} is read-only")


def check_update(p, g, states=()):
    """Check p, its gradient and its state arrays (``(name, array)`` pairs); returns g."""
    check_param(p)
    g = np.asarray(g)
    if g.shape != p.shape:
        raise ValueError(f"g has shape {g.shape} but p has shape {p.shape}")
    if g.dtype != p.dtype:
        raise TypeError(f"g has dtype {g.dtype} but p has dtype {p.dtype}")
    for name, s in states:
        check_param(s, name)
        if s.shape != p.shape:
            raise ValueError(f"{name} has shape {s.shape} but p has shape {p.shape}")
        if s.dtype != p.dtype:
            raise TypeError(f"{name} has dtype {s.dtype} but p has dtype {p.dtype}")
    return g


def check_scores(x, name="x", allow_empty=False):
    """Scores of shape (N, C) with N >= 1 (N >= 0 with ``allow_empty``: softmax of no rows is
    no rows, only a mean loss needs one) and C >= 1, as float32/float64."""
    x = as_float_array(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-d (N, C), got shape {x.shape}")
    if x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} has no rows (N = 0): the mean loss is undefined")
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no classes (C = 0)")
    return x


def check_labels(y, n, num_classes, name="y"):
    """Integer labels of shape (n,) with 0 <= y[i] < num_classes, as an intp array.

    Raises ValueError naming the first bad index and value (non-integer, negative, too large).
    """
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the scores, got {y.shape}")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.floor(y)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}[{i}] = {y[i].item()!r} is not an integer label")
    elif y.dtype.kind == "b":
        y = y.astype(np.intp)
    elif y.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer labels, got dtype {y.dtype}")
    # range check on the original values: a cast first would wrap huge uint64/float labels
    bad = np.flatnonzero((y < 0) | (y >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}[{i}] = {int(y[i])} is out of range: labels must be in [0, {num_classes})"
        )
    return y.astype(np.intp, copy=False)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_caller(message, category):
    """warnings.warn pointing at the first frame outside fastnn: the user's line, however
    deep inside the package (layers, models, the compiled or the NumPy path) it arose."""
    level, frame = 2, sys._getframe(1)  # level 1 is this function
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
