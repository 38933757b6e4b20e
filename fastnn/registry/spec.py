"""KernelSpec: one public kernel and what tests and benchmarks need to call it."""

from collections.abc import Callable
from dataclasses import dataclass, field


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
    shapes: tuple[tuple, ...] = field(default_factory=tuple)
    floor_bytes: float = 1.0
    torch: Callable | None = None
    inplace: tuple[int, ...] = ()
