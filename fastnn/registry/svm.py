"""Registry spec of the multiclass SVM loss: arguments, benchmark shapes."""

from fastnn.core import svm as core
from fastnn.reference import svm as reference
from fastnn.registry.spec import KernelSpec


def _loss_args(rng, shape, dtype, impl):
    n, c = shape
    return (rng.standard_normal(shape).astype(dtype), rng.integers(0, c, n)), {}


# PyTorch's multi_margin_loss divides by C as well as N (and is no drop-in): no peer.
KERNELS = [
    KernelSpec(
        "svm_loss",
        "svm",
        core.svm_loss,
        reference.svm_loss,
        _loss_args,
        ((64, 10), (200, 10), (4096, 10), (256, 1000), (4096, 1000)),
        1.0,
    ),
]
