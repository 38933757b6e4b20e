"""The version is written once, in ``fastnn/_version.py``; the build, ``fastnn.__version__`` and
the metadata read it."""

import ast
import importlib.metadata
from pathlib import Path

import pytest

import fastnn

ROOT = Path(__file__).resolve().parents[1]


def test_installed_metadata_reports_the_package_version():
    try:
        dist = importlib.metadata.distribution("fastnn")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("fastnn is not installed (imported from a source tree)")
    if dist.read_text("INSTALLER") is None:  # e.g. the egg-info a build leaves in a checkout
        pytest.skip("the fastnn metadata found was not written by an installer")
    installed_init = Path(dist.locate_file("fastnn/__init__.py")).resolve()
    if installed_init != Path(fastnn.__file__).resolve():
        pytest.skip(f"the imported fastnn ({fastnn.__file__}) is not the installed one")
    assert importlib.metadata.version("fastnn") == fastnn.__version__


def test_version_is_a_literal_the_build_reads_without_importing_fastnn():
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not running from a source checkout")
    # setuptools' attr: reads a literal top-level assignment from the source (an sdist build
    # has no compiled kernels to import); anything else would make it import the package.
    tree = ast.parse((ROOT / "fastnn" / "_version.py").read_text())
    literals = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    assert literals == [fastnn.__version__]

    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    config = pyprojecttoml.read_configuration(ROOT / "pyproject.toml", expand=False)
    assert "version" not in config["project"], "the version belongs in fastnn/_version.py only"
    assert "version" in config["project"]["dynamic"]
    expanded = pyprojecttoml.read_configuration(ROOT / "pyproject.toml", expand=True)
    assert expanded["project"]["version"] == fastnn.__version__
