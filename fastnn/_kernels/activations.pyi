"""Type stubs for the compiled module ``fastnn._kernels.activations`` (see ``activations.pyx``).

The array arguments are C-contiguous float32/float64 buffers prepared by ``fastnn.core``.
"""

from typing import Any

import numpy as np
from numpy.typing import NDArray

OPENMP: bool
OPS: dict[str, int]

def _use_baseline(flag: bool) -> bool: ...
def apply(
    op: int,
    a: np.ndarray,
    b: np.ndarray | None,
    out: np.ndarray,
    alpha: float,
    n_threads: int,
) -> NDArray[Any]: ...
def maxout(
    z: np.ndarray, y: np.ndarray, idx: np.ndarray, k: int, n_threads: int
) -> tuple[NDArray[Any], NDArray[np.intp]]: ...
def maxout_backward(
    dout: np.ndarray, idx: np.ndarray, dz: np.ndarray, k: int, n_threads: int
) -> NDArray[Any]: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
