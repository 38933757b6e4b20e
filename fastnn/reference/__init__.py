"""Pure-NumPy twins of every public kernel: same names, signatures and return conventions.

Readable textbook code: the oracle for the tests and the baseline for the benchmarks.
Select it for the whole library with ``fastnn.use_backend("numpy")``.
"""

import importlib

FAMILIES = ("activations", "batchnorm", "softmax", "optim")
__all__ = []
for _family in FAMILIES:
    _module = importlib.import_module(f"fastnn.reference.{_family}")
    __all__ += _module.__all__
    globals().update({name: getattr(_module, name) for name in _module.__all__})
del _family, _module
