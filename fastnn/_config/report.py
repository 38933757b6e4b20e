"""``fastnn.show_config()``: the build and machine facts, as a dict and as printed lines.

To add a line, append a function ``info -> str or None`` to :data:`REPORT_LINES` (and, if it
needs a new fact, a key to :func:`config_dict`).
"""

import platform
import sys
from typing import Any, TextIO

import numpy as np

from fastnn._config import openmp
from fastnn._config.backend import get_backend
from fastnn._config.threads import get_num_threads, usable_cores
from fastnn._kernels import _runtime
from fastnn._version import __version__
from fastnn.core.gemm import GEMM_TN, GEMM_TN_SOURCE
from fastnn.registry import KERNEL_MODULES


def _blas_info():
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy without mode="dicts"
        return "unknown"


def config_dict() -> dict[str, Any]:
    """The facts :func:`show_config` prints, as a dict (also used in benchmark headers)."""
    return {
        "fastnn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "blas": _blas_info(),
        "gemm_tn": {"dtypes": list(GEMM_TN or ()), "source": GEMM_TN_SOURCE},
        "backend": get_backend(),
        "num_threads": get_num_threads(),
        "openmp_loaded_before_fastnn": openmp.loaded_before_fastnn(),
        "omp_spin": openmp.spin_wait(),
        "usable_cores": usable_cores(),
        "cpu_features": _runtime.cpu_features(),
        "runtime_dispatch": _runtime.RUNTIME_DISPATCH,
        "isa": _runtime.isa_info(),
        "buffer_pool": _runtime.pool_info(),
        "modules": {
            name: {"file": module.__file__, "openmp": bool(module.OPENMP)}
            for name, module in KERNEL_MODULES.items()
        },
    }


def _versions(info):
    return (
        f"fastnn {info['fastnn']} (python {info['python']}, {info['platform']})\n"
        f"numpy {info['numpy']}, BLAS: {info['blas']}"
    )


def _gemm_tn(info):
    gemm = info["gemm_tn"]
    if gemm["dtypes"]:
        return f"fused SGD step (GEMM with beta): {', '.join(gemm['dtypes'])} via {gemm['source']}"
    return f"fused SGD step: off ({gemm['source']}); the trainer updates in a separate pass"


def _backend(info):
    return f"backend: {info['backend']}"


def _threads(info):
    line = f"threads: {info['num_threads']} (usable cores: {info['usable_cores']})"
    if info["openmp_loaded_before_fastnn"]:
        line += (
            "\n  libgomp was loaded before fastnn (by another library, e.g. PyTorch) with "
            "its long spin-wait, so the default is 1 thread: import fastnn first, start "
            "Python with GOMP_SPINCOUNT=1000, or call fastnn.set_num_threads(n)"
        )
    return line


def _cpu(info):
    features = ", ".join(info["cpu_features"]) or "baseline only"
    dispatch = "on" if info["runtime_dispatch"] else "off (baseline code only)"
    return f"CPU features: {features}; run-time dispatch {dispatch}"


def _isa(info):
    return f"ISA path: {info['isa']['reason']}"


def _buffer_pool(info):
    pool = info["buffer_pool"]
    if pool["limit"] == 0:
        return f"output buffer pool: off ({_runtime.POOL_VARIABLE}=0)"
    return (
        f"output buffer pool: {pool['kept'] / 2**20:.1f} of {pool['limit'] / 2**20:.0f} MiB kept "
        f"({pool['buffers']} buffers, {pool['unused']} unused; {_runtime.POOL_VARIABLE})"
    )


def _modules(info):
    lines = ["compiled modules:"]
    paths = info["isa"].get("modules", {})
    for name, module in info["modules"].items():
        omp = "OpenMP" if module["openmp"] else "serial (no OpenMP)"
        path = f"{paths[name]} path" if name in paths else ""
        lines.append(f"  {name:<12} {omp:<20} {path:<15} {module['file']}")
    return "\n".join(lines)


REPORT_LINES = [_versions, _gemm_tn, _backend, _threads, _cpu, _isa, _buffer_pool, _modules]


def show_config(file: TextIO | None = None) -> None:
    """Print version, compiled modules (and whether each has OpenMP), threads, CPU, numpy/BLAS."""
    info = config_dict()
    out = file if file is not None else sys.stdout
    for line in REPORT_LINES:
        text = line(info)
        if text is not None:
            print(text, file=out)
