"""The package layout: old import paths of moved modules still work."""

import importlib
import sys

import pytest

import fastnn


@pytest.mark.parametrize("old, new", sorted(fastnn.MOVED_MODULES.items()))
def test_old_module_path_is_the_moved_module(old, new):
    moved = importlib.import_module(new)
    assert importlib.import_module(old) is moved
    assert getattr(fastnn, old.rsplit(".", 1)[1]) is moved


def test_old_paths_of_submodules_and_from_imports():
    import fastnn.search._runner
    from fastnn.search._runner import require_loky
    from fastnn.trainer import ClassifierTrainer

    import fastnn.workflow.search._runner

    assert fastnn.search._runner is fastnn.workflow.search._runner
    assert require_loky is fastnn.workflow.search._runner.require_loky
    assert ClassifierTrainer is fastnn.nn.trainer.ClassifierTrainer is fastnn.ClassifierTrainer


def test_every_loaded_submodule_of_a_moved_package_has_its_old_name():
    for old, new in fastnn.MOVED_MODULES.items():
        for name, module in list(sys.modules.items()):
            if name.startswith(new + "."):
                assert sys.modules[old + name[len(new):]] is module, name
