"""Adam alone, hot, on one thread: ``optim.update_all("adam", ...)`` over the parameters of
bench/test_bench_solver.py's model (FullyConnectedNet([100, 100]), batchnorm, float32, 320k
values), and the float64 twin of that model.  Median microseconds per call over interleaved
rounds (fastnn.timing).  The ISA path follows FASTNN_MAX_CPU_ISA (baseline, avx2, or unset).

    FASTNN_MAX_CPU_ISA=avx2 PYTHONPATH=. python bench/adam_alone.py [--rounds 15]
"""

import argparse
import os

import numpy as np
from test_bench_solver import LR, C, D, H

import fastnn
from fastnn import optim
from fastnn.timing import time_interleaved


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    calls = {}
    for dtype in (np.float32, np.float64):
        model = fastnn.FullyConnectedNet([H, H], D, C, batchnorm=True, dtype=dtype, seed=0)
        rng = np.random.default_rng(0)
        grads = {k: rng.standard_normal(p.shape).astype(dtype) for k, p in model.params.items()}
        configs = {name: {"learning_rate": LR} for name in model.params}
        for _ in range(3):  # past the first steps (t > 1), the state arrays allocated
            optim.update_all("adam", model.params, grads, configs)
        calls[np.dtype(dtype).name] = lambda m=model, g=grads, c=configs: optim.update_all(
            "adam", m.params, g, c
        )
    with fastnn.num_threads(1):
        medians = time_interleaved(calls, rounds=args.rounds)
    isa = os.environ.get("FASTNN_MAX_CPU_ISA", "default")
    for name, seconds in medians.items():
        print(f"adam alone {name} isa={isa}: {seconds * 1e6:8.1f} us per call")


if __name__ == "__main__":
    main()
