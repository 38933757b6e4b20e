"""One Solver epoch: FullyConnectedNet([100, 100], 3072 -> 10, batchnorm, float32), adam,
batch 200, 10,000 rows.

Same group, four implementations of the same epoch (50 iterations, then the course's two
accuracy checks: after the first iteration and at the epoch's end, each on 1000 sampled
training rows and 1000 validation rows):
  fastnn    fastnn.Solver + fastnn.FullyConnectedNet on the compiled core
  numpy     the same objects under fastnn.backend("numpy") (layers and updates on the twins)
  matmul    the epoch's matrix products alone: per iteration the 3 forward and 5 backward
            GEMMs of fastnn's model (it skips the first layer's dx), and the accuracy checks'
            forward GEMMs, on rows gathered outside the timing
  torch     the equivalent PyTorch loop (Linear-BatchNorm1d-ReLU x 2, Linear, cross-entropy,
            torch.optim.Adam), if installed

    python -m pytest bench/test_bench_solver.py --benchmark-only \
        --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
    PYTHONPATH=. python bench/test_bench_solver.py [--rounds 9]   # ratios, interleaved

The script times fastnn, numpy and matmul interleaved, then fastnn and torch interleaved:
a PyTorch epoch in between slowed the next fastnn epochs by 8-15% (Zen 4 VM: 129-140 ms
against 120-122; its thread pool outlives its epoch), which would have counted against
fastnn in the fastnn / matmul and numpy / fastnn ratios.
"""

import argparse
import statistics

import _peers  # noqa: F401 (PyTorch before fastnn)
import numpy as np
import pytest

import fastnn
from fastnn.timing import sample_interleaved

ROWS, VAL_ROWS, D, H, C, BATCH, LR = 10_000, 1_000, 3072, 100, 10, 200, 1e-3
CHECK_ROWS = 1000  # the Solver's num_train_samples
IMPLS = ("fastnn", "numpy", "matmul", "torch")


def make_data():
    """Random float32 rows shaped like CIFAR-10, in the Solver's data dict."""
    rng = np.random.default_rng(0)
    return {
        "X_train": rng.standard_normal((ROWS, D), dtype=np.float32),
        "y_train": rng.integers(0, C, ROWS),
        "X_val": rng.standard_normal((VAL_ROWS, D), dtype=np.float32),
        "y_val": rng.integers(0, C, VAL_ROWS),
    }


def solver_epoch(data, backend):
    """One epoch of fastnn.Solver on ``backend`` ("cython" or "numpy"); the Solver keeps its
    state between calls, as a longer run would."""
    model = fastnn.FullyConnectedNet([H, H], D, C, batchnorm=True, dtype=np.float32, seed=0)
    solver = fastnn.Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": LR},
        batch_size=BATCH,
        num_epochs=1,
        num_train_samples=CHECK_ROWS,
        verbose=False,
        seed=1,
    )

    def run():
        with fastnn.backend(backend):
            solver.train()

    return run


def matmul_epoch(data):
    """The epoch's GEMMs on the same shapes; batches gathered before the timing."""
    rng = np.random.default_rng(1)
    X = data["X_train"]
    batches = [X[rng.choice(ROWS, BATCH)] for _ in range(ROWS // BATCH)]
    checks = [X[rng.choice(ROWS, CHECK_ROWS)], data["X_val"]] * 2
    W1, W2, W3 = (
        rng.standard_normal(shape, dtype=np.float32) for shape in ((D, H), (H, H), (H, C))
    )

    def run():
        for xb in batches:
            h1 = xb @ W1
            h2 = h1 @ W2
            s = h2 @ W3
            _ = h2.T @ s, s @ W3.T  # dW3, dh2
            _ = h1.T @ h2, h2 @ W2.T  # dW2, dh1
            _ = xb.T @ h1  # dW1
        for xc in checks:
            (xc @ W1) @ W2 @ W3

    return run


def torch_epoch(data):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    Xv, yv = torch.from_numpy(data["X_val"]), torch.from_numpy(data["y_val"])
    nn = torch.nn
    net = nn.Sequential(
        nn.Linear(D, H), nn.BatchNorm1d(H), nn.ReLU(),
        nn.Linear(H, H), nn.BatchNorm1d(H), nn.ReLU(),
        nn.Linear(H, C),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)

    def check():
        net.eval()
        with torch.no_grad():
            sub = torch.randint(0, ROWS, (CHECK_ROWS,), generator=gen)
            (net(X[sub]).argmax(1) == y[sub]).float().mean().item()
            (net(Xv).argmax(1) == yv).float().mean().item()
        net.train()

    def run():
        for t in range(ROWS // BATCH):
            idx = torch.randint(0, ROWS, (BATCH,), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
            loss.item()  # the Solver records every loss
            if t == 0:
                check()
        check()

    return run


def make_run(impl, data):
    if impl in ("fastnn", "numpy"):
        return solver_epoch(data, "cython" if impl == "fastnn" else "numpy")
    if impl == "matmul":
        return matmul_epoch(data)
    return torch_epoch(data)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.mark.parametrize("impl", IMPLS)
def test_solver_epoch(benchmark, data, impl):
    run = make_run(impl, data)
    benchmark.group = f"Solver epoch {D}-{H}-{H}-{C} batchnorm adam float32 batch {BATCH}"
    benchmark.extra_info.update(impl=impl, rows=ROWS)
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    data = make_data()
    runs = {impl: make_run(impl, data) for impl in IMPLS if impl != "torch" or _peers.torch}
    groups = [("fastnn", "numpy", "matmul")] + ([("fastnn", "torch")] if "torch" in runs else [])
    threads = fastnn.get_num_threads()
    print(f"Solver epoch, {ROWS} rows, medians of {args.rounds} interleaved rounds, ", end="")
    print(f"fastnn threads {threads} (kernels run on 1 during training):")
    for group in groups:
        times = sample_interleaved({impl: runs[impl] for impl in group}, args.rounds, 0)
        medians = {impl: statistics.median(t) for impl, t in times.items()}
        for impl, seconds in medians.items():
            ratio = seconds / medians["fastnn"]
            print(f"  {impl:7s} {seconds * 1e3:8.1f} ms   {ratio:5.2f} x fastnn")
        if "matmul" in medians:
            print(f"  fastnn / matmul = {medians['fastnn'] / medians['matmul']:.2f}")


if __name__ == "__main__":
    main()
