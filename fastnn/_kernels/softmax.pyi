"""Type stubs for the compiled module ``fastnn._kernels.softmax`` (see ``softmax.pyx``).

The functions accept any object as scores and labels and return ``NotImplemented`` (touching
nothing) for inputs that need ``fastnn.core.softmax``'s general NumPy path.
"""

from types import NotImplementedType
from typing import Any

import numpy as np
from numpy.typing import NDArray

OPENMP: bool

def loss_gradient(
    x: object, y: object, out: np.ndarray | None, n_threads: int
) -> tuple[float, NDArray[Any]] | NotImplementedType: ...
def softmax(
    x: object, out: np.ndarray | None, n_threads: int
) -> NDArray[Any] | NotImplementedType: ...
def log_softmax(
    x: object, out: np.ndarray | None, n_threads: int
) -> NDArray[Any] | NotImplementedType: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
