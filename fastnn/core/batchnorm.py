"""Batch normalization forward (train/test) and backward.

TEMPORARY: until the compiled kernels of issue 4 land these names point at the NumPy
reference so that the layers and models can be built against the final API.
"""

from fastnn import reference as _ref
from fastnn.registry import KernelSpec

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
]

batchnorm_forward = _ref.batchnorm_forward
batchnorm_backward = _ref.batchnorm_backward
batchnorm_backward_alt = _ref.batchnorm_backward_alt
spatial_batchnorm_forward = _ref.spatial_batchnorm_forward
spatial_batchnorm_backward = _ref.spatial_batchnorm_backward


def _forward_args(rng, shape, dtype, impl):
    d = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    return (x, rng.standard_normal(d).astype(dtype), rng.standard_normal(d).astype(dtype),
            {"mode": "train"}), {}


KERNELS = [
    KernelSpec("batchnorm_forward", "batchnorm", batchnorm_forward, _ref.batchnorm_forward,
               _forward_args, ((64, 100), (256, 512), (4096, 1024)), 1.0),
]
