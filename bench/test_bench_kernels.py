"""Every registered kernel against its NumPy twin, PyTorch (when installed) and a copy.

One pytest-benchmark group per (kernel, dtype, shape, threads); ``copy`` is ``np.copyto`` of
the main input (the memory floor: scale it by the kernel's ``floor_bytes``).

    pytest bench --benchmark-only --benchmark-group-by=group --benchmark-columns=median,iqr,rounds
"""

import numpy as np
import pytest

import fastnn
from fastnn.registry import all_kernels

DTYPES = (np.float32, np.float64)
IMPLS = ("fastnn", "numpy", "torch", "copy")
CASES = [
    pytest.param(spec, np.dtype(dtype), shape, id=f"{spec.name}-{np.dtype(dtype).name}-{'x'.join(map(str, shape))}")
    for spec in all_kernels()
    for dtype in DTYPES
    for shape in spec.shapes
]


def _runner(spec, impl, dtype, shape, threads):
    rng = np.random.default_rng(0)
    if impl == "copy":
        src = rng.standard_normal(shape).astype(dtype)
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)
    if impl == "torch":
        torch = pytest.importorskip("torch")
        if spec.torch is None:
            pytest.skip(f"no PyTorch peer for {spec.name}")
        torch.set_num_threads(threads)
        args, kwargs = spec.make_args(rng, shape, dtype, spec.reference)
        return spec.torch(torch, args, kwargs)
    fn = spec.fast if impl == "fastnn" else spec.reference
    args, kwargs = spec.make_args(rng, shape, dtype, fn)
    return lambda: fn(*args, **kwargs)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("spec, dtype, shape", CASES)
def test_kernel(benchmark, spec, dtype, shape, impl, threads):
    fastnn.set_num_threads(threads)
    run = _runner(spec, impl, dtype, shape, threads)
    benchmark.group = f"{spec.name} {dtype.name} {'x'.join(map(str, shape))} {threads}T"
    benchmark.extra_info.update(kernel=spec.name, impl=impl, floor_bytes=spec.floor_bytes)
    benchmark(run)
