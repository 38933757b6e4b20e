"""Interleaved side-by-side timings of the batchnorm targets (issue 4): fastnn vs the NumPy
reference, PyTorch (aten native_batch_norm / native_batch_norm_backward) and a copy of x.

Each round times every implementation once (best of a few calls, so that one preemption
does not count) and the table shows each one's median over the rounds; interleaving the
implementations makes background load hit all of them alike.

    python bench/bn_ratios.py [--threads 1,2] [--rounds 15] [--shapes 4096x1024,32x64x32x32]
"""

import argparse
import statistics
import time

import numpy as np

import _peers  # noqa: F401,E402 (PyTorch before fastnn)
import fastnn
from fastnn import reference as ref
from fastnn.core import batchnorm as bn

SHAPES = ((64, 100), (256, 512), (4096, 1024), (32, 64, 32, 32))


def _best(fn, calls):
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES),
                        help="comma-separated shapes (default: the issue's four)")
    opts = parser.parse_args()
    shapes = [tuple(int(n) for n in s.split("x")) for s in opts.shapes.split(",")]
    import torch

    print(f"{'case':34s} {'fastnn ms':>9s} {'x numpy':>8s} {'x torch':>8s} {'/copy':>6s}")
    for threads in (int(t) for t in opts.threads.split(",")):
        fastnn.set_num_threads(threads)
        torch.set_num_threads(threads)
        for shape in shapes:
            spatial = len(shape) == 4
            fwd = bn.spatial_batchnorm_forward if spatial else bn.batchnorm_forward
            bwd = bn.spatial_batchnorm_backward if spatial else bn.batchnorm_backward
            rfwd = ref.spatial_batchnorm_forward if spatial else ref.batchnorm_forward
            rbwd = ref.spatial_batchnorm_backward if spatial else ref.batchnorm_backward
            for dtype in (np.float32, np.float64):
                rng = np.random.default_rng(0)
                x = rng.standard_normal(shape).astype(dtype)
                c = shape[1]
                g, b = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
                dout = rng.standard_normal(shape).astype(dtype)
                p, rp = {"mode": "train"}, {"mode": "train"}
                _, cache = fwd(x, g, b, p)
                _, rcache = rfwd(x, g, b, rp)
                tx, tg, tb, td = (torch.from_numpy(a) for a in (x, g, b, dout))
                rm, rv = torch.zeros_like(tg), torch.ones_like(tg)
                _, sm, si = torch.ops.aten.native_batch_norm(tx, tg, tb, rm, rv, True, 0.1, 1e-5)
                y = np.empty_like(x)
                fns = {
                    "fwd": lambda: fwd(x, g, b, p),
                    "bwd": lambda: bwd(dout, cache),
                    "np fwd": lambda: rfwd(x, g, b, rp),
                    "np bwd": lambda: rbwd(dout, rcache),
                    "torch fwd": lambda: torch.ops.aten.native_batch_norm(
                        tx, tg, tb, rm, rv, True, 0.1, 1e-5),
                    "torch bwd": lambda: torch.ops.aten.native_batch_norm_backward(
                        td, tx, tg, rm, rv, sm, si, True, 1e-5, [True, True, True]),
                    "copy": lambda: np.copyto(y, x),
                }
                calls = max(2, min(50, int(2e6 / x.size)))
                rounds = {k: [] for k in fns}
                for _ in range(opts.rounds):
                    for k, f in fns.items():
                        rounds[k].append(_best(f, calls if not k.startswith("np") else 2))
                best = {k: statistics.median(v) for k, v in rounds.items()}
                for kind in ("fwd", "bwd"):
                    t = best[kind]
                    name = f"{kind} {np.dtype(dtype).name} {'x'.join(map(str, shape))} {threads}T"
                    print(f"{name:34s} {t * 1e3:9.4f} {best['np ' + kind] / t:8.1f} "
                          f"{best['torch ' + kind] / t:8.2f} {t / best['copy']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
