"""fastnn: a Cython-accelerated numerical core for training neural networks on the CPU.

The compiled kernels are the default; ``fastnn.reference`` holds their NumPy twins and
``fastnn.use_backend("numpy")`` switches layers, models and trainer to them.
"""

__version__ = "0.1.0"

# Before the first extension import loads libgomp: its spin-wait setting (see _config).
from fastnn import _config as _cfg  # noqa: E402

_cfg.prepare_openmp()

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

from fastnn._backend import backend, get_backend, use_backend  # noqa: E402
from fastnn._config import get_num_threads, num_threads, set_num_threads, show_config  # noqa: E402
from fastnn import core as _core  # noqa: E402
from fastnn.core import *  # noqa: E402,F401,F403
from fastnn import datasets, gradcheck, init, layers  # noqa: E402,F401
from fastnn.models import FullyConnectedNet, init_two_layer_model, two_layer_net  # noqa: E402
from fastnn.trainer import ClassifierTrainer  # noqa: E402
from fastnn import babysit, diagnostics, preprocessing, search  # noqa: E402,F401

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
