"""Data sets: the 8x8 handwritten digits shipped in the package, CIFAR-10 from its python batches,
and a train/validation split.

This public namespace only re-exports; the implementation is ``fastnn.workflow.datasets``.
"""

from fastnn.workflow.datasets import (
    load_cifar10,
    load_digits,
    train_val_split,
)

__all__ = [
    "load_digits",
    "load_cifar10",
    "train_val_split",
]
