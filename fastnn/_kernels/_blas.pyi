"""Type stubs for the compiled module ``fastnn._kernels._blas`` (see ``_blas.pyx``)."""

import numpy as np

OPENMP: bool

def bind(sgemm: int, dgemm: int, int64: bool) -> None: ...
def gemm_tn(a: np.ndarray, b: np.ndarray, c: np.ndarray, alpha: float, beta: float) -> None: ...
