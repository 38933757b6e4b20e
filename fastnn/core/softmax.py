"""Softmax, log-softmax and the fused softmax cross-entropy loss.

TEMPORARY: until the compiled kernel of issue 5 lands these names point at the NumPy
reference so that the layers and trainer can be built against the final API.
"""


from fastnn import reference as _ref
from fastnn.registry import KernelSpec

__all__ = ["softmax", "log_softmax", "softmax_loss"]

softmax = _ref.softmax
log_softmax = _ref.log_softmax
softmax_loss = _ref.softmax_loss


def _loss_args(rng, shape, dtype, impl):
    n, c = shape
    return (rng.standard_normal(shape).astype(dtype), rng.integers(0, c, n)), {}


def _scores_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


_SHAPES = ((64, 10), (4096, 10), (256, 1000), (4096, 1000))

KERNELS = [
    KernelSpec("softmax_loss", "softmax", softmax_loss, _ref.softmax_loss, _loss_args, _SHAPES, 1.0),
    KernelSpec("softmax", "softmax", softmax, _ref.softmax, _scores_args, _SHAPES, 1.0),
    KernelSpec("log_softmax", "softmax", log_softmax, _ref.log_softmax, _scores_args, _SHAPES, 1.0),
]
