"""CS231n-compatible layer functions on fastnn's kernels.

Drop-in for ``cs231n/layers.py`` and ``cs231n/layer_utils.py``: every ``*_forward`` returns
``(out, cache)`` and every ``*_backward(dout, cache)`` returns the input gradient(s).
Kernels are looked up on the active backend (``fastnn.use_backend``), so the same layer code
runs on the compiled core or on the NumPy reference twins.  Matrix products use BLAS.

This public namespace only re-exports; the implementation is ``fastnn.nn.layers``.
"""

from fastnn.nn.layers import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.layers import __all__  # noqa: F401 (the same list, not a copy)
