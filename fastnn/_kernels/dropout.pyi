"""Type stubs for the compiled module ``fastnn._kernels.dropout`` (see ``dropout.pyx``)."""

import numpy as np

OPENMP: bool

def apply_mask(
    x: np.ndarray, out: np.ndarray, key: int, threshold: int, scale: float, n_threads: int
) -> None: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
