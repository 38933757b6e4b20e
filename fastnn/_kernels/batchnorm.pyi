"""Type stubs for the compiled module ``fastnn._kernels.batchnorm`` (see ``batchnorm.pyx``).

Every function writes into the arrays it is given and returns None.
"""

import numpy as np

OPENMP: bool

def forward_train(
    x: np.ndarray,
    out: np.ndarray,
    n: int,
    c: int,
    s: int,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    momentum: float,
    rm_in: np.ndarray,
    rv_in: np.ndarray,
    rm_out: np.ndarray,
    rv_out: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
    n_threads: int,
) -> None: ...
def forward_test(
    x: np.ndarray,
    out: np.ndarray,
    n: int,
    c: int,
    s: int,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    rm: np.ndarray,
    rv: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
    n_threads: int,
) -> None: ...
def backward(
    dout: np.ndarray,
    x: np.ndarray,
    dx: np.ndarray,
    n: int,
    c: int,
    s: int,
    gamma: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
    eps: float,
    train: bool,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
    n_threads: int,
) -> None: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
