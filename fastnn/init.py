"""Weight initializers from the lecture notes (section 4): zeros, small random, Xavier, He.

Every initializer returns a new (fan_in, fan_out) array (``zeros`` also makes bias vectors)
drawn from ``rng`` (a ``numpy.random.Generator``, an int seed, or None for fresh entropy).
NumPy's global random state is never used.

This public namespace only re-exports; the implementation is ``fastnn.nn.init``.
"""

from fastnn.nn.init import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.init import __all__  # noqa: F401 (the same list, not a copy)
