"""The one list of public kernels, each with its NumPy reference twin.

Tests (tests/test_registry.py) and benchmarks (bench/) both iterate over
:func:`all_kernels`, and the backend switch builds its namespaces from it, so a kernel
added to a family's ``KERNELS`` list is tested, benchmarked and switchable at once.
"""

import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

from fastnn._families import COMPILED_MODULES, FAMILIES

# Compiled modules by name, for show_config and the OpenMP test.
KERNEL_MODULES = {name: importlib.import_module(f"fastnn._kernels.{name}")
                  for name in COMPILED_MODULES}


@dataclass(frozen=True)
class KernelSpec:
    """A public kernel and everything tests and benchmarks need to call it.

    name:       public name (``fastnn.<name>`` and ``fastnn.reference.<name>``)
    family:     compiled module it lives in
    fast:       compiled-path function
    reference:  NumPy twin with the same signature and return convention
    make_args:  ``make_args(rng, shape, dtype, impl) -> (args, kwargs)`` builds a valid call;
                ``impl`` is the function being called (fast or reference), for kernels whose
                inputs come from another kernel of the same implementation (a forward cache)
    shapes:     benchmark shapes
    floor_bytes: bytes of ``x`` the kernel must read+write, in units of one copy of the main
                input (1.0 for a forward element-wise kernel, 1.5 for a backward one)
    torch:      optional ``torch(torch_module, args, kwargs) -> zero-argument callable`` running
                PyTorch's equivalent on the same data (a benchmark peer and test oracle)
    inplace:    positions of the arguments the kernel updates in place (parameter and
                optimizer state of the update rules); every other input must stay unchanged
    """

    name: str
    family: str
    fast: Callable
    reference: Callable
    make_args: Callable
    shapes: Tuple[tuple, ...] = field(default_factory=tuple)
    floor_bytes: float = 1.0
    torch: Optional[Callable] = None
    inplace: Tuple[int, ...] = ()


def all_kernels():
    """Every registered kernel, in family order."""
    specs = []
    for family in FAMILIES:
        specs += importlib.import_module(f"fastnn.core.{family}").KERNELS
    return specs


def get(name):
    """The :class:`KernelSpec` called ``name``."""
    for spec in all_kernels():
        if spec.name == name:
            return spec
    raise KeyError(f"no kernel named {name!r}")
