"""The thread count: a process-wide value with a per-thread override, and its size threshold.

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
from contextlib import AbstractContextManager

from fastnn._config.openmp import loaded_before_fastnn
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

    def override(self, value):
        """Context manager (and decorator): ``value`` for the current thread inside it."""
        return _Override(self._override, self._validate(value))


class _Override(contextlib.ContextDecorator):
    """A context variable set on entry and reset on exit.  A class, not a generator: every
    model's loss enters one per training step (0.4 us here against 1.5)."""

    __slots__ = ("_var", "_value", "_tokens")

    def __init__(self, var, value):
        self._var, self._value, self._tokens = var, value, []

    def __enter__(self):
        self._tokens.append(self._var.set(self._value))
        return self._value

    def __exit__(self, *exc_info):
        self._var.reset(self._tokens.pop())
        return False

    def _recreate_cm(self):  # each decorated call gets its own
        return _Override(self._var, self._value)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _default_num_threads():
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    if loaded_before_fastnn():
        # Every parallel region would leave a thread spinning for milliseconds, taking a core
        # from the next BLAS call: a batchnorm net's training loop ran many times slower on 2
        # threads than on 1 (docs/perf/layout.md).
        return 1
    return usable_cores()


def check_thread_count(n, name="number of threads"):
    """A thread or worker count: an int >= 1, or -1 for every usable core (returned resolved)."""
    if type(n) is int and n >= 1:  # the common case, checked on every model loss
        return n
    n = check_int(n, name, minimum=None)
    if n == -1:
        return usable_cores()
    if n <= 0:
        raise ValueError(f"{name} must be >= 1 or -1 (all cores), got {n}")
    return n


_threads = Setting("num_threads", _default_num_threads, check_thread_count)


def get_num_threads() -> int:
    """Number of threads the kernels use above their size threshold (in this thread)."""
    return _threads.get()


def set_num_threads(n: int) -> int:
    """Set the process-wide thread count; -1 means all usable cores. Returns the previous
    process-wide value.  Inside ``with num_threads(m):`` this thread keeps using ``m``."""
    return _threads.set(n)


def num_threads(n: int) -> AbstractContextManager[int]:
    """Context manager: ``with fastnn.num_threads(1): ...`` sets the count for the current
    thread only and restores it on exit.  Threads started inside do not inherit it."""
    return _threads.override(n)


def threads_for(work: int, threshold: int) -> int:
    """Threads for a call that touches ``work`` elements: 1 below ``threshold``."""
    if work < threshold:
        return 1
    return get_num_threads()
