"""Models: the lecture notes' two-layer net (section 6) and a deeper fully-connected net.

Both are built on :mod:`fastnn.layers`, so ``fastnn.use_backend("numpy")`` switches them to
the NumPy reference kernels.  They compute in the dtype of their parameters: float32
parameters with float32 data stay float32 throughout.

This public namespace only re-exports; the implementation is ``fastnn.nn.models``.
"""

from fastnn.nn.models import (
    FullyConnectedNet,
    init_two_layer_model,
    two_layer_net,
)

__all__ = [
    "init_two_layer_model",
    "two_layer_net",
    "FullyConnectedNet",
]
