"""The repository passes ruff's lint rules and ruff's formatter (configured in pyproject.toml)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_ruff(*args):
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (it is in the [test] extra)")
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not running from a source checkout")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_lint_is_clean():
    result = run_ruff("check", "--no-cache", "--output-format", "concise")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_format_leaves_every_file_unchanged():
    result = run_ruff("format", "--check", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
