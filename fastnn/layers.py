"""CS231n-compatible layer functions on fastnn's kernels.

Drop-in for ``cs231n/layers.py`` and ``cs231n/layer_utils.py``: every ``*_forward`` returns
``(out, cache)`` and every ``*_backward(dout, cache)`` returns the input gradient(s).
Kernels are looked up on the active backend (``fastnn.use_backend``), so the same layer code
runs on the compiled core or on the NumPy reference twins.  Matrix products use BLAS.

This public namespace only re-exports; the implementation is ``fastnn.nn.layers``.
"""

from fastnn.nn.layers import (
    affine_backward,
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    tanh_backward,
    tanh_forward,
)

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
    "affine_relu_forward",
    "affine_relu_backward",
    "affine_bn_relu_forward",
    "affine_bn_relu_backward",
]
