"""fastnn's baseline path against NumPy restricted to its own baseline, every kernel.

The issue's target: on a CPU (or a build) without AVX2, fastnn's baseline path is at least as
fast as NumPy is there.  Both are capped in one fresh interpreter (the variables must be set
before NumPy and fastnn import): FASTNN_MAX_CPU_ISA=baseline, and NPY_DISABLE_CPU_FEATURES
naming every feature NumPy dispatches to above its baseline (``__cpu_dispatch__``: X86_V3,
X86_V4, ... on NumPy 2.4; AVX2, FMA3, AVX512F, ... on older NumPy).  The child checks that both
caps took effect, then times fastnn's kernel and its NumPy twin (fastnn.reference, the
"numpy" column of ``fastnn bench``) side by side: fastnn.timing's interleaved rounds,
medians.  ratio = NumPy time / fastnn time (>= 1: the target holds).  With dropout selected, a
``dropout_pair`` row also times a training step's forward + backward against the course's
NumPy pair (a stored mask: ``mask = (np.random.rand(*x.shape) < p) / p``, ``x * mask``,
``dout * mask``; bench/test_bench_dropout_pair.py): the backward alone reads the bits its
forward stored on this path (fastnn.core.dropout.STORES_MASK_BITS), so the pair also counts
the cost of storing them.

    python bench/numpy_baseline.py --size large --threads 1 --rounds 11
    python bench/numpy_baseline.py --kernels tanh,softmax_loss --dtypes float32
"""

import argparse
import os
import statistics
import subprocess
import sys

CHILD_FLAG = "FASTNN_NUMPY_BASELINE_CHILD"


def numpy_dispatch_features():
    """The CPU features NumPy dispatches to above its compiled baseline."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    return list(__cpu_dispatch__)


def run_child(argv):
    env = dict(os.environ)
    env[CHILD_FLAG] = "1"
    env["FASTNN_MAX_CPU_ISA"] = "baseline"
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(numpy_dispatch_features())
    return subprocess.call([sys.executable, os.path.abspath(__file__), *argv], env=env)


def check_caps():
    """Both libraries on their baseline, or SystemExit naming what is not."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    import fastnn
    from fastnn._config.report import config_dict

    still_on = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    if still_on:
        raise SystemExit(f"NumPy still dispatches to {still_on}")
    path = config_dict()["isa"]["path"]
    if path != "baseline":
        raise SystemExit(f"fastnn runs its {path} path, not baseline")
    return fastnn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", help="small, large, all or an element count")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--kernels", default="", help="comma-separated names (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--min-time", type=float, default=0.01)
    args = parser.parse_args(argv)
    if os.environ.get(CHILD_FLAG) != "1":
        raise SystemExit(run_child(sys.argv[1:] if argv is None else argv))

    fastnn = check_caps()
    import numpy as np

    from fastnn.bench import case_callables, parse_size, resolve_shapes
    from fastnn.registry import all_kernels
    from fastnn.timing import sample_interleaved

    wanted = {name for name in args.kernels.split(",") if name}
    specs = [spec for spec in all_kernels() if not wanted or spec.name in wanted]
    sizes = [parse_size(args.size)]
    fastnn.set_num_threads(args.threads)
    print(
        f"# fastnn baseline path vs NumPy {np.__version__} with NPY_DISABLE_CPU_FEATURES="
        f'"{os.environ["NPY_DISABLE_CPU_FEATURES"]}"; {args.threads} thread(s), '
        f"{args.rounds} rounds, medians"
    )
    print("| kernel | dtype | shape | fastnn us | numpy us | numpy/fastnn |")
    print("|---|---|---|---|---|---|")
    cases = [
        (spec.name, dtype, shape, case_callables(spec, dtype, shape))
        for spec in specs
        for dtype in args.dtypes.split(",")
        for shape in resolve_shapes(spec, sizes)
    ]
    if any(spec.family == "dropout" for spec in specs):
        from test_bench_dropout_pair import dropout_calls  # bench/ is this script's folder

        dropout = next(spec for spec in all_kernels() if spec.name == "dropout_backward")
        cases += [
            ("dropout_pair", dtype, shape, _pair_calls(dropout_calls(np.dtype(dtype), shape)))
            for dtype in args.dtypes.split(",")
            for shape in resolve_shapes(dropout, sizes)
        ]
    behind = []
    for name, dtype, shape, calls in cases:
        timed = {impl: calls[impl] for impl in ("fastnn", "numpy")}
        samples = sample_interleaved(timed, args.rounds, args.min_time)
        med = {impl: statistics.median(values) for impl, values in samples.items()}
        ratio = med["numpy"] / med["fastnn"]
        shape_text = "x".join(map(str, shape))
        if ratio < 1:
            behind.append(f"{name} {dtype} {shape_text}")
        print(
            f"| {name} | {dtype} | {shape_text} | {med['fastnn'] * 1e6:.0f} | "
            f"{med['numpy'] * 1e6:.0f} | {ratio:.2f} |",
            flush=True,
        )
    print(f"\n# behind NumPy: {', '.join(behind) if behind else 'none'}")


def _pair_calls(calls):
    """The dropout pair's fastnn step and the course's NumPy step, named like a case's."""
    return {"fastnn": calls["fastnn"], "numpy": calls["course"]}


if __name__ == "__main__":
    main()
