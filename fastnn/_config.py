"""Thread control and build/machine report.

Kernels take their thread count explicitly (scikit-learn style); the wrappers ask
:func:`threads_for` how many to use, which returns 1 below a kernel's measured size
threshold (thread start-up costs more than it saves on small arrays).

:func:`set_num_threads` sets the process-wide count; ``with num_threads(n):`` overrides it
for the current thread (a context variable, like ``numpy.errstate``), so trainers running
side by side on a thread pool each keep their own setting and restore it in any order.
"""

import contextlib
import contextvars
import os
import platform
import re
import sys

from fastnn._validation import check_int

_num_threads = None  # process-wide, resolved lazily from the environment
# True when libgomp was already loaded, with its default long spin-wait, before fastnn's
# import could shorten it (see fastnn/__init__.py): then the default is one thread.
_late_for_openmp = False
_spin_set_by_fastnn = False  # fastnn/__init__.py set GOMP_SPINCOUNT (the user had not)
_override = contextvars.ContextVar("fastnn_num_threads", default=None)  # num_threads(n)


def _usable_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _note_openmp_runtime():
    """Called once by ``import fastnn`` before its extensions load libgomp."""
    global _late_for_openmp
    user_set = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    _late_for_openmp = not user_set and _libgomp_loaded()


def _libgomp_loaded():
    """Whether this process has already mapped GCC's libgomp (Linux; False elsewhere).

    Only libgomp.so.1 itself (e.g. libgomp.so.1.0.0, or PyTorch's copy) counts: a copy that a
    wheel renamed (libgomp-1a2b3c.so.1) is a separate runtime that fastnn does not share.
    """
    try:
        with open("/proc/self/maps") as maps:
            return any(re.search(r"/libgomp\.so(\.\d+)*$", line.rstrip()) for line in maps)
    except OSError:
        return False


def _default_num_threads():
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    if _late_for_openmp:
        # Every parallel region would leave a thread spinning for milliseconds, taking a core
        # from the next BLAS call: a batchnorm net's training loop ran 15x slower on 2 threads
        # than on 1 (448 against 30 ms per epoch).
        return 1
    return _usable_cores()


def _validate(n, name="number of threads"):
    """A thread or worker count: an int >= 1, or -1 for every usable core."""
    n = check_int(n, name, minimum=None)
    if n == -1:
        return _usable_cores()
    if n <= 0:
        raise ValueError(f"{name} must be >= 1 or -1 (all cores), got {n}")
    return n


def _process_num_threads():
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def get_num_threads():
    """Number of threads the kernels use above their size threshold (in this thread)."""
    n = _override.get()
    return _process_num_threads() if n is None else n


def set_num_threads(n):
    """Set the process-wide thread count; -1 means all usable cores. Returns the previous
    process-wide value.  Inside ``with num_threads(m):`` this thread keeps using ``m``."""
    global _num_threads
    new = _validate(n)
    previous = _process_num_threads()
    _num_threads = new
    return previous


@contextlib.contextmanager
def num_threads(n):
    """Context manager: ``with fastnn.num_threads(1): ...`` sets the count for the current
    thread only and restores it on exit.  Threads started inside do not inherit it."""
    token = _override.set(_validate(n))
    try:
        yield get_num_threads()
    finally:
        _override.reset(token)


def threads_for(work, threshold):
    """Threads for a call that touches ``work`` elements: 1 below ``threshold``."""
    if work < threshold:
        return 1
    return get_num_threads()


def _blas_info():
    try:
        config = __import__("numpy").show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy without mode="dicts"
        return "unknown"


def config_dict():
    """The facts :func:`show_config` prints, as a dict (also used in benchmark headers)."""
    import numpy as np

    from fastnn import __version__
    from fastnn._kernels import _runtime
    from fastnn._backend import get_backend
    from fastnn.registry import KERNEL_MODULES

    return {
        "fastnn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "blas": _blas_info(),
        "backend": get_backend(),
        "num_threads": get_num_threads(),
        "openmp_loaded_before_fastnn": _late_for_openmp,
        "usable_cores": _usable_cores(),
        "cpu_features": _runtime.cpu_features(),
        "runtime_dispatch": _runtime.RUNTIME_DISPATCH,
        "modules": {
            name: {"file": module.__file__, "openmp": bool(module.OPENMP)}
            for name, module in KERNEL_MODULES.items()
        },
    }


def show_config(file=None):
    """Print version, compiled modules (and whether each has OpenMP), threads, CPU, numpy/BLAS."""
    info = config_dict()
    out = file if file is not None else sys.stdout
    print(f"fastnn {info['fastnn']} (python {info['python']}, {info['platform']})", file=out)
    print(f"numpy {info['numpy']}, BLAS: {info['blas']}", file=out)
    print(f"backend: {info['backend']}", file=out)
    print(
        f"threads: {info['num_threads']} (usable cores: {info['usable_cores']})",
        file=out,
    )
    if info["openmp_loaded_before_fastnn"]:
        print("  libgomp was loaded before fastnn (by another library, e.g. PyTorch) with its "
              "long spin-wait, so the "
              "default is 1 thread: import fastnn first, start Python with GOMP_SPINCOUNT=1000, "
              "or call fastnn.set_num_threads(n)", file=out)
    features = ", ".join(info["cpu_features"]) or "baseline only"
    dispatch = "on" if info["runtime_dispatch"] else "off (baseline code only)"
    print(f"CPU features: {features}; run-time dispatch {dispatch}", file=out)
    print("compiled modules:", file=out)
    for name, module in info["modules"].items():
        omp = "OpenMP" if module["openmp"] else "serial (no OpenMP)"
        print(f"  {name:<12} {omp:<20} {module['file']}", file=out)
