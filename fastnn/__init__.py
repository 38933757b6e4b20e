"""fastnn: a Cython-accelerated numerical core for training neural networks on the CPU.

The compiled kernels are the default; ``fastnn.reference`` holds their NumPy twins and
``fastnn.use_backend("numpy")`` switches layers, models and trainer to them.
"""

import sys as _sys

# Before the first extension import loads libgomp: its spin-wait setting.
from fastnn._config.openmp import prepare_openmp as _prepare_openmp
from fastnn._version import __version__

_prepare_openmp()

try:
    import importlib as _importlib

    from fastnn._families import COMPILED_MODULES as _COMPILED

    for _name in _COMPILED:
        _importlib.import_module(f"fastnn._kernels.{_name}")
except ImportError as exc:  # pragma: no cover - exercised by a test in a venv without a build
    raise ImportError(
        "fastnn's compiled kernels are missing or broken "
        f"({exc}). fastnn has no silent pure-Python fallback: build it with "
        "`pip install .` (or `python setup.py build_ext --inplace` in a source checkout); "
        "this needs a C compiler. If you imported fastnn from its source folder, run from "
        "another directory so that the installed package is used."
    ) from exc

from fastnn._config.backend import backend, get_backend, use_backend  # noqa: E402
from fastnn._config.report import show_config  # noqa: E402
from fastnn._config.threads import get_num_threads, num_threads, set_num_threads  # noqa: E402
from fastnn import core as _core  # noqa: E402
from fastnn.core import *  # noqa: E402,F401,F403
from fastnn.nn import gradcheck, init, layers, models, trainer  # noqa: E402,F401
from fastnn.nn.models import FullyConnectedNet, init_two_layer_model, two_layer_net  # noqa: E402
from fastnn.nn.trainer import ClassifierTrainer  # noqa: E402
from fastnn.workflow import babysit, datasets, diagnostics, preprocessing  # noqa: E402,F401
from fastnn.workflow import report, search  # noqa: E402,F401


# Modules that moved into fastnn.nn and fastnn.workflow keep their old import paths: each moved
# module, and every submodule of it loaded by now, is registered in sys.modules under its old
# name too, so ``import fastnn.layers`` and ``from fastnn.search import grid_search`` give the
# very same module objects as the new paths.  This is the only mechanism for old paths (no shim
# files); tests/test_layout.py checks every entry.
MOVED_MODULES = {
    **{f"fastnn.{name}": f"fastnn.nn.{name}"
       for name in ("layers", "models", "init", "gradcheck", "trainer")},
    **{f"fastnn.{name}": f"fastnn.workflow.{name}"
       for name in ("preprocessing", "diagnostics", "babysit", "datasets", "report", "search")},
}


def _register_old_paths():
    for old, new in MOVED_MODULES.items():
        for name in [n for n in _sys.modules if n == new or n.startswith(new + ".")]:
            _sys.modules[old + name[len(new):]] = _sys.modules[name]


_register_old_paths()

__all__ = [
    "__version__",
    # configuration
    "backend", "get_backend", "use_backend",
    "get_num_threads", "set_num_threads", "num_threads", "show_config",
    # kernels (fastnn.core; NumPy twins in fastnn.reference)
    *_core.__all__,
    # the lecture notes' API and what builds on it
    "init_two_layer_model", "two_layer_net", "FullyConnectedNet", "ClassifierTrainer",
    # modules
    "init", "layers", "gradcheck", "datasets", "preprocessing", "diagnostics", "babysit", "search",
]
