"""The package layout: the public namespaces re-export their implementation modules' names.

``fastnn.layers``, ``fastnn.search``, ... are small modules at the public paths (NumPy's pattern
for ``numpy.linalg`` over ``numpy.linalg._linalg``), so static tools see them as well as Python.
"""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastnn
from fastnn._families import FAMILIES

# public namespace -> the module that implements it
NAMESPACES = {
    **{
        f"fastnn.{name}": f"fastnn.nn.{name}"
        for name in ("layers", "models", "init", "gradcheck", "trainer", "optim")
    },
    **{
        f"fastnn.{name}": f"fastnn.workflow.{name}"
        for name in ("datasets", "preprocessing", "diagnostics", "babysit", "search", "solver")
    },
}
PACKAGE_ROOT = Path(fastnn.__file__).resolve().parent


@pytest.mark.parametrize("public, impl", sorted(NAMESPACES.items()))
def test_namespace_reexports_every_public_name_of_its_implementation(public, impl):
    namespace = importlib.import_module(public)
    implementation = importlib.import_module(impl)
    assert namespace is not implementation
    assert namespace.__all__ == implementation.__all__
    for name in namespace.__all__:
        assert getattr(namespace, name) is getattr(implementation, name), name
    assert getattr(fastnn, public.rsplit(".", 1)[1]) is namespace
    assert f"``{impl}``" in namespace.__doc__  # says where it is implemented


@pytest.mark.parametrize("public", sorted(NAMESPACES))
def test_namespace_holds_no_logic(public):
    path = PACKAGE_ROOT / (public.rsplit(".", 1)[1] + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstring, *body = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    impl = NAMESPACES[public]
    for node in body:
        # only `from <impl> import *` and `from <impl> import __all__`
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        assert node.module == impl and node.level == 0, ast.dump(node)
        assert [alias.name for alias in node.names] in (["*"], ["__all__"]), ast.dump(node)


@pytest.mark.parametrize("package", ["fastnn.core", "fastnn.reference"])
def test_kernel_packages_list_every_family_name(package):
    module = importlib.import_module(package)
    expected = []
    for family in FAMILIES:
        family_module = importlib.import_module(f"{package}.{family}")
        expected += family_module.__all__
        for name in family_module.__all__:
            assert getattr(module, name) is getattr(family_module, name), name
    assert module.__all__ == expected
    assert set(module.__all__) <= set(fastnn.__all__)


def test_public_paths_import_in_a_fresh_interpreter(tmp_path):
    code = (
        "import fastnn.layers, fastnn.search, fastnn.trainer\n"
        "from fastnn.layers import affine_forward\n"
        "from fastnn.search import grid_search\n"
        "from fastnn.trainer import ClassifierTrainer\n"
        "import fastnn.nn.layers, fastnn.workflow.search\n"
        "assert affine_forward is fastnn.nn.layers.affine_forward\n"
        "assert grid_search is fastnn.workflow.search.grid_search\n"
        "assert ClassifierTrainer is fastnn.ClassifierTrainer\n"
        "assert fastnn.search.__file__.endswith('search.py')\n"
    )
    # the fastnn under test (installed or built in place), not a source tree in the cwd
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT.parent))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def test_private_old_paths_are_gone():
    # The implementation's private modules live under their new paths only.
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fastnn.search._runner")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("fastnn.report")
    assert not hasattr(fastnn, "MOVED_MODULES")
