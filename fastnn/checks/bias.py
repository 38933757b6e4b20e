"""Argument checks of the bias kernels (fastnn.core and fastnn.reference)."""

import numpy as np

from fastnn._validation import FLOAT_DTYPES, as_float_array, same_float_arrays


def check_bias_forward_inputs(z, b):
    """z: a writeable float32/float64 ndarray (N, M), updated in place; b: (M,), returned in
    z's dtype."""
    if not isinstance(z, np.ndarray):
        raise TypeError(
            f"z must be a numpy.ndarray (it is updated in place), got {type(z).__name__}"
        )
    if z.dtype not in FLOAT_DTYPES:
        raise TypeError(f"z must be float32 or float64 (it is updated in place), got {z.dtype}")
    if z.ndim != 2:
        raise ValueError(f"z must be a 2-d (N, M) array, got shape {z.shape}")
    if not z.flags.writeable:
        raise ValueError("z is read-only (it is updated in place)")
    b = as_float_array(b, "b")
    if b.shape != (z.shape[1],):
        raise ValueError(
            f"b must have shape ({z.shape[1]},) for z of shape {z.shape}, got {b.shape}"
        )
    return z, b.astype(z.dtype, copy=False)


def check_bias_backward_input(dout):
    """dout as a float array (N, M)."""
    dout = as_float_array(dout, "dout")
    if dout.ndim != 2:
        raise ValueError(f"dout must be a 2-d (N, M) array, got shape {dout.shape}")
    return dout


def check_relu_bias_backward_inputs(dout, out):
    """dout and out (the ReLU's output) as float arrays of one shape (N, M) and one dtype."""
    already = (
        type(dout) is np.ndarray
        and type(out) is np.ndarray
        and dout.dtype in FLOAT_DTYPES
        and out.dtype == dout.dtype
        and out.shape == dout.shape
    )
    if not already:  # the general checks and conversions (they cost more than the kernel)
        dout, out = same_float_arrays((("dout", dout), ("out", out)))
    if dout.ndim != 2:
        raise ValueError(f"dout must be a 2-d (N, M) array, got shape {dout.shape}")
    return dout, out
