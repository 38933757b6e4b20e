"""Type stubs for the compiled module ``fastnn._kernels.optim`` (see ``optim.pyx``).

The update rules take arrays already validated by ``fastnn.core.optim`` (same shape and
float dtype), work in place and return None, or ``NotImplemented`` (touching nothing) when the
memory layout needs the NumPy path.
"""

from types import NotImplementedType

import numpy as np

OPENMP: bool

def first_bad_index(idx: np.ndarray, n: int) -> int: ...
def take_rows(
    x: np.ndarray, idx: np.ndarray, out: np.ndarray, stream: bool, n_threads: int
) -> None: ...
def sgd(p: np.ndarray, g: np.ndarray, lr: float, n_threads: int) -> NotImplementedType | None: ...
def momentum(
    p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float, n_threads: int
) -> NotImplementedType | None: ...
def nesterov(
    p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float, n_threads: int
) -> NotImplementedType | None: ...
def rmsprop(
    p: np.ndarray,
    g: np.ndarray,
    cache: np.ndarray,
    lr: float,
    decay: float,
    eps: float,
    eps_in_sqrt: bool,
    n_threads: int,
) -> NotImplementedType | None: ...
def adam(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    t_step: int,
    beta1: float,
    beta2: float,
    eps: float,
    n_threads: int,
) -> NotImplementedType | None: ...
def update_many(
    rule: str,
    groups: list[tuple[np.ndarray, ...]],
    scalars: tuple[float, ...],
    n_threads: list[int],
) -> list[int]: ...
def update_many_as_given(
    rule: str,
    params: object,
    grads: object,
    states: object,
    scalars: tuple[float, ...],
    n_threads: int,
    threshold: int,
) -> NotImplementedType | None: ...

RULES: dict[str, int]
STATE_COUNTS: dict[str, int]

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
