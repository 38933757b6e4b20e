"""Argument checks of dropout and the key of its mask (fastnn.core and fastnn.reference).

Both paths take the mask's key from :func:`dropout_key`, so for one ``dropout_param`` (and
one state of NumPy's global generator) they drop the same elements.
"""

import numpy as np

from fastnn._validation import as_float_array, check_int, check_scalar

# Element i is kept when its 32-bit random word is below round(p * 2**32).
WORD_RANGE = 1 << 32


def check_dropout_param(dropout_param):
    """Validate ``dropout_param``: returns (mode, p).

    mode 'train' or 'test' (required); p the keep probability in (0, 1] (required).
    """
    if not isinstance(dropout_param, dict):
        raise TypeError(f"dropout_param must be a dict, got {type(dropout_param).__name__}")
    if "mode" not in dropout_param:
        raise ValueError("dropout_param needs a 'mode' entry: 'train' or 'test'")
    mode = dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f"dropout_param['mode'] must be 'train' or 'test', got {mode!r}")
    if "p" not in dropout_param:
        raise ValueError("dropout_param needs a 'p' entry: the keep probability in (0, 1]")
    p = check_scalar(dropout_param["p"], "p")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"dropout_param['p'] is the keep probability, in (0, 1]; got {p}")
    return mode, p


def check_dropout_inputs(x, dropout_param):
    """Validate a dropout forward call: returns (x as float32/float64, mode, p)."""
    mode, p = check_dropout_param(dropout_param)
    return as_float_array(x, "x"), mode, p


def dropout_key(dropout_param):
    """The mask's 64-bit key: ``dropout_param['seed']`` (an integer in [0, 2**64)) when
    present and not None, else a fresh draw from NumPy's global generator (``np.random``, the
    legacy RandomState that ``np.random.seed`` seeds, as the course's code uses)."""
    seed = dropout_param.get("seed")
    if seed is None:
        # the course seeds np.random: its legacy global state is the documented source
        return int(np.random.randint(0, 1 << 64, dtype=np.uint64))  # noqa: NPY002
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 1 << 64:
        raise ValueError(f"dropout_param['seed'] must be below 2**64, got {seed}")
    return seed


def keep_threshold(p):
    """Element i is kept when its 32-bit word is below this (2**32 for p = 1: always)."""
    return min(round(p * WORD_RANGE), WORD_RANGE)
