"""Models: the lecture notes' two-layer net (section 6) and a deeper fully-connected net.

Both are built on :mod:`fastnn.layers`, so ``fastnn.use_backend("numpy")`` switches them to
the NumPy reference kernels.  They compute in the dtype of their parameters: float32
parameters with float32 data stay float32 throughout.

This public namespace only re-exports; the implementation is ``fastnn.nn.models``.
"""

from fastnn.nn.models import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.models import __all__  # noqa: F401 (the same list, not a copy)
