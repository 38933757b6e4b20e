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



class Setting:
    """A process-wide value with a per-thread override: :meth:`set` changes the process
    value, :meth:`override` a block of the current thread (a context variable, like
    ``numpy.errstate``; threads started inside do not inherit it).  The thread count and the
    backend are the two."""

    def __init__(self, name, default, validate):
        self._default = default  # called once, on first use (reads the environment)
        self._validate = validate
        self._value = None
        self._override = contextvars.ContextVar(f"fastnn_{name}", default=None)

    def process_value(self):
        if self._value is None:
            self._value = self._default()
        return self._value

    def get(self):
        value = self._override.get()
        return self.process_value() if value is None else value

    def set(self, value):
        """Set the process-wide value; returns the previous one."""
        new = self._validate(value)
        previous = self.process_value()
        self._value = new
        return previous

    @contextlib.contextmanager
    def override(self, value):
        token = self._override.set(self._validate(value))
        try:
            yield self.get()
        finally:
            self._override.reset(token)


def _usable_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


# ----------------------------------------------------------------------------- OpenMP runtime
# libgomp's idle threads spin for ~300k iterations after every parallel region.  Next to
# OpenBLAS's own threads that oversubscribes the cores: an epoch of a batchnorm net built from
# fastnn.layers took 448 ms on 2 threads instead of 35 ms (README, Threads).  A short spin
# keeps our parallel regions' hand-off as fast as before (measured at 128K elements) and
# frees the cores for BLAS.  libgomp reads the setting once, when it loads, and PyTorch shares
# it: so it is set only before our first extension import, never over the user's own setting,
# and when another library loaded libgomp first (too late to shorten it) the default is one
# thread.
_late_for_openmp = False  # libgomp was loaded before fastnn, with its long spin-wait
_spin_set_by_fastnn = False  # prepare_openmp set GOMP_SPINCOUNT (the user had not)
_SPIN_VARIABLES = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


def prepare_openmp():
    """Called once by ``import fastnn`` before its extensions load libgomp."""
    global _late_for_openmp, _spin_set_by_fastnn
    if any(name in os.environ for name in _SPIN_VARIABLES):
        return  # the user's setting wins
    _late_for_openmp = _libgomp_loaded()
    os.environ["GOMP_SPINCOUNT"] = "1000"
    _spin_set_by_fastnn = True


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


def spin_wait():
    """How long idle libgomp threads (fastnn's and PyTorch's) spin, in words."""
    if not _libgomp_loaded():
        return "not GCC's libgomp (its spin-wait setting does not apply)"
    if _late_for_openmp:
        return "libgomp loaded before fastnn (PyTorch first): its default spin-wait"
    if _spin_set_by_fastnn:
        return "GOMP_SPINCOUNT=1000 (fastnn's)"
    user = [f"{k}={os.environ[k]}" for k in _SPIN_VARIABLES if k in os.environ]
    return ", ".join(user) + " (yours)" if user else "libgomp default spin-wait"


def pytorch_would_share_short_spin():
    """True when fastnn shortened libgomp's spin-wait and PyTorch, imported now, would share
    it (its training loop ran 1.2-1.7x slower than on its own)."""
    return _spin_set_by_fastnn and not _late_for_openmp and _libgomp_loaded()


# ----------------------------------------------------------------------------- threads

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


_threads = Setting("num_threads", _default_num_threads, _validate)


def get_num_threads():
    """Number of threads the kernels use above their size threshold (in this thread)."""
    return _threads.get()


def set_num_threads(n):
    """Set the process-wide thread count; -1 means all usable cores. Returns the previous
    process-wide value.  Inside ``with num_threads(m):`` this thread keeps using ``m``."""
    return _threads.set(n)


def num_threads(n):
    """Context manager: ``with fastnn.num_threads(1): ...`` sets the count for the current
    thread only and restores it on exit.  Threads started inside do not inherit it."""
    return _threads.override(n)


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
        "omp_spin": spin_wait(),
        "usable_cores": _usable_cores(),
        "cpu_features": _runtime.cpu_features(),
        "runtime_dispatch": _runtime.RUNTIME_DISPATCH,
        "isa": _runtime.isa_info(),
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
    print(f"ISA path: {info['isa']['reason']}", file=out)
    print("compiled modules:", file=out)
    for name, module in info["modules"].items():
        omp = "OpenMP" if module["openmp"] else "serial (no OpenMP)"
        print(f"  {name:<12} {omp:<20} {module['file']}", file=out)
