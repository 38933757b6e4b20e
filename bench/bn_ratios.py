"""Interleaved side-by-side timings of batch normalization: fastnn vs the NumPy reference,
PyTorch (aten native_batch_norm / native_batch_norm_backward) and a copy of x.

The calls are the registry's (fastnn.bench.case_callables, what ``fastnn bench`` times) and
the timer is fastnn.timing's: each round times every implementation once, auto-ranged to
--min-time seconds, and the table shows each one's median over the rounds; interleaving the
implementations makes background load hit all of them alike.

    python bench/bn_ratios.py [--threads 1,2] [--rounds 15] [--min-time 0.005]
        [--shapes 4096x1024,32x64x32x32]
"""

import argparse

import _peers  # noqa: F401 (PyTorch before fastnn)

import fastnn
from fastnn import registry
from fastnn.bench import case_callables
from fastnn.timing import time_interleaved

# The registry's shapes: three (N, D) and one (N, C, H, W).
SHAPES = registry.get("batchnorm_forward").shapes + registry.get("spatial_batchnorm_forward").shapes


def _specs(shape):
    """(forward, backward) specs for a shape: the spatial ones for a 4-d shape."""
    prefix = "spatial_" if len(shape) == 4 else ""
    return {kind: registry.get(f"{prefix}batchnorm_{kind}") for kind in ("forward", "backward")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--min-time", type=float, default=0.005, help="seconds each implementation runs per round"
    )
    parser.add_argument(
        "--shapes",
        default=",".join("x".join(map(str, s)) for s in SHAPES),
        help="comma-separated shapes (default: the registry's four)",
    )
    opts = parser.parse_args()
    shapes = [tuple(int(n) for n in s.split("x")) for s in opts.shapes.split(",")]
    import torch

    print(f"{'case':34s} {'fastnn ms':>9s} {'x numpy':>8s} {'x torch':>8s} {'/copy':>6s}")
    for threads in (int(t) for t in opts.threads.split(",")):
        fastnn.set_num_threads(threads)
        torch.set_num_threads(threads)
        for shape in shapes:
            for dtype in ("float32", "float64"):
                for kind, spec in _specs(shape).items():
                    calls = case_callables(spec, dtype, shape, torch)
                    best = time_interleaved(calls, opts.rounds, opts.min_time)
                    t = best["fastnn"]
                    label = {"forward": "fwd", "backward": "bwd"}[kind]
                    name = f"{label} {dtype} {'x'.join(map(str, shape))} {threads}T"
                    print(
                        f"{name:34s} {t * 1e3:9.4f} {best['numpy'] / t:8.1f} "
                        f"{best['torch'] / t:8.2f} {t / best['copy']:6.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
