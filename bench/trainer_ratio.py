"""Direct, alternating timing of one trainer epoch on the compiled core vs the NumPy backend,
and vs the epoch's matrix products alone (the ``matmul`` case of test_bench_trainer.py).

The pytest-benchmark file (test_bench_trainer.py) runs implementations one after another;
on a shared machine load drifts between them.  This script alternates the two backends
round by round (fastnn.timing, one epoch per sample) and reports min and median per backend
and their ratio.

    PYTHONPATH=. python bench/trainer_ratio.py [--threads 1,2] [--rounds 7] [--update sgd]

BLAS threads are set to the same count with threadpoolctl.  The trainer runs fastnn's own
kernels on one thread whatever the setting (see fastnn/trainer.py), so --threads varies the
BLAS threads of the matrix products, which dominate the epoch.
"""

import argparse
import statistics

import _peers  # noqa: F401 (PyTorch before fastnn)
from test_bench_trainer import (  # same data and epoch as the benchmark
    fastnn_epoch,
    make_data,
    matmul_epoch,
)

import fastnn
from fastnn.timing import sample_interleaved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--update", default="sgd")
    args = parser.parse_args()
    data = make_data()
    from threadpoolctl import threadpool_limits  # BLAS threads = fastnn threads

    for threads in [int(t) for t in args.threads.split(",")]:
        fastnn.set_num_threads(threads)
        limit = threadpool_limits(threads)
        runs = {b: fastnn_epoch(data, b, args.update) for b in ("cython", "numpy")}
        runs["matmul"] = matmul_epoch(data)
        times = sample_interleaved(runs, args.rounds, min_time=0)
        limit.restore_original_limits()
        c, n, mm = times["cython"], times["numpy"], times["matmul"]
        print(
            f"threads={threads} update={args.update}: "
            f"cython min {min(c) * 1e3:.1f} ms median {statistics.median(c) * 1e3:.1f} ms | "
            f"numpy min {min(n) * 1e3:.1f} ms median {statistics.median(n) * 1e3:.1f} ms | "
            f"ratio min {min(n) / min(c):.3f} "
            f"median {statistics.median(n) / statistics.median(c):.3f} | "
            f"matmul median {statistics.median(mm) * 1e3:.1f} ms, cython / matmul "
            f"{statistics.median(c) / statistics.median(mm):.3f}"
        )


if __name__ == "__main__":
    main()
