"""Build, configuration, threads and backend switch."""

import io
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import registry


def test_every_compiled_module_reports_openmp_when_required():
    required = os.environ.get("FASTNN_REQUIRE_OPENMP") == "1"
    for name, module in registry.KERNEL_MODULES.items():
        assert isinstance(module.OPENMP, bool), name
        if required:
            assert module.OPENMP, f"{name} was built without OpenMP although it was required"


def test_compiled_modules_are_extensions():
    for name, module in registry.KERNEL_MODULES.items():
        assert module.__file__.endswith((".so", ".pyd")), (
            f"{name} is not compiled: {module.__file__}"
        )


def test_show_config_lists_modules_threads_and_numpy():
    buf = io.StringIO()
    fastnn.show_config(file=buf)
    text = buf.getvalue()
    assert fastnn.__version__ in text
    assert f"numpy {np.__version__}" in text
    assert f"threads: {fastnn.get_num_threads()}" in text
    for name in registry.KERNEL_MODULES:
        assert name in text
    assert "CPU features" in text


def test_set_num_threads_returns_previous_and_validates():
    before = fastnn.get_num_threads()
    assert fastnn.set_num_threads(1) == before
    assert fastnn.get_num_threads() == 1
    assert fastnn.set_num_threads(3) == 1
    assert fastnn.get_num_threads() == 3
    for bad in (0, -2, -100):
        with pytest.raises(ValueError, match="threads"):
            fastnn.set_num_threads(bad)
    for bad in (1.5, True, np.True_):  # set_num_threads(True) used to set 1 thread
        with pytest.raises(TypeError, match="threads"):
            fastnn.set_num_threads(bad)
    assert fastnn.get_num_threads() == 3
    fastnn.set_num_threads(-1)
    assert fastnn.get_num_threads() == fastnn._config.usable_cores()


def test_num_threads_context_manager_restores_even_on_error():
    fastnn.set_num_threads(2)
    with pytest.raises(RuntimeError):
        with fastnn.num_threads(1) as n:
            assert n == 1 and fastnn.get_num_threads() == 1
            raise RuntimeError("boom")
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("setting", ["threads", "backend"])
def test_context_managers_are_per_thread_and_restore_in_any_order(setting):
    """Trainers on a thread pool each enter num_threads(1) (and searches backend()); with a
    process-wide count, exits out of order left the process at the wrong setting."""
    import threading

    if setting == "threads":
        get, set_, ctx, outer, inner = (
            fastnn.get_num_threads,
            fastnn.set_num_threads,
            fastnn.num_threads,
            3,
            [1, 2],
        )
    else:
        get, set_, ctx, outer, inner = (
            fastnn.get_backend,
            fastnn.use_backend,
            fastnn.backend,
            "cython",
            ["numpy", "numpy"],
        )
    set_(outer)
    entered = [threading.Event(), threading.Event()]
    leave = [threading.Event(), threading.Event()]
    seen = [None, None]

    def worker(i):
        with ctx(inner[i]):
            entered[i].set()
            leave[i].wait(10)
            seen[i] = get()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for e in entered:
        assert e.wait(10)
    assert get() == outer  # the other threads' blocks do not reach this one
    leave[0].set()  # first in, first out: the wrong order for a shared stack of settings
    threads[0].join(10)
    leave[1].set()
    threads[1].join(10)
    assert seen == inner
    assert get() == outer
    with ctx(inner[0]):
        assert get() == inner[0]
        set_(outer)  # the process-wide setting changes; this thread's block still wins
        assert get() == inner[0]
    assert get() == outer


def _run_python(code, env_extra=None, cwd=None):
    """Run ``code`` in a fresh interpreter, by default outside the source tree (which would
    shadow the installed package)."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY"):
        env.pop(name, None)
    env.pop("FASTNN_BACKEND", None)
    # Import the same fastnn this test session imported (installed or built in place).
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(fastnn.__file__))
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or tempfile.gettempdir(),
        timeout=120,
    )


def test_default_threads_follow_omp_num_threads_then_cores():
    code = "import fastnn; print(fastnn.get_num_threads())"
    assert _run_python(code, {"OMP_NUM_THREADS": "3"}).stdout.strip() == "3"
    expected = str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else None
    out = _run_python(code).stdout.strip()
    if expected is not None:
        assert out == expected


def test_libomp_block_time_is_shortened_unless_the_user_set_a_wait():
    """LLVM's libomp (clang builds) keeps idle threads spinning 200 ms after each parallel
    region, beside BLAS's threads; fastnn sets KMP_BLOCKTIME=1 unless the user chose."""
    code = """
        import os, fastnn
        mine = fastnn._config.openmp.user_environ()
        print(os.environ.get("KMP_BLOCKTIME"), mine.get("KMP_BLOCKTIME"))
    """
    assert _run_python(code).stdout.split() == ["1", "None"]
    assert _run_python(code, {"KMP_BLOCKTIME": "5"}).stdout.split() == ["5", "5"]
    assert _run_python(code, {"OMP_WAIT_POLICY": "active"}).stdout.split() == ["None", "None"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_libgomp_loaded_before_fastnn_means_one_thread_by_default():
    """Imported after PyTorch, fastnn cannot shorten libgomp's spin-wait any more; on two
    threads a batchnorm net's training loop then ran 15x slower than on one."""
    if not fastnn._config.openmp.libgomp_loaded():
        pytest.skip("this fastnn build does not use libgomp")
    code = """
        import ctypes, io
        ctypes.CDLL("libgomp.so.1")  # what `import torch` does first
        import fastnn
        out = io.StringIO()
        fastnn.show_config(file=out)
        print(fastnn.get_num_threads(), "loaded before fastnn" in out.getvalue())
    """
    cores = fastnn._config.usable_cores()
    assert _run_python(code).stdout.split() == ["1", "True"]
    assert _run_python(code, {"OMP_NUM_THREADS": "3"}).stdout.split() == ["3", "True"]
    assert _run_python(code, {"GOMP_SPINCOUNT": "1000"}).stdout.split() == [str(cores), "False"]
    numpy_maps_libgomp = _run_python(
        "import numpy; print(any('/libgomp.so' in line for line in open('/proc/self/maps')))"
    )
    if numpy_maps_libgomp.stdout.strip() == "False":  # (an OpenMP-built BLAS would map it)
        plain = _run_python(code.replace('ctypes.CDLL("libgomp.so.1")', "pass"))
        assert plain.stdout.split() == [str(cores), "False"], plain.stderr


def test_backend_switch_and_environment_variable():
    assert fastnn.get_backend() in ("cython", "numpy")
    previous = fastnn.use_backend("numpy")
    from fastnn._config.backend import ops

    assert ops().backend == "numpy"
    assert ops().relu is registry.get("relu").reference
    fastnn.use_backend("cython")
    assert ops().relu is registry.get("relu").fast
    with fastnn.backend("numpy"):
        assert ops().backend == "numpy"
    assert fastnn.get_backend() == "cython"
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        fastnn.use_backend("torch")
    fastnn.use_backend(previous)
    out = _run_python("import fastnn; print(fastnn.get_backend())", {"FASTNN_BACKEND": "numpy"})
    assert out.stdout.strip() == "numpy", out.stderr


def test_missing_extension_raises_importerror_saying_how_to_build(tmp_path):
    # A copy of the pure-Python sources without the compiled modules: no silent fallback.
    import shutil

    src = os.path.dirname(fastnn.__file__)
    dst = tmp_path / "fastnn"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    result = _run_python(
        "import fastnn", cwd=str(tmp_path), env_extra={"PYTHONPATH": str(tmp_path)}
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "pip install ." in result.stderr
