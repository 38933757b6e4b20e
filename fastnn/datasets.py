"""Data sets: the 8x8 handwritten digits shipped in the package, CIFAR-10 from its python batches,
and a train/validation split.

This public namespace only re-exports; the implementation is ``fastnn.workflow.datasets``.
"""

from fastnn.workflow.datasets import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.datasets import __all__  # noqa: F401 (the same list, not a copy)
