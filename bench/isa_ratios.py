"""Side-by-side timings, in one process, of several ISA paths or builds of the kernel modules,
against a copy of the same bytes (the memory floor) and PyTorch.

A variant is ``label=tree[,cap]``: a copy of the tree's compiled kernel modules
(``<tree>/fastnn/_kernels/<family>*.so``, an in-place build) loaded under its own name with
FASTNN_MAX_CPU_ISA=cap (default: no cap).  Each copy has its own dispatch state, so the
AVX2 and the baseline path of one build, or a gcc and a clang build, run side by side; the
public wrappers (fastnn.tanh, ...) are pointed at each variant's module in turn.  Timing is
fastnn.timing's (auto-ranged loops, every variant, the copy and PyTorch in turn within each
round); the table shows medians over the rounds.

    python bench/isa_ratios.py avx2=.,avx2 baseline=.,baseline --threads 1,2 --rounds 15
    python bench/isa_ratios.py gcc=. clang=/tmp/clang-tree --size 1M --threads 1

PyTorch, when installed, runs its own default CPU path (set ATEN_CPU_CAPABILITY before
starting to pick another).  The machine may be shared: read the copy column for the noise.
"""

import argparse
import glob
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# this tree's fastnn (its Python wrappers), not another installed or editable copy
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _peers  # noqa: F401 (PyTorch before fastnn)

import fastnn
from fastnn import registry
from fastnn._kernels import _runtime
from fastnn.bench import case_callables, parse_size
from fastnn.timing import sample_interleaved

# every kernel family whose wrappers (fastnn.core.<family>) call a compiled module `_ext`
FAMILIES = ("activations", "softmax", "batchnorm", "layernorm", "bias", "dropout", "optim", "svm")
# the element-wise kernels (called with out=, the setting): activations but maxout
ELEMENTWISE = tuple(
    spec.name
    for spec in registry.all_kernels()
    if spec.family == "activations" and not spec.name.startswith("maxout")
)


def load_variant(label, tree, cap, tmp):
    """{family: module}: copies of tree's kernel modules selected under ``cap``."""
    modules = {}
    saved = _runtime._cap
    cap_index, problem = _runtime.parse_isa_cap(cap)
    if problem:
        raise SystemExit(problem)
    _runtime._cap = (cap_index, cap, None)
    try:
        for family in FAMILIES:
            found = glob.glob(os.path.join(tree, "fastnn", "_kernels", f"{family}.*so"))
            if len(found) != 1:
                raise SystemExit(f"{tree}: expected one compiled {family} module, got {found}")
            folder = os.path.join(tmp, label)
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, os.path.basename(found[0]))
            shutil.copy(found[0], path)  # its own copy: its own dispatch state
            spec = importlib.util.spec_from_file_location(f"fastnn_variant_{label}.{family}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            modules[family] = module
    finally:
        _runtime._cap = saved
    return modules


def with_out(spec, calls, dtype, shape):
    """The fastnn call with out= for the element-wise kernels (the issue's setting)."""
    if spec.name not in ELEMENTWISE:
        return calls["fastnn"]
    rng = np.random.default_rng(0)
    args, kwargs = spec.make_args(rng, shape, dtype, spec.fast)
    out = np.empty(shape, dtype)
    return lambda: spec.fast(*args, out=out, **kwargs)


def on_variant(fn, modules):
    """``fn`` with the public wrappers pointed at the variant's compiled ``modules`` first."""
    cores = [(importlib.import_module(f"fastnn.core.{f}"), modules[f]) for f in FAMILIES]

    def call():
        for core, module in cores:
            core._ext = module
        fn()

    return call


def _us(seconds):
    """Microseconds with three significant digits (a 1.4 us call is not rounded to 1)."""
    return f"{seconds * 1e6:.3g}" if seconds < 1e-4 else f"{seconds * 1e6:.0f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--min-time", type=float, default=0.01, help="seconds of one timed loop (auto-ranged)"
    )
    parser.add_argument("--size", default="8M", help="element count for element-wise kernels")
    parser.add_argument("--kernels", default=",".join(ELEMENTWISE))
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument(
        "--shapes",
        default="",
        help="name:AxB[;...] shapes for row kernels, e.g. softmax_loss:256x1000",
    )
    args = parser.parse_args(argv)
    torch = sys.modules.get("torch")

    tmp = tempfile.mkdtemp(prefix="fastnn-isa-ratios-")
    variants = []
    for text in args.variants:
        label, _, rest = text.partition("=")
        tree, _, cap = rest.partition(",")
        variants.append((label, load_variant(label, os.path.abspath(tree), cap or None, tmp)))
    cores = {family: importlib.import_module(f"fastnn.core.{family}") for family in FAMILIES}

    size = parse_size(args.size)
    elements = int(np.prod(size)) if isinstance(size, tuple) else int(size)
    shapes = {}
    for item in filter(None, args.shapes.split(";")):
        name, _, text = item.partition(":")
        shapes.setdefault(name, []).append(tuple(int(v) for v in text.split("x")))
    names = [n for n in args.kernels.split(",") if n] + [n for n in shapes if n not in args.kernels]
    specs = {spec.name: spec for spec in registry.all_kernels()}
    cases = []
    for name in names:
        spec = specs[name]
        for dtype in args.dtypes.split(","):
            for shape in shapes.get(name, [(elements,)]):
                cases.append((spec, np.dtype(dtype), shape))

    labels = [label for label, _ in variants]
    print(
        "# variants: "
        + ", ".join(
            f"{label} ({getattr(mods['activations'], 'ISA', 'clones')})" for label, mods in variants
        )
        + f"; torch: {torch.__version__ if torch else 'absent'}; {args.rounds} rounds, "
        f"loops of >= {args.min_time} s, medians; shared machine"
    )
    head = ["kernel", "dtype", "shape", "threads"] + [f"{lb} us" for lb in labels]
    head += [f"{lb} floor%" for lb in labels] + ["copy us", "torch us"]
    head += [f"{lb}/{labels[0]}" for lb in labels[1:]] + [f"{lb}/torch" for lb in labels]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for threads in (int(t) for t in args.threads.split(",")):
        fastnn.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for spec, dtype, shape in cases:
            calls = case_callables(spec, dtype, shape, torch)
            fast = with_out(spec, calls, dtype, shape)
            timed = {label: on_variant(fast, mods) for label, mods in variants}
            timed["copy"] = calls["copy"]
            if "torch" in calls:
                timed["torch"] = calls["torch"]
            timings = sample_interleaved(timed, args.rounds, args.min_time)
            for family in FAMILIES:
                cores[family]._ext = importlib.import_module(f"fastnn._kernels.{family}")
            med = {k: statistics.median(v) for k, v in timings.items() if v}
            floor = spec.floor_bytes * med["copy"]
            row = [spec.name, dtype.name, "x".join(map(str, shape)), str(threads)]
            row += [_us(med[lb]) for lb in labels]
            row += [f"{100 * floor / med[lb]:.0f}%" for lb in labels]
            row += [
                _us(med["copy"]),
                _us(med["torch"]) if "torch" in med else "-",
            ]
            row += [f"{med[lb] / med[labels[0]]:.2f}" for lb in labels[1:]]
            row += [f"{med[lb] / med['torch']:.2f}" if "torch" in med else "-" for lb in labels]
            print("| " + " | ".join(row) + " |", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
