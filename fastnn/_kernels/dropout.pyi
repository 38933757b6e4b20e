"""Type stubs for the compiled module ``fastnn._kernels.dropout`` (see ``dropout.pyx``)."""

import numpy as np

OPENMP: bool

def apply_mask(
    x: np.ndarray,
    out: np.ndarray,
    key: int,
    threshold: int,
    scale: float,
    bits: np.ndarray | None,
    n_threads: int,
) -> None: ...
def apply_bits(
    x: np.ndarray, out: np.ndarray, bits: np.ndarray, scale: float, n_threads: int
) -> None: ...
def bits_size(size: int) -> int: ...

# The ISA path this module runs (chosen at import) and the paths compiled into it.
ISA_NAMES: tuple[str, ...]
ISA: str
ISA_BUILT: tuple[str, ...]
# Whether dropout_forward stores the mask as bits for the backward (the baseline path).
STORES_MASK_BITS: bool
