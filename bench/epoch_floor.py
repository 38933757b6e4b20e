"""The least an epoch can cost beside its matrix products, for the two epochs measured
against their products: test_bench_solver's Solver epoch (adam) and test_bench_trainer's
ClassifierTrainer epoch (sgd).  Each benchmark's epoch of GEMMs is timed with the passes no
training loop can skip added one at a time, interleaved with fastnn's epoch in one run.

  matmul        the epoch's GEMMs on batches gathered before the timing (the benchmark's
                ``matmul``, the issue's baseline)
  +gather       the same, each batch's rows gathered inside the timing as fastnn gathers
                them (``RowGather`` into one kept buffer, the labels with ``np.take``)
  +gather+rw    (solver) the same, and every weight rewritten once a step, so that the next
                step's GEMMs read weights just written: ``W *= 1`` in place, less than any
                update rule does (it reads no gradient)
  +gather+upd   the same with the real update:
                  solver   ``optim.update_all("adam", ...)`` over the model's parameters
                           with the GEMMs' weight gradients, as the Solver's step does;
                  trainer  the SGD step folded into the weight-gradient GEMMs (``gemm_tn``
                           with beta = 1), the cheapest update known (no pass of its own)
  fastnn        fastnn's epoch (the benchmark's ``fastnn``)

``+gather+upd / matmul`` is a floor for the benchmark's ``fastnn / matmul``: it has no
batchnorm, ReLU, bias, loss or Python step around the products.

    cd bench && PYTHONPATH=.. python epoch_floor.py [--model solver|trainer] [--rounds 9]
"""

import argparse
import statistics

import numpy as np
import test_bench_solver as solver_bench
import test_bench_trainer as trainer_bench
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import optim
from fastnn.core.gemm import gemm_tn
from fastnn.nn.minibatch import RowGather
from fastnn.timing import sample_interleaved


def batch_gatherer(X, y, steps, batch, rng):
    """A function yielding an epoch's ``steps`` batches of ``batch`` random rows of X,
    gathered as fastnn's epochs gather them (one ``RowGather`` and one kept buffer for all
    epochs, the labels with ``np.take``)."""
    X_batch, y_batch, gather = (
        np.empty((batch, X.shape[1]), X.dtype),
        np.empty(batch, y.dtype),
        RowGather(),
    )

    def epoch():
        for _ in range(steps):
            idx = np.asarray(rng.choice(X.shape[0], batch), np.intp)
            gather(X, idx, X_batch)
            np.take(y, idx, out=y_batch)
            yield X_batch

    return epoch


def solver_floor_epoch(data, update):
    """The Solver epoch's GEMMs, each batch gathered in the timing; after each step's GEMMs
    with ``update`` "rewrite" every weight rewritten in place (``W *= 1``), with "adam" the
    Solver's adam step."""
    b = solver_bench
    rng = np.random.default_rng(1)
    X, y = data["X_train"], data["y_train"]
    model = fastnn.FullyConnectedNet([b.H, b.H], b.D, b.C, batchnorm=True, dtype=np.float32, seed=0)
    params = model.params
    W1, W2, W3 = params["W1"], params["W2"], params["W3"]
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    configs = {name: {"learning_rate": b.LR} for name in params}
    checks = [X[rng.choice(b.ROWS, b.CHECK_ROWS)], data["X_val"]] * 2
    one = np.float32(1)
    batches = batch_gatherer(X, y, b.ROWS // b.BATCH, b.BATCH, rng)

    def steps():
        for X_batch in batches():
            h1 = X_batch @ W1
            h2 = h1 @ W2
            s = h2 @ W3
            np.matmul(h2.T, s, out=grads["W3"])
            _ = s @ W3.T  # dh2
            np.matmul(h1.T, h2, out=grads["W2"])
            _ = h2 @ W2.T  # dh1
            np.matmul(X_batch.T, h1, out=grads["W1"])
            if update == "rewrite":
                for name in ("W1", "W2", "W3"):
                    np.multiply(params[name], one, out=params[name])
            elif update == "adam":
                optim.update_all("adam", params, grads, configs)
        for xc in checks:
            (xc @ W1) @ W2 @ W3

    return steps


def trainer_floor_epoch(data, update):
    """The trainer epoch's GEMMs, each batch gathered in the timing; with ``update`` ("sgd")
    the SGD step folded into the weight-gradient GEMMs."""
    b = trainer_bench
    X, y, X_val, _ = data
    rng = np.random.default_rng(1)
    checks = [X[rng.choice(b.ROWS, 1000, replace=False)], X_val]
    W1, W2 = (rng.standard_normal(shape, dtype=np.float32) for shape in ((b.D, b.H), (b.H, b.C)))
    dW1, dW2 = np.empty_like(W1), np.empty_like(W2)
    lr = -1e-6  # small: the weights stay where they are
    batches = batch_gatherer(X, y, b.ROWS // b.BATCH, b.BATCH, rng)

    def steps():
        for X_batch in batches():
            h = X_batch @ W1
            s = h @ W2
            _ = s @ W2.T  # dh
            if update:
                gemm_tn(h, s, W2, lr, 1.0)
                gemm_tn(X_batch, h, W1, lr, 1.0)
            else:
                gemm_tn(h, s, dW2, 1.0, 0.0)
                gemm_tn(X_batch, h, dW1, 1.0, 0.0)
        for xc in checks:
            (xc @ W1) @ W2

    return steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("solver", "trainer"), default="solver")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    args = parser.parse_args()
    if args.model == "solver":
        data = solver_bench.make_data()
        floor, runs = solver_floor_epoch, {"matmul": solver_bench.matmul_epoch(data)}
        fastnn_run = solver_bench.solver_epoch(data, "cython")
    else:
        data = trainer_bench.make_data()
        floor, runs = trainer_floor_epoch, {"matmul": trainer_bench.matmul_epoch(data)}
        fastnn_run = trainer_bench.fastnn_epoch(data, "cython")
    updates = [("+gather", None)]
    if args.model == "solver":
        updates.append(("+gather+rw", "rewrite"))
    updates.append(("+gather+upd", "adam" if args.model == "solver" else "sgd"))
    for name, update in updates:
        steps = floor(data, update)

        def run(steps=steps):
            with fastnn.num_threads(1):  # as fastnn's epochs: kernels on 1 thread, BLAS on its own
                steps()

        runs[name] = run
    runs["fastnn"] = fastnn_run
    with threadpool_limits(args.threads):
        times = sample_interleaved(runs, args.rounds, 0)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"{args.model} epoch and its floor, BLAS threads {args.threads}, "
        f"medians of {args.rounds} interleaved rounds:"
    )
    for name, seconds in medians.items():
        print(f"  {name:12s} {seconds * 1e3:8.1f} ms   {seconds / medians['matmul']:5.3f} x matmul")


if __name__ == "__main__":
    main()
