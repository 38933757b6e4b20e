"""Pure-NumPy twins of every public kernel: same names, signatures and return conventions.

Readable textbook code: the oracle for the tests and the baseline for the benchmarks.
Select it for the whole library with ``fastnn.use_backend("numpy")``.
"""

from fastnn._families import reexport

__all__ = reexport(__name__, globals())
