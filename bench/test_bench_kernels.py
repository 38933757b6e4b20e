"""Every registered kernel against its NumPy twin, PyTorch (when installed) and a copy.

One pytest-benchmark group per (kernel, dtype, shape, threads); ``copy`` is ``np.copyto`` of
the main input (the memory floor: scale it by the kernel's ``floor_bytes``).

    pytest bench --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
"""

import numpy as np
import pytest

import fastnn
from fastnn.bench import DTYPES, IMPLS, case_callables
from fastnn.registry import all_kernels

CASES = [
    pytest.param(
        spec, np.dtype(dtype), shape, id=f"{spec.name}-{dtype}-{'x'.join(map(str, shape))}"
    )
    for spec in all_kernels()
    for dtype in DTYPES
    for shape in spec.shapes
]


def _runner(spec, impl, dtype, shape, threads):
    """The same call ``fastnn bench`` times for this case and implementation."""
    torch = None
    if impl == "torch":
        torch = pytest.importorskip("torch")
        if spec.torch is None:
            pytest.skip(f"no PyTorch peer for {spec.name}")
        torch.set_num_threads(threads)
    return case_callables(spec, dtype, shape, torch)[impl]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("spec, dtype, shape", CASES)
def test_kernel(benchmark, spec, dtype, shape, impl, threads):
    fastnn.set_num_threads(threads)
    run = _runner(spec, impl, dtype, shape, threads)
    benchmark.group = f"{spec.name} {dtype.name} {'x'.join(map(str, shape))} {threads}T"
    benchmark.extra_info.update(kernel=spec.name, impl=impl, floor_bytes=spec.floor_bytes)
    benchmark(run)
