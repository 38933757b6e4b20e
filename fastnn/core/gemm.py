"""``C = alpha * A.T @ B + beta * C`` in place, on the BLAS library NumPy itself uses.

NumPy's matmul has no ``beta``: an SGD step after a weight-gradient product (``W = (1 -
lr * reg) * W - lr * X.T @ dY``) then needs a gradient array and one more pass over it and
the weights.  With two BLAS threads that pass also moves the cache lines each thread wrote
to the other core.  Folded into the product, the update runs in BLAS's own threads, on the
tiles each thread computes (fastnn.nn.models.TwoLayerSGDStep).

The function is looked up in the OpenBLAS that NumPy's wheels ship (``scipy-openblas``:
``scipy_cblas_sgemm64_`` with 64-bit integers, or ``scipy_cblas_sgemm`` with 32-bit ones),
so the call shares NumPy's thread pool and its threadpoolctl limits.  Any other BLAS
(Accelerate, MKL, a system OpenBLAS) leaves :data:`GEMM_TN` as None and the reason in
:data:`GEMM_TN_SOURCE`; callers then use matmul and a separate update.  The library passes a
small product against NumPy's matmul before it is used.
"""

import ctypes
import glob
import os

import numpy as np
from numpy.typing import NDArray

__all__ = ["GEMM_TN", "GEMM_TN_SOURCE", "gemm_tn"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112

# (symbol format, the integer type of its dimensions), most specific first
_SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("scipy_cblas_{}gemm", ctypes.c_int32))


def _vendored_openblas():
    """The OpenBLAS shared library inside NumPy's wheel, or None."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    for folder in ("numpy.libs", os.path.join("numpy", ".dylibs")):
        found = sorted(glob.glob(os.path.join(root, folder, "*scipy_openblas*")))
        if found:
            return found[0]
    return None


def _bind(library, char, scalar):
    """The cblas_?gemm of ``library`` for one dtype as a ctypes function, or None."""
    for pattern, integer in _SYMBOLS:
        try:
            function = getattr(library, pattern.format(char))
        except AttributeError:
            continue
        function.restype = None
        pointer = ctypes.c_void_p
        function.argtypes = [ctypes.c_int] * 3 + [integer] * 3 + [scalar, pointer, integer]
        function.argtypes += [pointer, integer, scalar, pointer, integer]
        return function
    return None


def _load():
    """({dtype: ctypes function}, a line saying where they come from or why there are none)."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    if blas.get("name") != "scipy-openblas":
        return {}, f"NumPy's BLAS is {blas.get('name', 'unknown')}, not its scipy-openblas"
    path = _vendored_openblas()
    if path is None:
        return {}, "the scipy-openblas library was not found beside NumPy"
    try:
        library = ctypes.CDLL(path)
    except OSError as exc:
        return {}, f"{os.path.basename(path)} did not load: {exc}"
    functions = {}
    for dtype, char, scalar in (
        (np.float32, "s", ctypes.c_float),
        (np.float64, "d", ctypes.c_double),
    ):
        function = _bind(library, char, scalar)
        if function is not None:
            functions[np.dtype(dtype)] = function
    if not functions:
        return {}, f"{os.path.basename(path)} has no cblas_sgemm/cblas_dgemm symbol"
    return functions, f"{os.path.basename(path)} ({functions[next(iter(functions))].__name__})"


def _call(function, a, b, c, alpha, beta):
    k, m = a.shape
    n = b.shape[1]
    function(
        _ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k,
        alpha, a.ctypes.data, max(m, 1), b.ctypes.data, max(n, 1),
        beta, c.ctypes.data, max(n, 1),
    )  # fmt: skip


def _passes_a_check(function, dtype):
    """Whether ``function`` computes a small product as NumPy does (the ABI is right)."""
    gen = np.random.default_rng(0)
    a, b, c = (gen.standard_normal(shape).astype(dtype) for shape in ((5, 3), (5, 4), (3, 4)))
    expected = -0.5 * (a.T.astype(np.float64) @ b) + 0.25 * c
    _call(function, a, b, c, -0.5, 0.25)
    return np.allclose(c, expected, rtol=1e-5, atol=1e-5)


def _checked():
    functions, source = _load()
    for dtype, function in list(functions.items()):
        if not _passes_a_check(function, dtype):
            del functions[dtype]
            source += f"; its {dtype} gemm failed the check against matmul"
    return functions, source


_FUNCTIONS, GEMM_TN_SOURCE = _checked()
# The dtypes :func:`gemm_tn` takes here (empty: it is unavailable; GEMM_TN_SOURCE says why).
GEMM_TN = tuple(sorted(dtype.name for dtype in _FUNCTIONS)) or None


def gemm_tn(
    a: NDArray[np.floating], b: NDArray[np.floating], c: NDArray[np.floating], alpha, beta
) -> None:
    """``c[...] = alpha * a.T @ b + beta * c`` with NumPy's BLAS threads.

    a: (K, M), b: (K, N), c: (M, N), one dtype (float32 or float64, as :data:`GEMM_TN`
    lists), C-contiguous and aligned; c writable and sharing no memory with a or b.
    RuntimeError when the BLAS function is unavailable; ValueError/TypeError on other arrays.
    """
    for name, array in (("a", a), ("b", b), ("c", c)):
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            raise TypeError(f"{name} must be a 2-d ndarray")
    function = _FUNCTIONS.get(c.dtype)
    if function is None:
        raise RuntimeError(f"gemm_tn is unavailable for {c.dtype}: {GEMM_TN_SOURCE}")
    for name, array in (("a", a), ("b", b), ("c", c)):
        if array.dtype != c.dtype:
            raise TypeError(f"{name} has dtype {array.dtype}, c has {c.dtype}")
        if not (array.flags.c_contiguous and array.flags.aligned):
            raise ValueError(f"{name} must be C-contiguous and aligned")
    if a.shape[0] != b.shape[0] or c.shape != (a.shape[1], b.shape[1]):
        raise ValueError(
            f"shapes a {a.shape}, b {b.shape}, c {c.shape}: need (K, M), (K, N), (M, N)"
        )
    if not c.flags.writeable:
        raise ValueError("c is read-only")
    if np.shares_memory(c, a) or np.shares_memory(c, b):
        raise ValueError("c shares memory with a or b")
    if c.size == 0:
        return
    if a.shape[0] == 0:  # no terms: BLAS may leave c alone when k == 0
        c *= c.dtype.type(beta)
        return
    _call(function, a, b, c, alpha, beta)
