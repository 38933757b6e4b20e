"""Shared test helpers: the odd-array generator and comparison with a useful message.

Every kernel family sweeps its functions over :func:`odd_arrays` (shapes x layouts x odd
values) and compares against the reference twin with :func:`assert_matches`.
"""

import json
import os
import subprocess
import sys

import numpy as np

DTYPES = (np.float32, np.float64)

SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 3, 4), (0, 4), (4, 0), (1000,), (65537,), (257, 300)]


def _values(rng, shape, dtype, kind):
    x = rng.standard_normal(shape)
    if kind == "normal":
        pass
    elif kind == "large":
        x = x * 1e4
    elif kind == "offset":
        x = x + 1e4
    elif kind == "extreme":
        info = np.finfo(dtype)
        choices = np.array(
            [
                0.0,
                -0.0,
                1.0,
                -1.0,
                1e4,
                -1e4,
                1000.0,
                -1000.0,
                88.0,
                -88.0,
                710.0,
                -710.0,
                float(info.max),
                -float(info.max),
                float(info.tiny),
                -float(info.tiny),
                float(info.smallest_subnormal),
                20.0,
                -20.0,
                1e-8,
                -1e-8,
            ]
        )
        x = rng.choice(choices, size=shape) if x.size else x
    elif kind == "nonfinite":
        choices = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0, -0.0])
        x = rng.choice(choices, size=shape) if x.size else x
    else:
        raise ValueError(kind)
    return np.asarray(x).astype(dtype)


VALUE_KINDS = ("normal", "large", "offset", "extreme", "nonfinite")


def layouts(x):
    """Yield ``(description, view)``: x, then views of its memory in odd layouts (transposed,
    Fortran order, every other column, every other row, rows reversed)."""
    yield f"{x.shape} C", x
    if x.ndim >= 2:
        yield f"{x.T.shape} transposed", x.T
        yield f"{x.shape} fortran", np.asfortranarray(x)
    if x.ndim >= 1 and x.shape[-1] >= 2:
        yield f"{x[..., ::2].shape} strided", x[..., ::2]
    if x.ndim >= 2 and x.shape[0] >= 2:
        yield f"{x[::2].shape} strided rows", x[::2]
    if x.ndim >= 1:
        yield f"{x[::-1].shape} reversed", x[::-1]


def odd_arrays(dtype, seed=0, kinds=VALUE_KINDS, shapes=SHAPES):
    """Yield ``(description, array)``: every shape x value kind, in every :func:`layouts`."""
    rng = np.random.default_rng(seed)
    for kind in kinds:
        for shape in shapes:
            for what, x in layouts(_values(rng, shape, dtype, kind)):
                yield f"{kind} {what}", x


def assert_matches(actual, expected, rtol, atol=0.0, what=""):
    """Compare values (NaN == NaN), dtype and shape, naming ``what`` in the failure."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def numerical_gradient(f, x, dout, h=1e-6):
    """Central-difference d(sum(f(x) * dout))/dx for an array function f, in float64."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = np.sum(f(x) * dout)
        x[idx] = old - h
        minus = np.sum(f(x) * dout)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Max relative error, CS231n style."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def torch_or_skip():
    """Import torch or skip the test (torch is an optional oracle, never a dependency)."""
    import pytest

    return pytest.importorskip("torch")


def run_with_cap(code, cap, cwd):
    """Run ``code`` (printing one JSON value) in a fresh interpreter with
    FASTNN_MAX_CPU_ISA=cap (unset if None), from ``cwd`` (a folder outside the source tree,
    so that an installed fastnn is the one imported); returns (the value, stderr)."""
    env = dict(os.environ)
    env.pop("FASTNN_MAX_CPU_ISA", None)
    if cap is not None:
        env["FASTNN_MAX_CPU_ISA"] = cap
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=cwd,
    )
    return json.loads(done.stdout), done.stderr
