"""CS231n-compatible layer functions on fastnn's kernels.

The implementation behind the public namespace ``fastnn.layers``, which documents it.
"""

from typing import Any

import numpy as np

from fastnn._config.backend import ops

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "elu_forward",
    "elu_backward",
    "maxout_forward",
    "maxout_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "softmax_loss",
    "svm_loss",
    "dropout_forward",
    "dropout_backward",
    "layernorm_forward",
    "layernorm_backward",
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_bn_relu_forward",
    "affine_bn_relu_backward",
    "affine_ln_relu_forward",
    "affine_ln_relu_backward",
]


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """out = x.reshape(N, D) @ w + b for x (N, d_1, ..., d_k), w (D, M), b (M,).

    Array-likes (lists) are converted with np.asarray, as NumPy functions do.
    Returns (out (N, M), cache); the cache is the course's ``(x, w, b)``, the arrays
    themselves (not copies).
    """
    x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
    if x.ndim == 0 or w.ndim != 2:
        raise ValueError(f"x must be (N, ...) and w (D, M), got shapes {x.shape} and {w.shape}")
    x2 = x.reshape(x.shape[0], -1)
    if x2.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x2.shape[1]} features per row but w has shape {w.shape}")
    out = x2 @ w
    out += b
    return out, (x, w, b)


def affine_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dw, db) for affine_forward, from its cache ``(x, w, b)``."""
    x, w, _ = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """ReLU layer: (max(x, 0), cache)."""
    return ops().relu(x), x


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout where x > 0, else 0."""
    return ops().relu_backward(dout, cache)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Sigmoid layer: (sigmoid(x), cache)."""
    y = ops().sigmoid(x)
    return y, y


def sigmoid_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout * y * (1 - y)."""
    return ops().sigmoid_backward(dout, cache)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """tanh layer: (tanh(x), cache)."""
    y = ops().tanh(x)
    return y, y


def tanh_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout * (1 - y**2)."""
    return ops().tanh_backward(dout, cache)


def leaky_relu_forward(x: np.ndarray, alpha: float = 0.01) -> tuple[np.ndarray, Any]:
    """Leaky ReLU layer, max(alpha * x, x): (out, cache)."""
    return ops().leaky_relu(x, alpha), (x, alpha)


def leaky_relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout where x > 0, else alpha * dout."""
    x, alpha = cache
    return ops().leaky_relu_backward(dout, x, alpha)


def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, Any]:
    """ELU layer: (x if x > 0 else alpha * (exp(x) - 1), cache)."""
    return ops().elu(x, alpha), (x, alpha)


def elu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dx = dout where x > 0, else dout * alpha * exp(x)."""
    x, alpha = cache
    return ops().elu_backward(dout, x, alpha)


def maxout_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """Maxout layer: out[n, h] = max_j (x[n] @ w[:, h, j] + b[h, j]).

    x: (N, D) (or (N, d_1, ..., d_k) flattened to D), w: (D, H, k), b: (H, k).
    Returns (out (N, H), cache).
    """
    if w.ndim != 3 or b.shape != w.shape[1:]:
        raise ValueError(
            f"maxout needs w of shape (D, H, k) and b of shape (H, k), got {w.shape} and {b.shape}"
        )
    d, h, k = w.shape
    z, _ = affine_forward(x, w.reshape(d, h * k), b.reshape(h * k))
    out, argmax = ops().maxout(z.reshape(-1, h, k))
    return out, (x, w, argmax)


def maxout_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dw, db) for maxout_forward: each gradient goes to its winning piece."""
    x, w, argmax = cache
    d, h, k = w.shape
    dz = ops().maxout_backward(dout, argmax, k).reshape(-1, h * k)
    dx, dw, db = affine_backward(dz, (x, w.reshape(d, h * k), None))  # b is not needed
    return dx, dw.reshape(d, h, k), db.reshape(h, k)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Batch normalization of x (N, D); see fastnn.batchnorm_forward.

    Returns (out, cache); with the compiled backend the cache holds x itself, as the course's
    does: changing x in place before :func:`batchnorm_backward` changes dx.
    """
    return ops().batchnorm_forward(x, gamma, beta, bn_param)


def batchnorm_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dgamma, dbeta) for batchnorm_forward's cache (which may hold x itself:
    do not change x in place between the forward and this call)."""
    return ops().batchnorm_backward(dout, cache)


def batchnorm_backward_alt(
    dout: np.ndarray,
    cache: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same results as batchnorm_backward (simplified closed form)."""
    return ops().batchnorm_backward_alt(dout, cache)


def spatial_batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Batch normalization of x (N, C, H, W) with per-channel statistics."""
    return ops().spatial_batchnorm_forward(x, gamma, beta, bn_param)


def spatial_batchnorm_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dgamma, dbeta)."""
    return ops().spatial_batchnorm_backward(dout, cache)


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy: (loss, dx) for scores x (N, C) and labels y (N,)."""
    return ops().softmax_loss(x, y)


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """Affine followed by ReLU: (out, cache)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dw, db) for affine_relu_forward."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def affine_bn_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Affine, batch normalization, ReLU: (out, cache)."""
    return _affine_norm_relu_forward(batchnorm_forward, x, w, b, gamma, beta, bn_param)


def affine_bn_relu_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dw, db, dgamma, dbeta) for affine_bn_relu_forward."""
    return _affine_norm_relu_backward(batchnorm_backward, dout, cache)


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass SVM (hinge) loss: (loss, dx) for scores x (N, C) and labels y (N,)."""
    return ops().svm_loss(x, y)


def dropout_forward(x: np.ndarray, dropout_param: dict[str, Any]) -> tuple[np.ndarray, Any]:
    """Inverted dropout; dropout_param: ``mode``, ``p`` (keep probability), optional ``seed``.

    See fastnn.dropout_forward.  Returns (out, cache); test mode returns x itself.
    """
    return ops().dropout_forward(x, dropout_param)


def dropout_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """``dx = dout * mask`` (train mode) or dout (test mode)."""
    return ops().dropout_backward(dout, cache)


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Layer normalization of each row of x (N, D); see fastnn.layernorm_forward."""
    return ops().layernorm_forward(x, gamma, beta, ln_param)


def layernorm_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dgamma, dbeta)."""
    return ops().layernorm_backward(dout, cache)


def affine_ln_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict[str, Any],
) -> tuple[np.ndarray, Any]:
    """Affine, layer normalization, ReLU: (out, cache)."""
    return _affine_norm_relu_forward(layernorm_forward, x, w, b, gamma, beta, ln_param)


def affine_ln_relu_backward(
    dout: np.ndarray,
    cache: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns (dx, dw, db, dgamma, dbeta) for affine_ln_relu_forward."""
    return _affine_norm_relu_backward(layernorm_backward, dout, cache)


def _affine_norm_relu_forward(norm_forward, x, w, b, gamma, beta, norm_param):
    """affine - normalization (batchnorm_forward or layernorm_forward) - ReLU."""
    a, fc_cache = affine_forward(x, w, b)
    an, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, norm_cache, relu_cache)


def _affine_norm_relu_backward(norm_backward, dout, cache):
    """(dx, dw, db, dgamma, dbeta) of _affine_norm_relu_forward."""
    fc_cache, norm_cache, relu_cache = cache
    da, dgamma, dbeta = norm_backward(relu_backward(dout, relu_cache), norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
