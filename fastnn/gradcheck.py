"""Numerical gradient checks with CS231n's semantics (``cs231n/gradient_check.py``).

Each function perturbs ``x`` in place, one element at a time, calls ``f`` and restores the
element (also when ``f`` raises), so ``f`` may ignore its argument and close over ``x``.
Use float64 arrays: with float32 and h = 1e-5 the central difference is mostly rounding.

This public namespace only re-exports; the implementation is ``fastnn.nn.gradcheck``.
"""

from fastnn.nn.gradcheck import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.gradcheck import __all__  # noqa: F401 (the same list, not a copy)
