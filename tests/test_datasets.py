"""fastnn.workflow.datasets: the shipped digits, CIFAR-10 python batches (tiny ones written here),
splits."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn.workflow.datasets import CIFAR10_URL, load_cifar10, load_digits, train_val_split


def test_digits_shape_values_and_classes():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.sum() == 1797 and counts.min() >= 170
    # every class has its own mean image: the labels belong to the pixels
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    nearest = np.argmin(((X[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == y) > 0.85


def test_digits_options_and_fresh_copies():
    X64, _ = load_digits(dtype=np.float64)
    imgs, y = load_digits(images=True)
    assert X64.dtype == np.float64 and imgs.shape == (1797, 8, 8)
    np.testing.assert_array_equal(imgs.reshape(1797, 64), X64)
    imgs[:] = -1
    y[:] = -1
    X, y2 = load_digits()
    assert X.min() == 0 and y2.min() == 0


def test_digits_file_is_scikit_learns_copy():
    """Same bytes as scikit-learn's digits.csv.gz (when installed; located without importing it)."""
    import importlib.util

    import fastnn.data

    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        pytest.skip("scikit-learn is not installed")
    ref = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz")
    if not os.path.isfile(ref):
        pytest.skip("this scikit-learn has no digits.csv.gz")
    ours = os.path.join(os.path.dirname(fastnn.data.__file__), "digits.csv.gz")
    with open(ref, "rb") as a, open(ours, "rb") as b:
        assert a.read() == b.read()


def test_digits_need_no_scikit_learn(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # any import of scikit-learn would fail
        from fastnn.workflow.datasets import load_digits
        X, y = load_digits()
        assert X.shape == (1797, 64)
        print("ok")
    """)
    root = os.path.dirname(os.path.dirname(fastnn.__file__))  # the fastnn this session imported
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_digits_data_file_has_its_license_note():
    import fastnn.data

    folder = os.path.dirname(fastnn.data.__file__)
    with open(os.path.join(folder, "DIGITS_LICENSE.txt"), encoding="utf-8") as f:
        text = f.read()
    assert "CC BY 4.0" in text and "Alpaydin" in text


def _write_cifar(folder, rows=3, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (rows, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, rows)]
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(
                {
                    b"batch_label": name.encode(),
                    b"data": data,
                    b"labels": labels,
                    b"filenames": [b"x.png"] * rows,
                },
                f,
                protocol=2,
            )
        batches[name] = (data, labels)
    return batches


def test_cifar10_reads_python_batches_channel_last(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    batches = _write_cifar(folder)
    X_train, y_train, X_test, y_test = load_cifar10(folder)
    assert X_train.shape == (15, 32, 32, 3) and X_test.shape == (3, 32, 32, 3)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    data, labels = batches["data_batch_2"]
    # row 1 of batch 2 is training row 4; pixel (r, c) of channel ch is data[ch*1024 + r*32 + c]
    for r, c, ch in [(0, 0, 0), (5, 7, 1), (31, 30, 2)]:
        assert X_train[4, r, c, ch] == data[1, ch * 1024 + r * 32 + c]
    assert y_train[3:6].tolist() == labels
    assert y_test.tolist() == batches["test_batch"][1]
    # the parent folder works too, and flatten keeps the channel-last order
    Xf, _, _, _ = load_cifar10(tmp_path, dtype=np.float64, flatten=True)
    assert Xf.shape == (15, 3072) and Xf.dtype == np.float64
    np.testing.assert_array_equal(Xf.reshape(15, 32, 32, 3), X_train)


def test_cifar10_missing_batches_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(tmp_path)
    assert CIFAR10_URL in str(err.value) and "data_batch_1" in str(err.value)
    folder = tmp_path / "partial"
    _write_cifar(folder)
    os.remove(folder / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(folder)


def test_cifar10_malformed_batch_raises(tmp_path):
    _write_cifar(tmp_path)
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(tmp_path)
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({"something": 1}, f)
    with pytest.raises(ValueError, match="not a CIFAR-10"):
        load_cifar10(tmp_path)


def test_train_val_split_partitions_the_rows():
    X = np.arange(50, dtype=float).reshape(25, 2)
    y = np.arange(25)
    X_train, X_val, y_train, y_val = train_val_split(X, y, val_size=0.2, seed=0)
    assert len(X_val) == 5 and len(X_train) == 20
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(25))
    np.testing.assert_array_equal(X_train[:, 0] / 2, y_train)
    np.testing.assert_array_equal(X_val[:, 0] / 2, y_val)
    again = train_val_split(X, y, val_size=0.2, seed=0)
    other = train_val_split(X, y, val_size=0.2, seed=1)
    assert np.array_equal(again[3], y_val) and not np.array_equal(other[3], y_val)
    _, X_val, _, y_val = train_val_split(X, y, val_size=7, shuffle=False)
    assert y_val.tolist() == list(range(18, 25))


@pytest.mark.parametrize("val_size", [0, 25, 1.0, 0.0, -3, "10", True])
def test_train_val_split_bad_sizes(val_size):
    with pytest.raises((ValueError, TypeError)):
        train_val_split(np.zeros((25, 2)), np.zeros(25), val_size=val_size)


def test_train_val_split_mismatched_lengths():
    with pytest.raises(ValueError, match="rows"):
        train_val_split(np.zeros((5, 2)), np.zeros(4))
