"""Why the training loop's memory-bound kernels slow down when BLAS runs on 2 threads: the
minibatch gather (200 x 3072 float32 rows into one buffer) and the adam step of W1
(3072 x 100), each timed right after matrix products that touch (or do not touch) the memory
the kernel then writes.

Cases (per iteration: gather, then the case's GEMMs, then adam on W1):
  none        no GEMM
  fwd W1      x @ W1 (BLAS reads W1, which adam then writes)
  fwd other   x @ W (a weight adam does not write)
  dW1         x.T @ dout (BLAS reads x, which the next gather writes; adam reads its result)
  spinner     no GEMM, BLAS on 1 thread, and a thread of this process spinning on
              sched_yield (OpenBLAS's idle worker does that) -- printed with BLAS 1 and 2

Medians in microseconds per call, BLAS on 1 and on 2 threads; fastnn's kernels on one
thread, as in the Solver and the trainer.

    PYTHONPATH=. python bench/two_thread_probe.py [--iterations 80]
"""

import argparse
import ctypes
import statistics
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn
from fastnn.core import adam_update, take_rows

ROWS, D, H, BATCH = 10_000, 3072, 100, 200
CASES = ("none", "fwd W1", "fwd other", "dW1", "spinner")


class Spinner:
    """A thread calling sched_yield in a loop (through ctypes, without the GIL)."""

    def __init__(self):
        libc = ctypes.CDLL(None)
        self.stop = False
        self.thread = threading.Thread(target=self._spin, args=(libc.sched_yield,), daemon=True)

    def _spin(self, sched_yield):
        while not self.stop:
            for _ in range(10_000):
                sched_yield()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


def measure(case, blas_threads, iterations, data):
    X, W1, W, dout, x, m, v = data
    rng = np.random.default_rng(1)
    gather, update = [], []
    with threadpool_limits(blas_threads), fastnn.num_threads(1):
        for t in range(1, iterations + 1):
            idx = rng.integers(0, ROWS, BATCH)
            start = time.perf_counter()
            take_rows(X, idx, out=x)
            gathered = time.perf_counter()
            g = W  # the gradient adam reads: a fixed array unless BLAS just computed it
            if case == "fwd W1":
                x @ W1
            elif case == "fwd other":
                x @ W
            elif case == "dW1":
                g = x.T @ dout
            before = time.perf_counter()
            adam_update(W1, g, m, v, 1e-3, t)
            done = time.perf_counter()
            gather.append(gathered - start)
            update.append(done - before)
    skip = iterations // 6
    return (
        statistics.median(gather[skip:]) * 1e6,
        statistics.median(update[skip:]) * 1e6,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=80)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data = (
        rng.standard_normal((ROWS, D), dtype=np.float32),
        0.01 * rng.standard_normal((D, H), dtype=np.float32),
        0.01 * rng.standard_normal((D, H), dtype=np.float32),
        rng.standard_normal((BATCH, H), dtype=np.float32),
        np.empty((BATCH, D), np.float32),
        np.zeros((D, H), np.float32),
        np.zeros((D, H), np.float32),
    )
    print("us per call (median): gather | adam on W1, with BLAS on 1 thread | on 2 threads")
    for case in CASES:
        row = []
        for blas in (1, 2):
            if case == "spinner":
                with Spinner():
                    row.append(measure("none", blas, args.iterations, data))
            else:
                row.append(measure(case, blas, args.iterations, data))
        (g1, u1), (g2, u2) = row
        print(f"  {case:10s} {g1:6.0f} | {u1:6.0f}    {g2:6.0f} | {u2:6.0f}")


if __name__ == "__main__":
    main()
