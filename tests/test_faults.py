"""Faults a probe of the public API found outside the search, each pinned by a test."""

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastnn
from fastnn import reference as ref
from fastnn.nn import layers

FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
BN_FORWARDS = {"fast": fastnn.batchnorm_forward, "ref": ref.batchnorm_forward}


@pytest.mark.parametrize("name", sorted(BN_FORWARDS))
def test_batchnorm_test_mode_without_running_statistics_warns_naming_them(name):
    x, g, b = np.ones((4, 3)), np.ones(3), np.zeros(3)
    with pytest.warns(RuntimeWarning, match=r"bn_param\['running_var'\]") as record:
        BN_FORWARDS[name](x, g, b, {"mode": "test", "running_mean": np.zeros(3)})
    assert "running_mean" not in str(record[0].message)
    assert record[0].filename == __file__


@pytest.mark.parametrize("name", sorted(BN_FORWARDS))
def test_batchnorm_negative_running_var_is_an_error(name):
    bn = {"mode": "test", "running_mean": np.zeros(3), "running_var": np.array([1.0, -2.0, 1.0])}
    with pytest.raises(ValueError, match=r"running_var'\]\[1\] = -2.0 is negative"):
        BN_FORWARDS[name](np.ones((4, 3)), np.ones(3), np.zeros(3), bn)


def test_an_untrained_batchnorm_net_predicts_without_warning():
    net = fastnn.FullyConnectedNet([5], input_dim=4, num_classes=3, batchnorm=True, seed=0)
    assert net.predict(np.ones((2, 4))).shape == (2,)  # pytest turns warnings into errors


@pytest.mark.parametrize("leaky", [fastnn.leaky_relu, ref.leaky_relu])
def test_leaky_relu_alpha_given_as_text_is_a_type_error(leaky):
    with pytest.raises(TypeError, match="alpha must be a real number, not a string"):
        leaky(np.ones(3), alpha="0.1")


def test_affine_forward_accepts_lists_like_numpy():
    out, _ = layers.affine_forward([[1.0, 2.0]], [[1.0], [1.0]], [0.5])
    np.testing.assert_array_equal(out, [[3.5]])
    with pytest.raises(ValueError, match="w \\(D, M\\)"):
        layers.affine_forward([[1.0, 2.0]], [1.0, 1.0], [0.5])


def test_trainer_validates_momentum_and_decay_like_the_cli():
    X, y = np.ones((4, 2)), np.zeros(4, dtype=int)
    model = fastnn.init_two_layer_model(2, 3, 2, seed=0)
    trainer = fastnn.ClassifierTrainer()
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        trainer.train(X, y, X, y, model, fastnn.two_layer_net, momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate_decay must be > 0"):
        trainer.train(X, y, X, y, model, fastnn.two_layer_net, learning_rate_decay=0)


def test_nan_loss_at_iteration_one_is_not_blamed_on_the_learning_rate():
    X, y = np.ones((4, 2)), np.zeros(4, dtype=int)
    X[0, 0] = np.nan
    model = fastnn.init_two_layer_model(2, 3, 2, seed=0)
    _, stats = fastnn.ClassifierTrainer().train(
        X, y, X, y, model, fastnn.two_layer_net, sample_batches=False, num_epochs=2
    )
    assert stats["diverged"] and "before any update" in stats["stop_reason"]
    assert "too high" not in stats["stop_reason"]


def _cli(*args, env=None):
    """``python -m fastnn ARGS`` on the fastnn under test (run outside any source tree, whose
    fastnn/ folder would shadow an installed build)."""
    full = dict(os.environ, PYTHONPATH=FASTNN_PARENT, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "fastnn", *args], capture_output=True, text=True, env=full,
        timeout=120, cwd=tempfile.gettempdir(),
    )  # fmt: skip


def test_cli_hidden_with_an_empty_size_is_a_usage_error():
    proc = _cli("train", "--hidden", "10,,20")
    assert proc.returncode == 2 and "--hidden" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_momentum_rule_is_the_trainers():
    proc = _cli("train", "--momentum", "1.5")
    assert proc.returncode == 2 and "momentum" in proc.stderr and "must be <= 1" in proc.stderr


def test_cli_with_an_unknown_backend_in_the_environment_is_one_line():
    proc = _cli("config", env={"FASTNN_BACKEND": "torch"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "fastnn config: error: the environment variable FASTNN_BACKEND='torch' is not a "
        "backend; choose one of cython, numpy (or unset it)"
    ]


# ---- files written whole or not at all (fastnn.workflow.atomic)


def test_a_write_cut_short_leaves_the_old_file_and_no_temporary(tmp_path):
    from fastnn.workflow.atomic import replacing

    target = tmp_path / "search.csv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), replacing(target) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["search.csv"]
    with replacing(target) as tmp:
        assert tmp.endswith(".csv") and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, "w") as f:
            f.write("new\n")
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["search.csv"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # a new file's mode, not mkstemp's


def test_a_model_save_cut_short_leaves_no_model_file(tmp_path, monkeypatch):
    from fastnn.workflow import persistence

    def half_then_interrupted(path, **arrays):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04")  # the start of a zip archive, no more
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence.np, "savez", half_then_interrupted)
    model = fastnn.init_two_layer_model(4, 3, 2, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fastnn.save_model(tmp_path / "best_model.npz", model)
    assert os.listdir(tmp_path) == []


def test_a_solver_checkpoint_cut_short_leaves_no_checkpoint(tmp_path, monkeypatch):
    from fastnn.workflow import solver as solver_module

    def half_then_full(obj, f):
        f.write(b"\x80\x05")  # the start of a pickle, no more
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(solver_module.pickle, "dump", half_then_full)
    rng = np.random.default_rng(0)
    data = {
        "X_train": rng.standard_normal((40, 6)).astype(np.float32),
        "y_train": rng.integers(0, 3, 40),
        "X_val": rng.standard_normal((10, 6)).astype(np.float32),
        "y_val": rng.integers(0, 3, 10),
    }
    model = fastnn.FullyConnectedNet([5], input_dim=6, num_classes=3, seed=0)
    name = tmp_path / "ckpt"
    solver = fastnn.Solver(
        model, data, num_epochs=1, batch_size=20, verbose=False, checkpoint_name=str(name)
    )
    with pytest.raises(OSError, match="No space left"):
        solver.train()
    assert os.listdir(tmp_path) == []
