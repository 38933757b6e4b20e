"""Compiled batchnorm kernels (being written; see the issue tracker)."""

KERNELS = []
