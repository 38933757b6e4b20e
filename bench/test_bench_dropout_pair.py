"""Dropout forward + backward as a training step runs them, against its floor and the course.

Groups per (dtype, shape, threads): ``fastnn`` (dropout_forward then dropout_backward),
``course`` (the course's NumPy: ``mask = (np.random.rand(*x.shape) < p) / p``, ``x * mask``,
``dout * mask``), ``twin`` (fastnn.reference, the same mask as fastnn) and ``copy2`` (two
``np.copyto`` of x: the memory floor of reading x and dout and writing out and dx).

    pytest bench/test_bench_dropout_pair.py --benchmark-only --benchmark-group-by=group
"""

import numpy as np
import pytest

import fastnn
from fastnn import reference

KEEP = 0.5
SHAPES = ((256, 512), (4096, 1024))


def dropout_calls(dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    dst = np.empty_like(x)
    param = {"mode": "train", "p": KEEP}

    def fast():
        _, cache = fastnn.dropout_forward(x, param)
        return fastnn.dropout_backward(dout, cache)

    def twin():
        _, cache = reference.dropout_forward(x, param)
        return reference.dropout_backward(dout, cache)

    def course():
        mask = (np.random.rand(*x.shape) < KEEP) / KEEP  # noqa: NPY002 (the course's code)
        return x * mask, dout * mask

    def copy2():
        np.copyto(dst, x)
        np.copyto(dst, dout)

    return {"fastnn": fast, "twin": twin, "course": course, "copy2": copy2}


@pytest.mark.parametrize("impl", ["fastnn", "twin", "course", "copy2"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_dropout_forward_backward(benchmark, dtype, shape, impl, threads):
    fastnn.set_num_threads(threads)
    run = dropout_calls(dtype, shape)[impl]
    benchmark.group = (
        f"dropout fwd+bwd {np.dtype(dtype).name} {'x'.join(map(str, shape))} {threads}T"
    )
    benchmark(run)
