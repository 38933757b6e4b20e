"""The documentation builds with warnings as errors, and its examples pass as doctests."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastnn

# Two full Sphinx builds: slow-marked (CI's plain `pytest` still runs them).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def sphinx_build(builder, out):
    for module in ("sphinx", "numpydoc", "pydata_sphinx_theme", "myst_parser"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the [docs] extra, part of [test])")
    if not (DOCS / "conf.py").exists():
        pytest.skip("not running from a source checkout (no docs/)")
    # Sphinx imports the fastnn this test session uses (built in place or installed).
    env = dict(os.environ, PYTHONPATH=str(Path(fastnn.__file__).resolve().parents[1]))
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        builder,
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / builder),
    ]
    return subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=900)


def test_html_builds_without_warnings(tmp_path):
    result = sphinx_build("html", tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    api = (tmp_path / "html" / "api" / "layers.html").read_text()
    assert 'id="fastnn.layers.affine_forward"' in api  # autodoc found the public functions


def test_examples_pass_as_doctests(tmp_path):
    result = sphinx_build("doctest", tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = (tmp_path / "doctest" / "output.txt").read_text()
    assert " 0 failures in tests" in summary and "tutorial" in summary, summary[-2000:]
