"""``C = alpha * A.T @ B + beta * C`` in place, on the BLAS library NumPy itself uses.

NumPy's matmul has no ``beta``: an SGD step after a weight-gradient product (``W = (1 -
lr * reg) * W - lr * X.T @ dY``) then needs a gradient array and one more pass over it and
the weights.  With two BLAS threads that pass also moves the cache lines each thread wrote
to the other core.  Folded into the product, the update runs in BLAS's own threads, on the
tiles each thread computes (fastnn.nn.models.TwoLayerSGDStep).

The function is looked up in the OpenBLAS that NumPy's wheels ship (``scipy-openblas``:
``scipy_cblas_sgemm64_`` with 64-bit integers, or ``scipy_cblas_sgemm`` with 32-bit ones),
so the call shares NumPy's thread pool and its threadpoolctl limits; fastnn._kernels._blas
calls it (a ctypes call would cost several microseconds a step).  Any other BLAS
(Accelerate, MKL, a system OpenBLAS) leaves :data:`GEMM_TN` as None and the reason in
:data:`GEMM_TN_SOURCE`; callers then use matmul and a separate update.  The library passes a
small product against NumPy's matmul before it is used.
"""

import ctypes
import glob
import os

import numpy as np
from numpy.typing import NDArray

from fastnn._kernels import _blas

__all__ = ["GEMM_TN", "GEMM_TN_SOURCE", "gemm_tn"]

# Symbol formats, most specific first: (format, whether its integers are 64-bit)
_SYMBOLS = (("scipy_cblas_{}gemm64_", True), ("scipy_cblas_{}gemm", False))


def _vendored_openblas():
    """The OpenBLAS shared library inside NumPy's wheel, or None."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    for folder in ("numpy.libs", os.path.join("numpy", ".dylibs")):
        found = sorted(glob.glob(os.path.join(root, folder, "*scipy_openblas*")))
        if found:
            return found[0]
    return None


def _address(library, name):
    """The address of the function ``name`` in ``library``, or 0."""
    try:
        return ctypes.cast(getattr(library, name), ctypes.c_void_p).value or 0
    except AttributeError:
        return 0


def _load():
    """({dtype: True} of the dtypes bound in fastnn._kernels._blas, a line saying where the
    functions come from or why there are none)."""
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
    for pattern, int64 in _SYMBOLS:
        sgemm = _address(library, pattern.format("s"))
        dgemm = _address(library, pattern.format("d"))
        if sgemm or dgemm:
            _blas.bind(sgemm, dgemm, int64)
            bound = {np.dtype(t): True for t, a in ((np.float32, sgemm), (np.float64, dgemm)) if a}
            return bound, f"{os.path.basename(path)} ({pattern.format('s' if sgemm else 'd')})"
    return {}, f"{os.path.basename(path)} has no cblas_sgemm/cblas_dgemm symbol"


def _passes_a_check(dtype):
    """Whether the bound function computes a small product as NumPy does (the ABI is right)."""
    gen = np.random.default_rng(0)
    a, b, c = (gen.standard_normal(shape).astype(dtype) for shape in ((5, 3), (5, 4), (3, 4)))
    expected = -0.5 * (a.T.astype(np.float64) @ b) + 0.25 * c
    _blas.gemm_tn(a, b, c, -0.5, 0.25)
    return np.allclose(c, expected, rtol=1e-5, atol=1e-5)


def _checked():
    bound, source = _load()
    for dtype in list(bound):
        if not _passes_a_check(dtype):
            del bound[dtype]
            source += f"; its {dtype} gemm failed the check against matmul"
    return bound, source


_BOUND, GEMM_TN_SOURCE = _checked()
# The dtypes :func:`gemm_tn` takes here (empty: it is unavailable; GEMM_TN_SOURCE says why).
GEMM_TN = tuple(sorted(dtype.name for dtype in _BOUND)) or None


def gemm_tn(
    a: NDArray[np.floating], b: NDArray[np.floating], c: NDArray[np.floating], alpha, beta
) -> None:
    """``c[...] = alpha * a.T @ b + beta * c`` with NumPy's BLAS threads.

    a: (K, M), b: (K, N), c: (M, N), one dtype (float32 or float64, as :data:`GEMM_TN`
    lists), C-contiguous and aligned; c writable and sharing no memory with a or b.
    RuntimeError when the BLAS function is unavailable; ValueError/TypeError on other arrays.
    """
    if type(a) is type(b) is type(c) is np.ndarray and a.size and c.size and c.dtype in _BOUND:
        try:  # the compiled call checks dtypes, layout, shapes and overlap itself
            _blas.gemm_tn(a, b, c, alpha, beta)
            return
        except (ValueError, TypeError, RuntimeError):
            pass  # nothing was computed: the checks below name the problem
    _check(a, b, c)
    if c.size == 0:
        return
    if a.shape[0] == 0:  # no terms: BLAS may leave c alone when k == 0
        c *= c.dtype.type(beta)
        return
    _blas.gemm_tn(a, b, c, alpha, beta)


def _check(a, b, c):
    """Raise the error that names what is wrong with gemm_tn's arrays, if anything."""
    for name, array in (("a", a), ("b", b), ("c", c)):
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            raise TypeError(f"{name} must be a 2-d ndarray")
    if c.dtype not in _BOUND:
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
    if np.may_share_memory(c, a) or np.may_share_memory(c, b):  # exact: all contiguous
        raise ValueError("c shares memory with a or b")
