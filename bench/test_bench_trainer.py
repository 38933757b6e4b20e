"""One training epoch of the notes' (3072, 100, 10) ReLU net, batch 200, float32.

Same group, five implementations:
  fastnn        ClassifierTrainer + two_layer_net on the compiled core (default backend)
  numpy         the same Python code with fastnn.use_backend("numpy") (the reference twins)
  numpy-naive   the CS231n-era NumPy loop (X[idx] gather, fresh temporaries, dx of layer 1)
  torch         a plain PyTorch loop (nn.Linear, CrossEntropyLoss, optim.SGD), if installed
  sklearn       MLPClassifier(solver='sgd').partial_fit, one epoch, if installed
  matmul        the epoch's matrix products alone: per iteration the 2 forward and 3
                backward GEMMs (the trainer skips the first layer's dx), and the accuracy
                check's forward GEMMs, on rows gathered outside the timing
Every round is one epoch of SGD (lr 1e-3) on ROWS random rows, then the accuracy on 1000
training rows and 1000 validation rows (MLPClassifier's epoch skips nothing comparable,
so its two ``score`` calls are included too).  ROWS is 10,000, not the notes' 49,000, to keep
the run short on a shared machine: 50 iterations per epoch.

    python -m pytest bench/test_bench_trainer.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
"""

import warnings

import numpy as np
import pytest

import fastnn
from fastnn import ClassifierTrainer, init_two_layer_model, two_layer_net

ROWS, VAL_ROWS, D, H, C, BATCH, LR = 10_000, 1_000, 3072, 100, 10, 200, 1e-3
IMPLS = ("fastnn", "numpy", "numpy-naive", "torch", "sklearn", "matmul")


def make_data():
    """(X, y, X_val, y_val): random float32 rows shaped like CIFAR-10 (also
    bench/trainer_ratio.py)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, D), dtype=np.float32)
    y = rng.integers(0, C, ROWS)
    X_val = rng.standard_normal((VAL_ROWS, D), dtype=np.float32)
    y_val = rng.integers(0, C, VAL_ROWS)
    return X, y, X_val, y_val


@pytest.fixture(scope="module")
def data():
    return make_data()


def fastnn_epoch(data, backend, update="sgd"):
    """One epoch of the same trainer on ``backend`` ("cython" or "numpy")."""
    X, y, X_val, y_val = data
    model = init_two_layer_model(D, H, C, dtype=np.float32, seed=0)
    trainer = ClassifierTrainer()
    gen = np.random.default_rng(1)

    def run():
        with fastnn.backend(backend):
            trainer.train(
                X,
                y,
                X_val,
                y_val,
                model,
                two_layer_net,
                learning_rate=LR,
                learning_rate_decay=1.0,
                update=update,
                momentum=0.9,
                num_epochs=1,
                batch_size=BATCH,
                rng=gen,
            )

    return run


def _naive_epoch(data):
    """The CS231n-era loop in plain NumPy float32 (the baseline the trainer is compared to)."""
    X, y, X_val, y_val = data
    rng = np.random.default_rng(1)
    m = init_two_layer_model(D, H, C, dtype=np.float32, seed=0)

    def scores(Xb):
        return np.maximum(Xb @ m["W1"] + m["b1"], 0) @ m["W2"] + m["b2"]

    def run():
        for _ in range(ROWS // BATCH):
            idx = rng.choice(ROWS, BATCH)
            Xb, yb = X[idx], y[idx]
            h = np.maximum(Xb @ m["W1"] + m["b1"], 0)
            s = h @ m["W2"] + m["b2"]
            s = s - s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(BATCH), yb] -= 1
            p /= BATCH
            dh = p @ m["W2"].T
            dh[h <= 0] = 0
            _dx = dh @ m["W1"].T  # noqa: F841 (computed by a generic affine_backward)
            grads = {"W1": Xb.T @ dh, "b1": dh.sum(0), "W2": h.T @ p, "b2": p.sum(0)}
            for k in m:
                m[k] += -LR * grads[k]
        sub = rng.choice(ROWS, 1000, replace=False)
        np.mean(np.argmax(scores(X[sub]), 1) == y[sub])
        np.mean(np.argmax(scores(X_val), 1) == y_val)

    return run


def matmul_epoch(data):
    """The epoch's GEMMs on the same shapes; batches gathered before the timing (also
    bench/trainer_ratio.py)."""
    X, _, X_val, _ = data
    rng = np.random.default_rng(1)
    batches = [X[rng.choice(ROWS, BATCH)] for _ in range(ROWS // BATCH)]
    checks = [X[rng.choice(ROWS, 1000, replace=False)], X_val]
    W1, W2 = (rng.standard_normal(shape, dtype=np.float32) for shape in ((D, H), (H, C)))

    def run():
        for xb in batches:
            h = xb @ W1
            s = h @ W2
            _ = h.T @ s, s @ W2.T  # dW2, dh
            _ = xb.T @ h  # dW1
        for xc in checks:
            (xc @ W1) @ W2

    return run


def _torch_epoch(data):
    torch = pytest.importorskip("torch")
    X, y, X_val, y_val = data
    torch.manual_seed(0)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    Xv, yv = torch.from_numpy(X_val), torch.from_numpy(y_val)
    net = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, C))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)

    def run():
        for _ in range(ROWS // BATCH):
            idx = torch.randint(0, ROWS, (BATCH,), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            sub = torch.randperm(ROWS, generator=gen)[:1000]
            (net(Xt[sub]).argmax(1) == yt[sub]).float().mean().item()
            (net(Xv).argmax(1) == yv).float().mean().item()

    return run


def _sklearn_epoch(data):
    neural_network = pytest.importorskip("sklearn.neural_network")
    X, y, X_val, y_val = data
    clf = neural_network.MLPClassifier(
        hidden_layer_sizes=(H,),
        solver="sgd",
        batch_size=BATCH,
        learning_rate_init=LR,
        momentum=0.0,
        alpha=0.0,
        random_state=0,
    )
    clf.partial_fit(X[:BATCH], y[:BATCH], classes=np.arange(C))

    def run():
        clf.partial_fit(X, y)
        clf.score(X[:1000], y[:1000])
        clf.score(X_val, y_val)

    return run


@pytest.mark.parametrize("impl", IMPLS)
def test_trainer_epoch(benchmark, data, impl):
    if impl in ("fastnn", "numpy"):
        run = fastnn_epoch(data, "cython" if impl == "fastnn" else "numpy")
    elif impl == "numpy-naive":
        run = _naive_epoch(data)
    elif impl == "torch":
        run = _torch_epoch(data)
    elif impl == "matmul":
        run = matmul_epoch(data)
    else:
        run = _sklearn_epoch(data)
    benchmark.group = f"trainer epoch {D}-{H}-{C} relu float32 batch {BATCH} rows {ROWS}"
    benchmark.extra_info.update(impl=impl, rows=ROWS, backend_kernels=_compiled_kernels())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLPClassifier's ConvergenceWarning after one epoch
        benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)


def _compiled_kernels():
    """Kernels whose 'cython' backend entry is really compiled (not a NumPy alias)."""
    from fastnn.registry import all_kernels

    return sorted(spec.name for spec in all_kernels() if spec.fast is not spec.reference)
