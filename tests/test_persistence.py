"""Saved models: fastnn.save_model / load_model, the file format and ``fastnn predict``."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import ModelFileError, load_model, save_model
from fastnn.cli.data import load_data
from fastnn.preprocessing import PCA, Standardize, ZeroCenter
from fastnn.workflow import persistence

FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))


@pytest.fixture(scope="module")
def digits():
    X, y = fastnn.datasets.load_digits()
    return X[:300], y[:300], X[300:400], y[300:400]


def _net(**kwargs):
    return fastnn.FullyConnectedNet([16, 12], input_dim=64, num_classes=10, seed=0, **kwargs)


def _trained_net(digits, **kwargs):
    X, y, _, _ = digits
    center = ZeroCenter().fit(X)
    net = _net(**kwargs)
    best, _ = fastnn.ClassifierTrainer().train(
        center.transform(X), y, center.transform(X), y, net, learning_rate=0.1,
        momentum=0.9, num_epochs=2, seed=0,
    )  # fmt: skip
    return best, center


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"batchnorm": True},
        {"activation": "maxout"},
        {"dtype": np.float64, "reg": 1e-3},
        {"normalization": "layernorm", "dropout_keep_ratio": 0.8},
    ],
)
def test_fully_connected_net_round_trip(digits, tmp_path, kwargs):
    net, center = _trained_net(digits, **kwargs)
    path = save_model(tmp_path / "m", net, preprocess=center, meta={"epochs": 2})
    assert path.endswith("m.npz")
    loaded = load_model(path)
    _, _, X_new, _ = digits
    assert isinstance(loaded.model, fastnn.FullyConnectedNet)
    assert loaded.model.dtype == net.dtype and loaded.model.reg == net.reg
    np.testing.assert_array_equal(loaded.scores(X_new), net.loss(center.transform(X_new)))
    np.testing.assert_array_equal(loaded.predict(X_new), net.predict(center.transform(X_new)))
    np.testing.assert_allclose(loaded.predict_proba(X_new).sum(axis=1), 1.0, rtol=1e-5)
    assert loaded.meta == {"fastnn_version": fastnn.__version__, "epochs": 2}
    assert loaded.model.normalization == net.normalization
    assert loaded.model.dropout_param.get("p") == net.dropout_param.get("p")
    if kwargs.get("batchnorm"):
        for saved, original in zip(loaded.model.bn_params, net.bn_params):
            np.testing.assert_array_equal(saved["running_var"], original["running_var"])


def test_two_layer_dict_model_with_a_preprocessing_pipeline(digits, tmp_path):
    X, y, X_new, _ = digits
    steps = [Standardize().fit(X)]
    steps.append(PCA(20, whiten=True).fit(steps[0].transform(X)))
    model = fastnn.init_two_layer_model(20, 30, 10, seed=0)
    model["W1"] *= 1e3  # scores that differ row to row
    loaded = load_model(save_model(tmp_path / "m.npz", model, preprocess=steps))
    assert [type(s) for s in loaded.preprocess] == [Standardize, PCA]
    expected = fastnn.two_layer_net(steps[1].transform(steps[0].transform(X_new)), model)
    np.testing.assert_allclose(loaded.scores(X_new), expected, rtol=1e-12)
    assert loaded.input_dim == 64 and loaded.num_classes == 10


@pytest.mark.parametrize("cls", [ZeroCenter, Standardize, PCA])
def test_fitted_preprocessor_rebuilds_from_its_arrays(digits, cls):
    X, _, X_new, _ = digits
    fitted = cls().fit(X)
    rebuilt = cls.from_fitted_arrays(fitted.fitted_arrays(), **fitted.get_params())
    np.testing.assert_array_equal(rebuilt.transform(X_new), fitted.transform(X_new))
    state = fitted.fitted_arrays()
    state["mean_"] = state["mean_"][:-1]
    with pytest.raises(ValueError, match="mean_ has shape"):
        cls.from_fitted_arrays(state, **fitted.get_params())


def test_the_saved_mean_is_applied(digits, tmp_path):
    """Predicting raw rows needs the training mean: without it the labels change."""
    net, center = _trained_net(digits)
    _, _, X_new, _ = digits
    with_mean = load_model(save_model(tmp_path / "a", net, preprocess=center))
    without = load_model(save_model(tmp_path / "b", net))
    assert not np.array_equal(with_mean.scores(X_new), without.scores(X_new))
    np.testing.assert_array_equal(with_mean.predict(X_new), net.predict(center.transform(X_new)))


def test_the_file_holds_no_pickle_and_a_version(digits, tmp_path):
    net, center = _trained_net(digits)
    path = save_model(tmp_path / "m", net, preprocess=center, meta={"lr": 0.1})
    with np.load(path, allow_pickle=False) as npz:
        assert int(npz[persistence.VERSION_KEY]) == persistence.FORMAT_VERSION
        assert json.loads(str(npz["meta"]))["lr"] == 0.1
        assert all(npz[k].dtype != object for k in npz.files)


def _rewrite(path, out, drop=(), **replace):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in drop}
    arrays.update(replace)
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p, d: (d / "x.npz").write_text("hello") and d / "x.npz", "not an .npz archive"),
        (lambda p, d: _rewrite(p, d / "v.npz", **{persistence.VERSION_KEY: np.array(99)}),
         "format version 99"),
        (lambda p, d: _rewrite(p, d / "n.npz", drop=(persistence.VERSION_KEY,)),
         "not a fastnn model file"),
        (lambda p, d: _rewrite(p, d / "k.npz", drop=("param/W2",)), "parameter W2 is missing"),
        (lambda p, d: _rewrite(p, d / "s.npz", **{"param/W2": np.zeros((3, 3))}), "has shape"),
        (lambda p, d: _rewrite(p, d / "j.npz", meta=np.array("{oops")), "not valid JSON"),
        (lambda p, d: _rewrite(p, d / "o.npz", meta=np.array([{}], dtype=object)), "readable"),
        (lambda p, d: _rewrite(p, d / "c.npz", drop=("preprocess/0/mean_",)), "lacks mean_"),
    ],
)  # fmt: skip
def test_a_bad_or_foreign_file_is_one_clear_error(digits, tmp_path, make, message):
    net, center = _trained_net(digits)
    good = save_model(tmp_path / "good", net, preprocess=center)
    bad = make(good, tmp_path)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_save_rejects_what_it_cannot_load(tmp_path):
    with pytest.raises(TypeError, match="W1, b1, W2, b2"):
        save_model(tmp_path / "m", {"W1": np.zeros((2, 2))})
    with pytest.raises(TypeError, match="preprocess must be a fitted"):
        save_model(tmp_path / "m", _net(), preprocess="mean")
    with pytest.raises(TypeError, match="JSON"):
        save_model(tmp_path / "m", _net(), meta={"acc": float("nan")})
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")


def test_predict_checks_the_row_width(digits, tmp_path):
    net, center = _trained_net(digits)
    loaded = load_model(save_model(tmp_path / "m", net, preprocess=center))
    with pytest.raises(ValueError, match="X has 63 features but the model takes 64"):
        loaded.predict(np.zeros((2, 63)))


# -------------------------------------------------------------------- fastnn train, then predict


def _cli(*args, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FASTNN_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "fastnn", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("predict")
    proc = _cli("train", "--epochs", "2", "--lr", "0.1", "--hidden", "20", "--threads", "1",
                "--out", "t", cwd=cwd)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_data(("digits", None), seed=0)  # the split `fastnn train` used, raw rows
    np.save(cwd / "X_test.npy", data["X_test"])
    np.savetxt(cwd / "X_test.csv", data["X_test"], delimiter=",")
    return cwd, data["y_test"], json.loads((cwd / "t" / "results.json").read_text())


def test_cli_predict_reaches_the_reported_test_accuracy(trained):
    cwd, y_test, results = trained
    proc = _cli("predict", "t/model.npz", "X_test.npy", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    labels = np.array([int(line) for line in proc.stdout.split()])
    assert np.mean(labels == y_test) == results["test_accuracy"]
    proc = _cli("predict", "t/model.npz", "X_test.csv", "--out", "p.csv", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.loadtxt(cwd / "p.csv", dtype=int), labels)
    proc = _cli("predict", "t/model.npz", "X_test.npy", "--proba", "--out", "p.npy", cwd=cwd)
    proba = np.load(cwd / "p.npy")
    assert proba.shape == (len(y_test), 10)
    np.testing.assert_array_equal(proba.argmax(axis=1), labels)


def test_cli_train_writes_the_common_meta(trained):
    cwd, _, results = trained
    meta = load_model(cwd / "t" / "model.npz").meta
    assert meta["epochs"] == 2 and meta["lr"] == 0.1 and meta["hidden_dims"] == [20]
    assert meta["accuracy"] == results["test_accuracy"] and meta["accuracy_on"] == "test"
    assert meta["classes"] == list(range(10)) and meta["input_dim"] == 64
    assert meta["fastnn_version"] == fastnn.__version__ and meta["dataset"].startswith("digits")
    assert {"reg", "activation", "batchnorm", "command"} <= set(meta)


@pytest.mark.parametrize(
    "args, message",
    [
        (("nope.npz", "X_test.npy"), "model file not found: nope.npz"),
        (("t/results.json", "X_test.npy"), "not a fastnn model file"),
        (("t/model.npz", "missing.npy"), "data file not found"),
        (("t/model.npz", "t/results.json"), "DATA t/results.json must end in .npy or .csv"),
        (("t/model.npz", "X_test.npy", "--out", "p.txt"), "--out p.txt must end in .npy or .csv"),
    ],
)
def test_cli_predict_mistakes_are_one_line(trained, args, message):
    cwd, _, _ = trained
    proc = _cli("predict", *args, cwd=cwd)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
