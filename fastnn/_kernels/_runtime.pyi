"""Type stubs for the compiled module ``fastnn._kernels._runtime`` (see ``_runtime.pyx``)."""

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

OPENMP: bool
RUNTIME_DISPATCH: bool
APART_MIN_BYTES: int

def openmp_max_threads() -> int: ...
def cpu_features() -> list[str]: ...
def kernel_buffer(a: np.ndarray, dtype: DTypeLike | None = None) -> NDArray[Any]: ...
def empty_apart(like: np.ndarray, *inputs: np.ndarray) -> NDArray[Any]: ...
