"""Compiled softmax kernels (being written; see the issue tracker)."""

KERNELS = []
