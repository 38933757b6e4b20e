"""Backend switch: the layers, models and trainer call kernels through :func:`ops`.

``"cython"`` (default) is the compiled core, ``"numpy"`` the reference twins; both are
read from the kernel registry, so a kernel added there is switchable at once.  The
environment variable ``FASTNN_BACKEND`` sets the backend at import.  :func:`use_backend`
switches it for the process; ``with backend(name):`` only for the current thread.
"""

import os
import types
from contextlib import AbstractContextManager

from fastnn._config.threads import Setting
from fastnn.registry import all_kernels

BACKENDS = ("cython", "numpy")
_namespaces: dict[str, types.SimpleNamespace] = {}


def _check(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def _from_environment():
    name = os.environ.get("FASTNN_BACKEND", "cython").strip().lower() or "cython"
    if name not in BACKENDS:
        raise ValueError(
            f"the environment variable FASTNN_BACKEND={name!r} is not a backend; "
            f"choose one of {', '.join(BACKENDS)} (or unset it)"
        )
    return name


_backend = Setting("backend", _from_environment, _check)


def get_backend() -> str:
    """Name of the active backend in this thread: ``"cython"`` or ``"numpy"``."""
    return _backend.get()


def use_backend(name: str) -> str:
    """Switch every higher-level component to backend ``name`` (process-wide); returns the
    previous process-wide backend.  Inside ``with backend(other):`` this thread keeps ``other``."""
    return _backend.set(name)


def backend(name: str) -> AbstractContextManager[str]:
    """Context manager: backend ``name`` for the current thread only, restored on exit."""
    return _backend.override(name)


def ops() -> types.SimpleNamespace:
    """Namespace of the active backend's kernels (``ops().relu(x)`` etc.)."""
    name = get_backend()
    namespace = _namespaces.get(name)
    if namespace is None:
        attr = "fast" if name == "cython" else "reference"
        namespace = types.SimpleNamespace(
            **{spec.name: getattr(spec, attr) for spec in all_kernels()}
        )
        namespace.backend = name
        _namespaces[name] = namespace
    return namespace
