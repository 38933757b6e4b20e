"""fastnn: a Cython-accelerated numerical core for training neural networks on the CPU.

The compiled kernels are the default; ``fastnn.reference`` holds their NumPy twins and
``fastnn.use_backend("numpy")`` switches layers, models and trainer to them.
"""

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

from fastnn import (  # noqa: E402
    babysit,
    datasets,
    diagnostics,
    gradcheck,
    init,
    layers,
    optim,
    preprocessing,
    search,
    solver,
)
from fastnn import core as _core  # noqa: E402
from fastnn import models as models  # noqa: E402  (a module attribute outside __all__)
from fastnn import trainer as trainer  # noqa: E402  (a module attribute outside __all__)
from fastnn._config.backend import backend, get_backend, use_backend  # noqa: E402
from fastnn._config.report import show_config  # noqa: E402
from fastnn._config.threads import get_num_threads, num_threads, set_num_threads  # noqa: E402
from fastnn.core import *  # noqa: E402,F401,F403
from fastnn.models import FullyConnectedNet, init_two_layer_model, two_layer_net  # noqa: E402
from fastnn.solver import Solver  # noqa: E402
from fastnn.trainer import ClassifierTrainer  # noqa: E402
from fastnn.workflow.persistence import (  # noqa: E402
    ModelFileError,
    SavedModel,
    load_model,
    save_model,
)

__all__ = [
    "__version__",
    # configuration
    "backend",
    "get_backend",
    "use_backend",
    "get_num_threads",
    "set_num_threads",
    "num_threads",
    "show_config",
    # the lecture notes' API and what builds on it
    "init_two_layer_model",
    "two_layer_net",
    "FullyConnectedNet",
    "ClassifierTrainer",
    "Solver",
    # saved models
    "save_model",
    "load_model",
    "SavedModel",
    "ModelFileError",
    # modules
    "init",
    "layers",
    "optim",
    "gradcheck",
    "datasets",
    "preprocessing",
    "diagnostics",
    "babysit",
    "search",
    "solver",
]
# the kernels (fastnn.core; NumPy twins in fastnn.reference)
__all__ += _core.__all__
