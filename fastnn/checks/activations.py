"""Argument checks of maxout and maxout_backward (fastnn.core and fastnn.reference)."""

import numpy as np

from fastnn._validation import as_float_array, check_int


def check_maxout_input(z):
    """z as a float array with a last axis of k >= 1 pieces; returns (z, k)."""
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError("z must have a last axis of pieces, shape (..., k); got a 0-d array")
    if z.shape[-1] == 0:
        raise ValueError(f"z has shape {z.shape}: the last axis (k pieces) is empty")
    return z, z.shape[-1]


def check_maxout_backward_input(dout, argmax, k):
    """Validate maxout_backward's arguments; returns (dout, argmax as intp, k)."""
    dout = as_float_array(dout, "dout")
    k = check_int(k, "k")
    argmax = np.asarray(argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"argmax must hold integer indices, got dtype {argmax.dtype}")
    if argmax.shape != dout.shape:
        raise ValueError(f"argmax has shape {argmax.shape} but dout has shape {dout.shape}")
    bad = np.flatnonzero((argmax < 0) | (argmax >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"argmax.flat[{i}] = {int(argmax.flat[i])} is out of range [0, {k})")
    return dout, argmax.astype(np.intp, copy=False), k
