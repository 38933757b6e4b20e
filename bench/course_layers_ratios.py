"""Interleaved side-by-side timings of svm_loss, dropout and layer norm against their peers.

- dropout forward + backward: fastnn, the course's NumPy (``(np.random.rand(*x.shape) < p) /
  p``, then ``x * mask`` and ``dout * mask``) and the floor (two ``np.copyto`` of x);
- layernorm forward and backward: fastnn, the NumPy twin and PyTorch's native_layer_norm
  (+ native_layer_norm_backward), the registry's calls (what ``fastnn bench`` times);
- svm_loss: fastnn and the NumPy twin.

Each round times every implementation of a row once (fastnn.timing); the table shows medians
and the ratios of the row.  Prints a Markdown table.

    python bench/course_layers_ratios.py [--threads 1,2] [--rounds 15] [--min-time 0.005]
"""

import argparse

import _peers  # noqa: F401 (PyTorch before fastnn)
import numpy as np
from test_bench_dropout_pair import dropout_calls

import fastnn
from fastnn import registry
from fastnn.bench import case_callables
from fastnn.timing import time_interleaved


def _dropout_calls(shape, dtype):
    """test_bench_dropout_pair's calls without the twin, the copies named floor."""
    calls = dropout_calls(dtype, shape)
    return {"fastnn": calls["fastnn"], "course": calls["course"], "floor": calls["copy2"]}


def _rows(shapes, dtype, torch):
    for shape in shapes:
        yield f"dropout fwd+bwd {shape}", _dropout_calls(shape, dtype)
    for kind in ("forward", "backward"):
        for shape in shapes:
            calls = case_callables(registry.get(f"layernorm_{kind}"), dtype, shape, torch)
            calls.pop("copy")
            yield f"layernorm {kind} {shape}", calls
    for shape in ((200, 10), (4096, 1000)):
        calls = case_callables(registry.get("svm_loss"), dtype, shape)
        calls.pop("copy")
        yield f"svm_loss {shape}", calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--min-time", type=float, default=0.005)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    import torch

    shapes = ((256, 512), (4096, 1024))
    print("| case | threads | fastnn ms | others ms | fastnn speed-up (other / fastnn) |")
    print("|---|---|---|---|---|")
    for threads in (int(t) for t in args.threads.split(",")):
        fastnn.set_num_threads(threads)
        torch.set_num_threads(threads)
        for name, calls in _rows(shapes, np.dtype(args.dtype), torch):
            t = time_interleaved(calls, rounds=args.rounds, min_time=args.min_time)
            others = ", ".join(f"{k} {v * 1e3:.3f}" for k, v in t.items() if k != "fastnn")
            ratios = ", ".join(f"{k} {v / t['fastnn']:.2f}x" for k, v in t.items() if k != "fastnn")
            print(f"| {name} | {threads} | {t['fastnn'] * 1e3:.3f} | {others} | {ratios} |")


if __name__ == "__main__":
    main()
