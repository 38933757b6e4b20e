"""Argument checks of the layer normalization forward (fastnn.core and fastnn.reference)."""

from fastnn._validation import as_float_array, check_scalar, check_scale_shift


def check_layernorm_inputs(x, gamma, beta, ln_param):
    """Validate a layernorm forward call.

    x: (N, D) with D >= 1; gamma, beta: (D,); ln_param a dict with optional ``eps``
    (default 1e-5, >= 0).  Returns (x, gamma, beta, eps) with gamma and beta in x's dtype.
    """
    x = as_float_array(x, "x")
    if x.ndim != 2:
        raise ValueError(f"x must be 2-d (N, D), got shape {x.shape}")
    d = x.shape[1]
    if d == 0:
        raise ValueError("x has no features (D = 0)")
    gamma, beta = check_scale_shift(gamma, beta, d, x.dtype)
    if not isinstance(ln_param, dict):
        raise TypeError(f"ln_param must be a dict, got {type(ln_param).__name__}")
    eps = check_scalar(ln_param.get("eps", 1e-5), "eps", minimum=0)
    return x, gamma, beta, eps
