"""Placeholder: the softmax kernels are being written (see the issue tracker)."""

from fastnn._kernels._common cimport FASTNN_OPENMP

OPENMP = bool(FASTNN_OPENMP)
