"""Type stubs for the compiled module ``fastnn._kernels.layernorm`` (see ``layernorm.pyx``)."""

import numpy as np

OPENMP: bool

def forward(
    x: np.ndarray,
    out: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    rstd: np.ndarray,
    eps: float,
    n_threads: int,
) -> None: ...
def backward(
    dout: np.ndarray,
    x: np.ndarray,
    dx: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    rstd: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
    n_threads: int,
) -> None: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA_BUILT: tuple[str, ...]
ISA: str
