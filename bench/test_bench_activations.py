"""Activation kernels side by side: fastnn (with a preallocated ``out=`` and allocating), the
NumPy twin, PyTorch (``out=`` and allocating) at the same thread count, and the copy floor.

One pytest-benchmark group per (kernel, dtype, size, threads)::

    pytest bench/test_bench_activations.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=median,iqr,rounds [-k "tanh and 8388608"]

The ratio table (time / floor, speed-up over NumPy and PyTorch), from the median of
interleaved rounds of single calls (fastnn.timing, the harness of ``fastnn bench``)::

    python bench/test_bench_activations.py [--rounds 15] [--kernels tanh,elu] [--threads 1,2]

The size above which two threads beat one (PARALLEL_THRESHOLDS in fastnn/core/threads.py)::

    python bench/test_bench_activations.py --threshold
"""

import argparse
import os
import sys

import numpy as np
import pytest

if __name__ == "__main__":  # run as a script from the source tree
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _peers  # noqa: F401,E402 (PyTorch before fastnn)

import fastnn  # noqa: E402
from fastnn.registry import activations as specs  # noqa: E402
from fastnn.timing import time_interleaved  # noqa: E402

DTYPES = (np.float32, np.float64)
SIZES = (1 << 16, 1 << 23)
IMPLS = ("fastnn_out", "fastnn", "numpy", "torch_out", "torch", "copy")
ALPHA = {"leaky_relu": 0.01, "leaky_relu_backward": 0.01, "elu": 1.0, "elu_backward": 1.0}


def _shape(name, size):
    return (size // specs.MAXOUT_K, specs.MAXOUT_K) if name.startswith("maxout") else (size,)


def _torch_out(torch, name, args):
    """A zero-argument callable running PyTorch's kernel into a preallocated tensor."""
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in args]
    alpha = ALPHA.get(name)
    aten = torch.ops.aten
    if name == "maxout":
        v = torch.empty(t[0].shape[:-1], dtype=t[0].dtype)
        i = torch.empty(t[0].shape[:-1], dtype=torch.int64)
        return lambda: torch.max(t[0], -1, out=(v, i))
    if name == "maxout_backward":
        dz = torch.empty(tuple(t[0].shape) + (args[2],), dtype=t[0].dtype)
        idx = t[1].to(torch.int64).unsqueeze(-1)
        src = t[0].unsqueeze(-1)
        return lambda: dz.zero_().scatter_(-1, idx, src)
    o = torch.empty_like(t[-1])
    calls = {
        "relu": lambda: torch.clamp_min(t[0], 0, out=o),
        "sigmoid": lambda: torch.sigmoid(t[0], out=o),
        "tanh": lambda: torch.tanh(t[0], out=o),
        "leaky_relu": lambda: torch._C._nn.leaky_relu(t[0], alpha, out=o),
        "elu": lambda: torch._C._nn.elu(t[0], alpha, 1, 1, out=o),
        "relu_backward": lambda: aten.threshold_backward.grad_input(t[0], t[1], 0, grad_input=o),
        "sigmoid_backward": lambda: aten.sigmoid_backward.grad_input(t[0], t[1], grad_input=o),
        "tanh_backward": lambda: aten.tanh_backward.grad_input(t[0], t[1], grad_input=o),
        "leaky_relu_backward": lambda: aten.leaky_relu_backward.grad_input(
            t[0], t[1], alpha, False, grad_input=o
        ),
        "elu_backward": lambda: aten.elu_backward.grad_input(
            t[0], alpha, 1, 1, False, t[1], grad_input=o
        ),
    }
    return calls[name]


def make_runner(spec, impl, dtype, size, threads):
    """A zero-argument callable for one benchmark cell (None if unavailable)."""
    rng = np.random.default_rng(0)
    shape = _shape(spec.name, size)
    if impl == "copy":
        src = rng.standard_normal(size).astype(dtype)
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)
    args, kwargs = spec.make_args(rng, shape, dtype, spec.reference)
    if spec.name in ALPHA:
        kwargs = dict(kwargs, alpha=ALPHA[spec.name])
    if impl.startswith("torch"):
        try:
            import torch
        except ImportError:
            return None
        torch.set_num_threads(threads)
        if impl == "torch_out":
            return _torch_out(torch, spec.name, args)
        return spec.torch(torch, args, kwargs)
    if impl == "numpy":
        return lambda: spec.reference(*args, **kwargs)
    if impl == "fastnn_out":
        if spec.name == "maxout_backward":
            return None  # no out= in its API
        out = np.empty(shape[:-1] if spec.name == "maxout" else shape, dtype)
        return lambda: spec.fast(*args, out=out, **kwargs)
    return lambda: spec.fast(*args, **kwargs)


# ---- pytest-benchmark --------------------------------------------------------------------

CASES = [
    pytest.param(spec, np.dtype(dtype), size, id=f"{spec.name}-{np.dtype(dtype).name}-{size}")
    for spec in specs.KERNELS
    for dtype in DTYPES
    for size in SIZES
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("spec, dtype, size", CASES)
def test_activation(benchmark, spec, dtype, size, impl, threads):
    fastnn.set_num_threads(threads)
    run = make_runner(spec, impl, dtype, size, threads)
    if run is None:
        pytest.skip(f"{impl} is not available for {spec.name}")
    benchmark.group = f"{spec.name} {dtype.name} {size} {threads}T"
    benchmark.extra_info.update(kernel=spec.name, impl=impl, floor_bytes=spec.floor_bytes)
    benchmark(run)


# ---- ratio table (script) ------------------------------------------------------------------


def ratio_table(kernels, threads_list, rounds, file=sys.stdout):
    print(
        "kernel               dtype   size     T  fast/floor  alloc/floor  numpy/fast"
        "  torch/fast(out)  torch/fast(alloc)",
        file=file,
    )
    for spec in specs.KERNELS:
        if kernels and spec.name not in kernels:
            continue
        for threads in threads_list:
            fastnn.set_num_threads(threads)
            for dtype in DTYPES:
                for size in SIZES:
                    runners = {
                        impl: make_runner(spec, impl, dtype, size, threads) for impl in IMPLS
                    }
                    # single calls, many more of them for the small size
                    t = time_interleaved(
                        {k: v for k, v in runners.items() if v},
                        rounds if size > 1 << 20 else 20 * rounds,
                        min_time=0,
                    )
                    floor = t["copy"] * spec.floor_bytes
                    fast = t.get("fastnn_out", t["fastnn"])

                    def ratio(a, b):
                        return f"{t[a] / t[b]:.2f}" if a in t and b in t else "-"

                    torch_out = f"{t['torch_out'] / fast:.2f}" if "torch_out" in t else "-"
                    print(
                        f"{spec.name:<20} {np.dtype(dtype).name:<7} {size:<8} {threads}"
                        f"  {fast / floor:10.2f}  {t['fastnn'] / floor:11.2f}"
                        f"  {t['numpy'] / fast:10.2f}  {torch_out:>15}"
                        f"  {ratio('torch', 'fastnn'):>17}",
                        file=file,
                        flush=True,
                    )


def threshold_table(rounds, file=sys.stdout):
    """Time of one thread over two threads by size, for a cheap and an exp kernel."""
    from fastnn._kernels import activations as ext

    print(
        "size      "
        + "  ".join(
            f"{n:>18}" for n in ("relu 1T/2T", "relu_bwd 1T/2T", "sigmoid 1T/2T", "tanh 1T/2T")
        ),
        file=file,
    )
    rng = np.random.default_rng(0)
    for shift in range(10, 19):
        n = 1 << shift
        cols = []
        for name in ("relu", "relu_backward", "sigmoid", "tanh"):
            for dtype in (np.float32, np.float64):
                a = rng.standard_normal(n).astype(dtype)
                b = rng.standard_normal(n).astype(dtype)
                out = np.empty_like(a)
                op = ext.OPS[name]
                bb = b if name.endswith("_backward") else None
                # single calls: on a shared machine a batch of calls almost always contains
                # one where the second thread was descheduled
                t = time_interleaved(
                    {nt: (lambda nt=nt: ext.apply(op, a, bb, out, 0.0, nt)) for nt in (1, 2)},
                    rounds,
                    min_time=0,
                )
                cols.append(t[1] / t[2])
        print(
            f"{n:<9} "
            + "  ".join(f"{cols[i]:8.2f}/{cols[i + 1]:<8.2f}" for i in range(0, len(cols), 2)),
            file=file,
            flush=True,
        )
    print("(each cell: float32/float64; > 1 means two threads are faster)", file=file)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--kernels", default="", help="comma-separated kernel names")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument(
        "--threshold",
        action="store_true",
        help="measure the 1T/2T crossover (use --rounds 200 or more)",
    )
    args = parser.parse_args(argv)
    if args.threshold:
        threshold_table(args.rounds)
        return
    import platform

    print(
        f"fastnn {fastnn.__version__}, numpy {np.__version__}, cores={os.cpu_count()}, "
        f"{platform.machine()}; time = median over {args.rounds} (8M) / {20 * args.rounds} (65K)"
        " interleaved single calls; fast = fastnn with out=, floor = np.copyto time x "
        "floor_bytes; torch/fast > 1 means fastnn is faster"
    )
    ratio_table(
        [k for k in args.kernels.split(",") if k],
        [int(t) for t in args.threads.split(",")],
        args.rounds,
    )


if __name__ == "__main__":
    main()
