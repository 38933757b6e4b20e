"""Type stubs for the compiled module ``fastnn._kernels.svm`` (see ``svm.pyx``)."""

import numpy as np

OPENMP: bool

def loss_gradient(x: np.ndarray, y: np.ndarray, dx: np.ndarray, n_threads: int) -> float: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
