"""NumPy reference activations (twins of fastnn.core.activations)."""

import numpy as np

from fastnn._validation import as_float_array, check_out, same_float_arrays

__all__ = ["relu", "relu_backward"]


def _finish(result, out):
    """Copy ``result`` into ``out`` when given (after validating it); return the output array."""
    result = np.asarray(result)
    if out is None:
        return result
    check_out(out, result.shape, result.dtype)
    out[...] = result
    return out


def relu(x, out=None):
    """max(x, 0) element-wise; NaN propagates."""
    x = as_float_array(x)
    if out is not None:
        check_out(out, x.shape, x.dtype)
    return _finish(np.where(x < 0, x.dtype.type(0), x), out)


def relu_backward(dout, x, out=None):
    """dout where x > 0, else 0."""
    dout, x = same_float_arrays([("dout", dout), ("x", x)])
    if out is not None:
        check_out(out, x.shape, x.dtype)
    return _finish(np.where(x > 0, dout, x.dtype.type(0)), out)
