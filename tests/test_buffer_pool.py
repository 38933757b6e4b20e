"""The pool of kept output buffers (fastnn._kernels._runtime, behind empty_apart): a buffer is
reused only once no array uses it, for an output of the same size; the limit holds; the
FASTNN_BUFFER_POOL_MB variable is read at import; the outputs stay right."""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastnn
from fastnn import reference
from fastnn._kernels import _runtime as rt

SHAPE = (512, 512)  # float64: 2 MiB, above APART_MIN_BYTES
TRAIN = {"mode": "train", "p": 0.5, "seed": 7}


@pytest.fixture(autouse=True)
def fresh_pool():
    """Each test starts from an empty pool with the default limit, and leaves it so."""
    limit = rt.set_pool_limit(0)
    rt.set_pool_limit(rt.POOL_DEFAULT_MIB << 20)
    yield
    rt.set_pool_limit(0)
    rt.set_pool_limit(limit)


def buffer_of(a):
    return a.base.ctypes.data


def test_a_freed_output_buffer_is_reused_for_the_same_size():
    x = np.random.default_rng(0).standard_normal(SHAPE)
    out, _ = fastnn.dropout_forward(x, TRAIN)
    first = buffer_of(out)
    del out, _
    assert rt.pool_info()["unused"] == 1
    again, _ = fastnn.dropout_forward(x, TRAIN)
    assert buffer_of(again) == first
    np.testing.assert_array_equal(again, reference.dropout_forward(x, TRAIN)[0])
    other, _ = fastnn.dropout_forward(np.ones((256, 1024 + 8)), TRAIN)  # another size
    assert buffer_of(other) != first


def test_an_output_in_use_is_never_written_by_the_next_one():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    out, _ = fastnn.dropout_forward(x, TRAIN)
    view = out[::3, 1::2]  # a view alone keeps the buffer too
    expected = view.copy()
    del out
    for _ in range(3):
        new, _ = fastnn.dropout_forward(y, TRAIN)
        assert not np.shares_memory(new, view)
        np.testing.assert_array_equal(view, expected)
    del view
    reused, _ = fastnn.dropout_forward(y, TRAIN)
    np.testing.assert_array_equal(reused, reference.dropout_forward(y, TRAIN)[0])


def test_batchnorm_and_layernorm_outputs_from_the_pool_are_right():
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    gamma, beta = rng.standard_normal(SHAPE[1]), rng.standard_normal(SHAPE[1])
    for _ in range(3):  # the second and third calls run on reused buffers
        out, cache = fastnn.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        dx, _, _ = fastnn.batchnorm_backward(dout, cache)
        ref_out, ref_cache = reference.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            dx, reference.batchnorm_backward(dout, ref_cache)[0], rtol=1e-9, atol=1e-12
        )
        out, cache = fastnn.layernorm_forward(x, gamma, beta, {})
        dx, _, _ = fastnn.layernorm_backward(dout, cache)
        ref_out, ref_cache = reference.layernorm_forward(x, gamma, beta, {})
        np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            dx, reference.layernorm_backward(dout, ref_cache)[0], rtol=1e-9, atol=1e-12
        )
    assert rt.pool_info()["buffers"] >= 2


def test_the_limit_holds_and_zero_keeps_nothing():
    x = np.zeros(SHAPE)
    size = x.nbytes + 4096
    rt.set_pool_limit(3 * size)
    outs = [fastnn.dropout_forward(x, TRAIN)[0] for _ in range(5)]  # all in use
    info = rt.pool_info()
    assert info["kept"] == 3 * size and info["buffers"] == 3 and info["unused"] == 0
    assert len({buffer_of(o) for o in outs}) == 5
    del outs
    assert rt.pool_info()["unused"] == 3
    rt.set_pool_limit(size)  # the unused buffers beyond it go now
    assert rt.pool_info()["kept"] == size
    rt.set_pool_limit(0)
    assert rt.pool_info() == {"limit": 0, "kept": 0, "buffers": 0, "unused": 0}
    out, _ = fastnn.dropout_forward(x + 1, TRAIN)
    assert rt.pool_info()["buffers"] == 0
    np.testing.assert_array_equal(out, reference.dropout_forward(x + 1, TRAIN)[0])
    with pytest.raises(ValueError, match="buffer pool"):
        rt.set_pool_limit(-1)


def test_threads_never_share_a_buffer_in_use():
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal(SHAPE) for _ in range(4)]
    expected = [reference.dropout_forward(x, TRAIN)[0] for x in inputs]
    failures = []

    def work(k):
        for _ in range(25):
            out, _ = fastnn.dropout_forward(inputs[k], TRAIN)
            if not np.array_equal(out, expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


@pytest.mark.parametrize(
    "value, want",
    [(None, rt.POOL_DEFAULT_MIB << 20), ("", rt.POOL_DEFAULT_MIB << 20), ("0", 0),
     ("64", 64 << 20), (" 0.5 ", 1 << 19)],
)  # fmt: skip
def test_parse_pool_limit_takes_mib(value, want):
    assert rt.parse_pool_limit(value) == (want, None)


@pytest.mark.parametrize("value", ["-1", "lots", "nan", "1e30"])
def test_parse_pool_limit_names_a_bad_value(value):
    limit, problem = rt.parse_pool_limit(value)
    assert limit == rt.POOL_DEFAULT_MIB << 20
    assert f"FASTNN_BUFFER_POOL_MB={value!r}" in problem and "\n" not in problem


PROBE = """
import json, warnings
warnings.simplefilter("always")
import numpy as np
import fastnn
from fastnn._config.report import config_dict
out, _ = fastnn.dropout_forward(np.ones((512, 512)), {"mode": "train", "p": 0.5, "seed": 1})
print(json.dumps(config_dict()["buffer_pool"]))
"""


def _import_with(value, cwd):
    env = dict(os.environ)
    env["FASTNN_BUFFER_POOL_MB"] = value
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True,
        timeout=120, cwd=cwd,
    )  # fmt: skip
    return json.loads(done.stdout), done.stderr


def test_the_variable_is_read_at_import(tmp_path):
    info, stderr = _import_with("0", tmp_path)
    assert info["limit"] == 0 and info["buffers"] == 0 and "Warning" not in stderr
    info, stderr = _import_with("100", tmp_path)
    assert info["limit"] == 100 << 20 and info["buffers"] == 1
    info, stderr = _import_with("many", tmp_path)
    warnings = [line for line in stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warnings) == 1 and "FASTNN_BUFFER_POOL_MB='many'" in warnings[0], stderr
    assert info["limit"] == rt.POOL_DEFAULT_MIB << 20


def test_show_config_reports_the_pool():
    import io

    out = io.StringIO()
    fastnn.show_config(file=out)
    assert "output buffer pool:" in out.getvalue() and "FASTNN_BUFFER_POOL_MB" in out.getvalue()
