"""Where one Solver epoch of bench/test_bench_solver.py goes: the Solver's steps replayed by
hand (minibatch draw, gather, forward+backward, adam, accuracy checks), each part timed with
``time.perf_counter`` and reported as its median per call and its share of an epoch.

The matrix products alone are test_bench_solver's ``matmul`` case; the parts here show what
an epoch spends around them.  Kernels run on one thread as in ``Solver.train``; BLAS on
``--blas-threads``.

    PYTHONPATH=. python bench/solver_epoch_parts.py [--blas-threads 2] [--iterations 300]
"""

import argparse
import statistics
import time

import numpy as np
from test_bench_solver import BATCH, CHECK_ROWS, LR, ROWS, C, D, H, make_data
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import optim
from fastnn.core import take_rows

ITERATIONS_PER_EPOCH = ROWS // BATCH
CHECKS_PER_EPOCH = 2  # after the first iteration and at the epoch's end


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blas-threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    data = make_data()
    X, y = data["X_train"], data["y_train"]
    model = fastnn.FullyConnectedNet([H, H], D, C, batchnorm=True, dtype=np.float32, seed=0)
    configs = {name: {"learning_rate": LR} for name in model.params}
    rng = np.random.default_rng(1)
    X_batch = np.empty((BATCH, D), np.float32)
    y_batch = np.empty(BATCH, y.dtype)
    times: dict[str, list[float]] = {}

    def tick(name, start):
        now = time.perf_counter()
        times.setdefault(name, []).append(now - start)
        return now

    with threadpool_limits(args.blas_threads), fastnn.num_threads(1):
        for i in range(args.iterations):
            t = time.perf_counter()
            idx = np.asarray(rng.choice(ROWS, BATCH), np.intp)
            t = tick("minibatch draw", t)
            take_rows(X, idx, out=X_batch)
            np.take(y, idx, out=y_batch)
            t = tick("gather", t)
            _, grads = model.loss(X_batch, y_batch)
            t = tick("forward+backward", t)
            optim.update_all("adam", model.params, grads, configs)  # as Solver._step does
            t = tick("adam", t)
            if i % 25 == 0:
                rows = np.asarray(rng.choice(ROWS, CHECK_ROWS), np.intp)
                sample = take_rows(X, rows)
                t = tick("check gather", t)
                for part in (sample, data["X_val"]):  # Solver.check_accuracy's passes
                    per_pass = max((8 << 20) // part[0].nbytes, 100)
                    for start in range(0, part.shape[0], per_pass):
                        model.loss(part[start : start + per_pass])
                tick("check forward", t)
    total = 0.0
    print(f"BLAS threads {args.blas_threads}, fastnn kernels on 1 thread; per epoch:")
    for name, values in times.items():
        median = statistics.median(values[len(values) // 6 :])
        calls = CHECKS_PER_EPOCH if name.startswith("check") else ITERATIONS_PER_EPOCH
        per_epoch = median * calls
        total += per_epoch
        print(f"  {name:17s} {median * 1e6:9.1f} us per call  {per_epoch * 1e3:7.1f} ms")
    print(f"  {'total':17s} {'':22s}{total * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
