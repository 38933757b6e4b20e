"""Type stubs for the compiled module ``fastnn._kernels.bias`` (see ``bias.pyx``)."""

import numpy as np

OPENMP: bool

def add(z: np.ndarray, b: np.ndarray, relu: bool, n_threads: int) -> None: ...
def grad(
    dout: np.ndarray,
    out: np.ndarray | None,
    dz: np.ndarray | None,
    db: np.ndarray,
    n_threads: int,
) -> None: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
