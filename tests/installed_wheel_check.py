"""Run by tests/test_wheel.py with the interpreter of a fresh venv holding the installed wheel
(not collected by pytest): every registered kernel against its NumPy twin, then one JSON line
with the facts the test checks (where fastnn and libgomp were loaded from, OpenMP per module,
CPU features and, when the build has it, the ISA path report).

The ISA cap comes from FASTNN_MAX_CPU_ISA in the environment, read at import.
"""

import json
import sys

import numpy as np

import fastnn
from fastnn._kernels import _runtime
from fastnn.registry import KERNEL_MODULES, all_kernels

# The tolerance of tests/test_registry.py: the twins agree to rounding, not bit for bit.
TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 1e-6}, np.float64: {"rtol": 1e-9, "atol": 1e-10}}


def compared_outputs(result, args, inplace):
    """The arrays a call produced: its returned arrays (caches and other objects skipped),
    then the arguments it updates in place."""
    if result is None:
        returned = []
    elif isinstance(result, tuple):
        returned = [r for r in result if isinstance(r, (np.ndarray, float))]
    else:
        returned = [result]
    return returned + [args[i] for i in inplace]


def check_every_kernel_against_its_twin():
    """Call each kernel at its smallest benchmark shape in float32 and float64 (large enough
    for the vector loops and the threaded path) and compare with the twin."""
    checked = 0
    for spec in all_kernels():
        shape = min(spec.shapes, key=lambda s: int(np.prod(s)))
        for dtype in (np.float32, np.float64):
            fast_args, fast_kwargs = spec.make_args(
                np.random.default_rng(0), shape, dtype, spec.fast
            )
            ref_args, ref_kwargs = spec.make_args(
                np.random.default_rng(0), shape, dtype, spec.reference
            )
            got = compared_outputs(spec.fast(*fast_args, **fast_kwargs), fast_args, spec.inplace)
            want = compared_outputs(spec.reference(*ref_args, **ref_kwargs), ref_args, spec.inplace)
            what = f"{spec.name} {np.dtype(dtype).name} {shape}"
            assert len(got) == len(want) > 0, what
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, equal_nan=True, err_msg=what, **TOLERANCE[dtype])
            checked += 1
    return checked


def loaded_openmp_runtimes():
    """Paths of the OpenMP runtimes mapped into this process (Linux)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split(None, 5)[-1].strip() for line in maps if "gomp" in line}
    return sorted(paths)


def main():
    checked = check_every_kernel_against_its_twin()
    report = {
        "fastnn_file": fastnn.__file__,
        "kernels_checked": checked,
        "openmp_runtimes": loaded_openmp_runtimes(),
        "openmp": {name: bool(module.OPENMP) for name, module in KERNEL_MODULES.items()},
        "cpu_features": _runtime.cpu_features(),
        "isa_info": _runtime.isa_info(),
    }
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    sys.exit(main())
