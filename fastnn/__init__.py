"""fastnn: a Cython-accelerated numerical core for training neural networks on the CPU.

The compiled kernels are the default; ``fastnn.reference`` holds their NumPy twins and
``fastnn.use_backend("numpy")`` switches layers, models and trainer to them.
"""

__version__ = "0.1.0"

import os as _os

# libgomp's idle threads spin for ~300k iterations after every parallel region.  Next to
# OpenBLAS's own spinning threads that oversubscribes the cores: an epoch of a batchnorm net
# built from fastnn.layers took 448 ms on 2 threads instead of 35 ms (README, Threads).  A
# short spin keeps our parallel regions' hand-off as fast as before (measured at 128K
# elements) and frees the cores for BLAS.  It must be set before libgomp loads (our first
# extension import); a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.  If another library
# (PyTorch) loaded libgomp first, the setting comes too late: _config then defaults to one
# thread.
from fastnn import _config as _cfg  # noqa: E402

_cfg._note_openmp_runtime()
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "1000"
    _cfg._spin_set_by_fastnn = True

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
