"""Backend switch: the layers, models and trainer call kernels through :func:`ops`.

``"cython"`` (default) is the compiled core, ``"numpy"`` the reference twins; both are
read from the kernel registry, so a kernel added there is switchable at once.  The
environment variable ``FASTNN_BACKEND`` sets the backend at import.  :func:`use_backend`
switches it for the process; ``with backend(name):`` only for the current thread.
"""

import contextlib
import contextvars
import os
import types

BACKENDS = ("cython", "numpy")
_current = None  # process-wide
_override = contextvars.ContextVar("fastnn_backend", default=None)  # backend(name)
_namespaces = {}


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def get_backend():
    """Name of the active backend in this thread: ``"cython"`` or ``"numpy"``."""
    name = _override.get()
    return _process_backend() if name is None else name


def _process_backend():
    global _current
    if _current is None:
        _current = _check(os.environ.get("FASTNN_BACKEND", "cython").strip().lower() or "cython")
    return _current


def use_backend(name):
    """Switch every higher-level component to backend ``name`` (process-wide); returns the
    previous process-wide backend.  Inside ``with backend(other):`` this thread keeps ``other``."""
    global _current
    previous = _process_backend()
    _current = _check(name)
    return previous


@contextlib.contextmanager
def backend(name):
    """Context manager: backend ``name`` for the current thread only, restored on exit."""
    token = _override.set(_check(name))
    try:
        yield name
    finally:
        _override.reset(token)


def ops():
    """Namespace of the active backend's kernels (``ops().relu(x)`` etc.)."""
    name = get_backend()
    namespace = _namespaces.get(name)
    if namespace is None:
        from fastnn.registry import all_kernels

        attr = "fast" if name == "cython" else "reference"
        namespace = types.SimpleNamespace(
            **{spec.name: getattr(spec, attr) for spec in all_kernels()}
        )
        namespace.backend = name
        _namespaces[name] = namespace
    return namespace
