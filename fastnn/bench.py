"""The benchmark table behind ``fastnn bench`` (bottleneck's ``bn.bench()``, for every kernel).

For every registered kernel (:func:`fastnn.registry.all_kernels`), dtype and shape it times

- ``fastnn``: the compiled kernel,
- ``numpy``: its NumPy reference twin,
- ``torch``: PyTorch's equivalent (``KernelSpec.torch``), when PyTorch is installed,
- ``copy``: ``np.copyto`` of the main input, the memory floor; scaled by the kernel's
  ``floor_bytes`` it is the time a kernel limited only by memory bandwidth would take.

Timing is :func:`fastnn.timing.time_interleaved` (the harness bench/ uses too): each callable
auto-ranged to a loop count whose run lasts at least ``min_time``, the implementations timed in
turn (interleaved, so that a burst of machine noise hits all of them alike) for ``rounds``
rounds; the table shows the median time per call.  ``floor`` is ``floor_bytes * copy /
fastnn``: 100 % means the kernel runs at the speed of a plain copy of the bytes it must touch.
"""

import json
import math
import os
import platform
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from fastnn.timing import time_interleaved

__all__ = [
    "DTYPES",
    "IMPLS",
    "BenchCase",
    "case_callables",
    "format_table",
    "header",
    "parse_size",
    "resolve_shapes",
    "run_bench",
    "write_json",
]

DTYPES = ("float32", "float64")
IMPLS = ("fastnn", "numpy", "torch", "copy")
_SIZE_WORDS = ("small", "large", "all")


@dataclass
class BenchCase:
    """One row of the table: seconds per call (median over rounds) of every implementation."""

    kernel: str
    family: str
    dtype: str
    shape: tuple
    floor_bytes: float
    seconds: dict = field(default_factory=dict)  # impl -> median seconds per call (None: absent)
    error: str = ""

    def speedup(self, impl):
        """``impl`` time / fastnn time (above 1: fastnn is faster); None when not measured."""
        fast, other = self.seconds.get("fastnn"), self.seconds.get(impl)
        if not fast or not other:
            return None
        return other / fast

    @property
    def floor_fraction(self):
        """Fraction of the memory floor reached by the compiled kernel (1.0 = copy speed)."""
        fast, copy = self.seconds.get("fastnn"), self.seconds.get("copy")
        if not fast or not copy:
            return None
        return self.floor_bytes * copy / fast

    def to_dict(self):
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["speedup_numpy"] = self.speedup("numpy")
        d["speedup_torch"] = self.speedup("torch")
        d["floor_fraction"] = self.floor_fraction
        return d


# ----------------------------------------------------------------------------- sizes


def parse_size(text):
    """``"small"``/``"large"``/``"all"``, an element count (``65536``, ``64k``, ``8M``, ``1e6``)
    or an explicit shape (``4096x1000``).  Raises ValueError with a readable message."""
    value = str(text).strip().lower()
    if value in _SIZE_WORDS:
        return value
    if re.fullmatch(r"\d+(x\d+)+", value):
        return tuple(int(part) for part in value.split("x"))
    match = re.fullmatch(r"(\d+(?:\.\d*)?(?:e\d+)?)([km]?)", value)
    if match:
        n = float(match.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20}[match.group(2)]
        if n >= 1 and n == int(n):
            return int(n)
    raise ValueError(
        f"bad size {text!r}: use small, large, all, an element count (65536, 64k, 8M) "
        "or a shape such as 4096x1000"
    )


def resolve_shapes(spec, sizes):
    """The shapes ``spec`` is benchmarked at for the parsed ``sizes`` (see :func:`parse_size`).

    An element count keeps the trailing dimensions of the kernel's largest registered shape
    (features, classes) and sets the number of rows; an explicit shape applies to kernels whose
    registered shapes have that many dimensions and is skipped for the others.
    """
    registered = tuple(tuple(s) for s in spec.shapes)
    if not registered:  # a kernel registered without benchmark shapes is not benchmarked
        return []
    largest = max(registered, key=lambda s: math.prod(s))
    shapes = []
    for size in sizes:
        if size == "small":
            new = [registered[0]]
        elif size == "large":
            new = [registered[-1]]
        elif size == "all":
            new = list(registered)
        elif isinstance(size, tuple):
            new = [size] if len(size) == len(largest) else []
        else:
            trailing = largest[1:]
            rows = max(2, size // max(1, math.prod(trailing))) if trailing else max(1, size)
            new = [(rows, *trailing)]
        shapes += [s for s in new if s not in shapes]
    return shapes


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _main_input(args, shape, dtype):
    for arg in args:
        if isinstance(arg, np.ndarray) and arg.shape == tuple(shape) and arg.dtype == dtype:
            return arg
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def case_callables(spec, dtype, shape, torch=None):
    """The zero-argument calls timed for one case: ``fastnn``, ``numpy``, ``copy`` (of the
    main input) and ``torch`` when the module is given and the kernel has a peer."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(0)
    fast_args, fast_kwargs = spec.make_args(rng, shape, dtype, spec.fast)
    rng = np.random.default_rng(0)
    ref_args, ref_kwargs = spec.make_args(rng, shape, dtype, spec.reference)
    calls = {
        "fastnn": lambda: spec.fast(*fast_args, **fast_kwargs),
        "numpy": lambda: spec.reference(*ref_args, **ref_kwargs),
    }
    if torch is not None and spec.torch is not None:
        rng = np.random.default_rng(0)
        t_args, t_kwargs = spec.make_args(rng, shape, dtype, spec.reference)
        calls["torch"] = spec.torch(torch, t_args, t_kwargs)
    src = _main_input(fast_args, shape, dtype)
    dst = np.empty_like(src)
    calls["copy"] = lambda: np.copyto(dst, src)
    return calls


def run_bench(
    sizes=("all",),
    dtypes=DTYPES,
    kernels=None,
    threads=None,
    rounds=15,
    min_time=0.01,
    use_torch=True,
    progress=None,
):
    """Time every kernel; returns a list of :class:`BenchCase`.

    sizes: parsed sizes (:func:`parse_size`); dtypes: names; kernels: names to keep (None: all);
    threads: thread count for fastnn and PyTorch (None: the current fastnn setting);
    progress: ``progress(done, total, label)`` called before each case, or None.
    A case that raises is kept with its ``error`` set, so one broken kernel does not hide
    the others.
    """
    import fastnn
    from fastnn.registry import all_kernels

    specs = all_kernels()
    if kernels:
        known = {spec.name for spec in specs}
        unknown = [name for name in kernels if name not in known]
        if unknown:
            raise ValueError(
                f"unknown kernel(s) {', '.join(unknown)}; registered: {', '.join(sorted(known))}"
            )
        specs = [spec for spec in specs if spec.name in kernels]
    todo = [
        (spec, dtype, shape)
        for spec in specs
        for dtype in dtypes
        for shape in resolve_shapes(spec, sizes)
    ]
    torch = _import_torch() if use_torch else None
    threads = fastnn.get_num_threads() if threads is None else threads
    torch_threads = torch.get_num_threads() if torch is not None else None
    cases = []
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        with fastnn.num_threads(threads):
            for i, (spec, dtype, shape) in enumerate(todo):
                if progress is not None:
                    progress(i, len(todo), f"{spec.name} {dtype} {_shape_text(shape)}")
                case = BenchCase(spec.name, spec.family, dtype, tuple(shape), spec.floor_bytes)
                try:
                    calls = case_callables(spec, dtype, shape, torch)
                    case.seconds = time_interleaved(calls, rounds=rounds, min_time=min_time)
                except Exception as exc:  # noqa: BLE001 (keep going: report the failure in its row)
                    case.error = f"{type(exc).__name__}: {exc}"
                cases.append(case)
            if progress is not None:
                progress(len(todo), len(todo), "done")
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)
    return cases


# ----------------------------------------------------------------------------- header / output


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(threads=None):
    """Machine and build facts printed above the table (a dict)."""
    from fastnn._config.report import config_dict

    info = config_dict()
    torch = _import_torch()
    return {
        "fastnn": info["fastnn"],
        "python": info["python"],
        "platform": info["platform"],
        "cpu": _cpu_model(),
        "cpu_features": list(info["cpu_features"]),
        "runtime_dispatch": bool(info["runtime_dispatch"]),
        "isa_path": info["isa"]["path"],
        "openmp": all(m["openmp"] for m in info["modules"].values()),
        "threads": info["num_threads"] if threads is None else threads,
        "usable_cores": info["usable_cores"],
        "numpy": info["numpy"],
        "blas": info["blas"],
        "torch": torch.__version__ if torch is not None else None,
        "omp_spin": info["omp_spin"],
    }


def header_lines(head):
    """The header dict (:func:`header`) as the lines printed above the table."""
    features = ", ".join(head["cpu_features"]) or "baseline only"
    torch = f"torch {head['torch']}" if head["torch"] else "torch: not installed"
    dispatch = "on" if head["runtime_dispatch"] else "off"
    return [
        (
            f"fastnn {head['fastnn']}; python {head['python']}; numpy {head['numpy']} "
            f"(BLAS: {head['blas']}); {torch}"
        ),
        f"CPU: {head['cpu']} ({head['platform']})",
        (
            f"CPU features: {features}; run-time dispatch {dispatch} "
            f"(ISA path: {head.get('isa_path', '?')}); OpenMP {'yes' if head['openmp'] else 'NO'}"
        ),
        (
            f"threads: {head['threads']} of {head['usable_cores']} usable cores; "
            f"OpenMP idle threads: {head.get('omp_spin', '?')}"
        ),
    ]


def _shape_text(shape):
    return "x".join(str(n) for n in shape) if shape else "()"


def _time_text(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}" if unit != "us" else f"{seconds / scale:.1f} us"
    return f"{seconds / 1e-9:.0f} ns"


def _ratio_text(value):
    return "-" if value is None else f"{value:.2f}x"


def _percent_text(value):
    return "-" if value is None else f"{100 * value:.0f}%"


COLUMNS = ("kernel", "dtype", "shape", "fastnn", "numpy", "torch", "vs numpy", "vs torch", "floor")


def table_rows(cases):
    rows = []
    for case in cases:
        if case.error:
            rows.append(
                [
                    case.kernel,
                    case.dtype,
                    _shape_text(case.shape),
                    "error: " + case.error,
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            continue
        s = case.seconds
        rows.append(
            [
                case.kernel,
                case.dtype,
                _shape_text(case.shape),
                _time_text(s.get("fastnn")),
                _time_text(s.get("numpy")),
                _time_text(s.get("torch")),
                _ratio_text(case.speedup("numpy")),
                _ratio_text(case.speedup("torch")),
                _percent_text(case.floor_fraction),
            ]
        )
    return rows


def format_table(cases, head, markdown=False):
    """The table as text (aligned columns) or as GitHub markdown, header lines first."""
    rows = table_rows(cases)
    note = (
        "times: median per call; vs numpy / vs torch: their time / fastnn's (above 1 = fastnn "
        "faster); floor: copy of the same bytes / fastnn (100% = memory speed)"
    )
    if markdown:
        lines = [f"- {line}" for line in header_lines(head)] + ["", note, ""]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(COLUMNS) - 3)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [
        max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) if rows else len(COLUMNS[i])
        for i in range(len(COLUMNS))
    ]

    def fmt(row):
        cells = [
            row[i].ljust(widths[i]) if i < 3 else row[i].rjust(widths[i])
            for i in range(len(COLUMNS))
        ]
        if row[3].startswith("error"):
            cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3]]
        return "  ".join(cells).rstrip()

    lines = header_lines(head) + [note, "", fmt(list(COLUMNS))]
    lines.append("-" * len(lines[-1]))
    lines += [fmt(row) for row in rows]
    return "\n".join(lines) + "\n"


def write_json(path, cases, head, settings=None):
    """Header, settings and every case (seconds per implementation, ratios) as JSON."""
    payload = {
        "header": head,
        "settings": settings or {},
        "cases": [case.to_dict() for case in cases],
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    return path
