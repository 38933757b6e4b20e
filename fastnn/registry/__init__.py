"""The one list of public kernels, each with its NumPy reference twin.

Tests (tests/test_registry.py) and benchmarks (bench/) both iterate over
:func:`all_kernels`, and the backend switch builds its namespaces from it, so a kernel
added to a family's ``KERNELS`` list is tested, benchmarked and switchable at once.

One spec module per kernel family (``fastnn.registry.<family>``) holds that family's
:class:`KernelSpec` list: the argument makers, benchmark shapes and PyTorch peers.  This is
test and benchmark scaffolding; it imports fastnn.core and fastnn.reference, never the other
way round.
"""

import importlib

from fastnn._families import COMPILED_MODULES, FAMILIES
from fastnn.registry import (
    activations,
    batchnorm,
    bias,
    dropout,
    layernorm,
    optim,
    softmax,
    svm,
)
from fastnn.registry.spec import KernelSpec

__all__ = ["KERNEL_MODULES", "SPEC_MODULES", "KernelSpec", "all_kernels", "get"]

# Compiled modules by name, for show_config and the OpenMP test.
KERNEL_MODULES = {
    name: importlib.import_module(f"fastnn._kernels.{name}") for name in COMPILED_MODULES
}

# The spec module of every family, by family name.
SPEC_MODULES = {
    "activations": activations,
    "batchnorm": batchnorm,
    "softmax": softmax,
    "optim": optim,
    "svm": svm,
    "dropout": dropout,
    "layernorm": layernorm,
    "bias": bias,
}


def all_kernels():
    """Every registered kernel, in family order."""
    return [spec for family in FAMILIES for spec in SPEC_MODULES[family].KERNELS]


def get(name):
    """The :class:`KernelSpec` called ``name``."""
    for spec in all_kernels():
        if spec.name == name:
            return spec
    raise KeyError(f"no kernel named {name!r}")
