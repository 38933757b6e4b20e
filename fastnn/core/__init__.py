"""The compiled core: public wrappers around fastnn._kernels, one module per kernel family.

``fastnn.core.<family>`` mirrors ``fastnn.reference.<family>`` name for name.
"""

import importlib

FAMILIES = ("activations", "batchnorm", "softmax", "optim")
__all__ = []
for _family in FAMILIES:
    _module = importlib.import_module(f"fastnn.core.{_family}")
    __all__ += _module.__all__
    globals().update({name: getattr(_module, name) for name in _module.__all__})
del _family, _module
