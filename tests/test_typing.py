"""mypy accepts the public modules and the compiled modules' stubs; the stubs match the runtime."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastnn
from fastnn._families import COMPILED_MODULES, FAMILIES

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"

# The public import paths (the layout behind them may change; these names may not).
PUBLIC_MODULES = [
    "fastnn",
    "fastnn.core",
    "fastnn.reference",
    "fastnn.layers",
    "fastnn.optim",
    "fastnn.models",
    "fastnn.trainer",
    "fastnn.init",
    "fastnn.gradcheck",
    "fastnn.preprocessing",
    "fastnn.datasets",
    "fastnn.diagnostics",
    "fastnn.babysit",
    "fastnn.search",
    "fastnn.solver",
]
# The modules behind them: the namespaces only re-export, so mypy must read these to check code.
IMPLEMENTATION_MODULES = [
    *(f"fastnn.core.{name}" for name in FAMILIES),
    "fastnn.core.threads",
    *(f"fastnn.reference.{name}" for name in FAMILIES),
    *(
        f"fastnn.nn.{name}"
        for name in ("layers", "models", "init", "gradcheck", "trainer", "metrics", "optim")
    ),
    "fastnn.reference.optim_rules",
    *(
        f"fastnn.workflow.{name}"
        for name in ("datasets", "preprocessing", "diagnostics", "babysit", "search", "solver")
    ),
    *(
        f"fastnn.workflow.search.{name}"
        for name in (
            "_models",
            "_result",
            "_runner",
            "_solver_fn",
            "_space",
            "_train_fn_base",
            "_transport",
        )
    ),
    *(f"fastnn._config.{name}" for name in ("backend", "threads", "report")),
    *(
        f"fastnn.cli.{name}"
        for name in (
            "argtypes",
            "bench",
            "common",
            "config",
            "data",
            "demo",
            "init_stats",
            "parser",
            "search",
            "torch_first",
            "train",
            "training",
        )
    ),
    "fastnn.cli",
    "fastnn.bench",
    "fastnn.timing",
]
STUB_MODULES = [f"fastnn._kernels.{name}" for name in COMPILED_MODULES]


def run_mypy_tool(tool, args, cwd, pythonpath=None):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is in the [test] extra)")
    if not CONFIG.exists():
        pytest.skip("not running from a source checkout (mypy's configuration is in pyproject)")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", tool, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_mypy_accepts_the_public_modules_and_the_stubs(tmp_path):
    modules = [
        arg
        for name in PUBLIC_MODULES + IMPLEMENTATION_MODULES + STUB_MODULES
        for arg in ("-m", name)
    ]
    result = run_mypy_tool(
        "mypy", ["--config-file", str(CONFIG), "--cache-dir", str(tmp_path), *modules], cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_checks_calls_against_the_stubs(tmp_path):
    snippet = "from fastnn._kernels import optim\noptim.first_bad_index('not an array', 3)\n"
    result = run_mypy_tool(
        "mypy",
        ["--config-file", str(CONFIG), "--cache-dir", str(tmp_path), "-c", snippet],
        cwd=ROOT,
    )
    assert 'Argument 1 to "first_bad_index" has incompatible type "str"' in result.stdout, (
        result.stdout[-4000:] + result.stderr[-2000:]
    )


def test_stubs_match_the_compiled_modules(tmp_path):
    # Cython adds a __test__ dict (for doctest) to every module; it is no API.
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("fastnn\\._kernels\\..*\\.__test__\n")
    # stubtest imports the compiled modules this test session uses (built in place or installed)
    site = str(Path(fastnn.__file__).resolve().parents[1])
    result = run_mypy_tool(
        "mypy.stubtest",
        ["--mypy-config-file", str(CONFIG), "--allowlist", str(allowlist), *STUB_MODULES],
        cwd=tmp_path,
        pythonpath=site,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_a_strict_user_script_sees_the_public_names(tmp_path):
    # The public paths and fastnn.X resolve for mypy (no "Cannot find module", no implicit
    # re-export error under --strict), and their hints reach the user: only the bad call fails.
    snippet = (
        "import numpy as np\n"
        "import fastnn\n"
        "from fastnn.layers import affine_forward\n"
        "from fastnn.search import grid_search, loguniform\n"
        "from fastnn.trainer import ClassifierTrainer\n"
        "out, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))\n"
        "scores = fastnn.relu(out)\n"
        "fastnn.relu('not an array')\n"
    )
    result = run_mypy_tool(
        "mypy",
        ["--strict", "--follow-imports", "silent", "--cache-dir", str(tmp_path), "-c", snippet],
        cwd=tmp_path,
        pythonpath=str(Path(fastnn.__file__).resolve().parents[1]),
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and 'Argument 1 to "relu"' in errors[0], result.stdout[-4000:]
