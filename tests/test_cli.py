"""The ``fastnn`` command end to end (subprocesses), the benchmark engine and the HTML report.

The CLI runs as ``sys.executable -m fastnn`` with a temporary folder as working directory, so
that a source checkout in cwd cannot shadow the fastnn under test; PYTHONPATH points at the
folder the tests imported fastnn from (the installed package in CI, the in-place build here).
"""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import bench, cli
from fastnn.cli import demo
from fastnn.registry import all_kernels
from fastnn.workflow import jsonsafe, report
from fastnn.workflow.search import ModelTrainFn

FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))


def run_cli(*args, cwd, timeout=300, env=None):
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.pop("FASTNN_BACKEND", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fastnn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def assert_user_error(proc, code, *fragments):
    """One line on stderr naming the problem, the expected exit code, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


TINY_BENCH = ("--size", "1000", "--rounds", "2", "--min-time", "0.0002", "--no-torch")


# ----------------------------------------------------------------------------- bench engine


@pytest.mark.parametrize(
    "text, expected",
    [
        ("small", "small"),
        ("ALL", "all"),
        ("large", "large"),
        ("65536", 65536),
        ("64k", 65536),
        ("8M", 8 << 20),
        ("1e6", 1_000_000),
        ("4096x1000", (4096, 1000)),
        ("2x3x4", (2, 3, 4)),
    ],
)
def test_parse_size(text, expected):
    assert bench.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "huge", "-5", "0", "1.5", "4096x", "x10", "3e-2"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="bad size"):
        bench.parse_size(text)


def test_resolve_shapes_follow_the_registry():
    for spec in all_kernels():
        registered = [tuple(s) for s in spec.shapes]
        if not registered:
            assert bench.resolve_shapes(spec, ["all", 1000]) == []
            continue
        assert bench.resolve_shapes(spec, ["small"]) == registered[:1]
        assert bench.resolve_shapes(spec, ["large"]) == registered[-1:]
        assert bench.resolve_shapes(spec, ["all", "small"]) == registered
        largest = max(registered, key=np.prod)
        (shape,) = bench.resolve_shapes(spec, [100_000])
        assert len(shape) == len(largest) and shape[1:] == largest[1:]
        assert np.prod(shape) <= max(100_000, 2 * np.prod(largest[1:]))
        explicit = tuple(range(2, 2 + len(largest)))
        assert bench.resolve_shapes(spec, [explicit]) == [explicit]
        assert bench.resolve_shapes(spec, [(7,) * (len(largest) + 1)]) == []


def test_bench_case_ratios():
    case = bench.BenchCase(
        "k", "f", "float32", (10,), 1.5, {"fastnn": 2.0, "numpy": 6.0, "torch": None, "copy": 1.0}
    )
    assert case.speedup("numpy") == 3.0
    assert case.speedup("torch") is None
    assert case.floor_fraction == 0.75
    d = case.to_dict()
    assert d["speedup_numpy"] == 3.0 and d["floor_fraction"] == 0.75 and d["shape"] == [10]


def test_run_bench_times_every_kernel_and_dtype(tmp_path):
    seen = []
    cases = bench.run_bench(
        sizes=[1000],
        rounds=2,
        min_time=1e-4,
        use_torch=False,
        progress=lambda done, total, label: seen.append((done, total)),
    )
    names = [spec.name for spec in all_kernels() if spec.shapes]
    assert [(c.kernel, c.dtype) for c in cases] == [(n, d) for n in names for d in bench.DTYPES]
    for case in cases:
        assert case.error == "", case.error
        assert set(case.seconds) == {"fastnn", "numpy", "copy"}
        assert all(t > 0 for t in case.seconds.values()), case.seconds
    assert seen[0] == (0, len(cases)) and seen[-1] == (len(cases), len(cases))

    head = bench.header()
    text = bench.format_table(cases, head)
    markdown = bench.format_table(cases, head, markdown=True)
    for name in names:
        assert f"\n{name} " in text and f"| {name} |" in markdown
    assert f"fastnn {fastnn.__version__}" in text and "numpy" in text
    path = bench.write_json(tmp_path / "sub" / "b.json", cases, head, {"rounds": 2})
    payload = json.loads(Path(path).read_text())
    assert payload["header"]["cpu_features"] == head["cpu_features"]
    assert len(payload["cases"]) == len(cases)


def test_run_bench_keeps_going_after_a_failing_kernel(monkeypatch):
    spec = all_kernels()[0]
    broken = type(spec)(
        spec.name,
        spec.family,
        spec.fast,
        spec.reference,
        lambda *a: (_ for _ in ()).throw(RuntimeError("boom")),
        spec.shapes,
    )
    monkeypatch.setattr("fastnn.registry.all_kernels", lambda: [broken, *all_kernels()[1:2]])
    cases = bench.run_bench(
        sizes=["small"], dtypes=["float64"], rounds=1, min_time=1e-4, use_torch=False
    )
    assert cases[0].error == "RuntimeError: boom"
    assert cases[1].error == "" and cases[1].seconds["fastnn"] > 0
    assert "error: RuntimeError: boom" in bench.format_table(cases, bench.header())


def test_run_bench_unknown_kernel():
    with pytest.raises(ValueError, match="unknown kernel.*nope"):
        bench.run_bench(kernels=["nope"], use_torch=False)


def test_run_bench_torch_column():
    pytest.importorskip("torch")
    specs = [s for s in all_kernels() if s.torch is not None]
    if not specs:
        pytest.skip("no kernel registers a PyTorch peer yet")
    cases = bench.run_bench(
        sizes=["small"], dtypes=["float32"], kernels=[specs[0].name], rounds=1, min_time=1e-4
    )
    assert cases[0].seconds["torch"] > 0


# ----------------------------------------------------------------------------- report


def test_to_jsonable():
    obj = {
        "a": np.float32(1.5),
        "b": np.arange(3),
        3: (np.int64(2), float("nan")),
        "inf": float("-inf"),
        "nested": [{"x": np.bool_(True)}],
    }
    assert jsonsafe.to_jsonable(obj) == {
        "a": 1.5,
        "b": [0, 1, 2],
        "3": [2, None],
        "inf": "-inf",
        "nested": [{"x": True}],
    }
    json.dumps(jsonsafe.to_jsonable(obj), allow_nan=False)


def _fake_results(tmp_path, with_figures=True):
    figures = {}
    if with_figures:
        stats = {
            "loss_history": [2.3, 1.0, 0.5],
            "train_acc_history": [0.5, 0.9],
            "val_acc_history": [0.4, 0.8],
        }
        path = report.plot_training_curves(stats, str(tmp_path / "curves.png"))
        if path:
            figures["curves"] = "curves.png"
    figures["search"] = "missing.png"
    return {
        "data": {
            "name": "digits <test>",
            "n_train": 10,
            "n_val": 5,
            "n_test": 5,
            "n_features": 64,
            "n_classes": 10,
        },
        "final": {"test_accuracy": 0.9734, "val_accuracy": 0.96, "epochs": 3},
        "babysit": [
            {"name": "initial loss", "passed": True, "message": "2.30 vs ln 10"},
            {"name": "overfit", "passed": False, "message": "stuck <0.5>"},
        ],
        "search": {
            "trials": [
                {
                    "round": 1,
                    "params": {"lr": 1e-3, "reg": 1e-4},
                    "val_acc": 0.9,
                    "train_acc": 0.95,
                    "status": "ok",
                }
            ]
        },
        "init_experiment": [
            {
                "key": "he_relu",
                "init": "he",
                "activation": "relu",
                "layers": [{"name": "input", "mean": 0.0, "std": 1.0}],
            }
        ],
        "figures": figures,
    }


def test_write_report(tmp_path):
    results = _fake_results(tmp_path)
    path = report.write_report(str(tmp_path), results)
    page = Path(path).read_text(encoding="utf-8")
    assert "97.34%" in page and "digits &lt;test&gt;" in page and "stuck &lt;0.5&gt;" in page
    assert 'class="l fail">FAIL' in page and 'class="l pass">pass' in page
    assert "missing.png" not in page  # figures that were not written are not linked
    if report.have_matplotlib():
        assert '<img src="curves.png"' in page
        assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_report_without_a_validation_accuracy(tmp_path):
    # a diverged run has no best validation accuracy: the page says so instead of crashing
    results = _fake_results(tmp_path, with_figures=False)
    results["final"]["val_accuracy"] = None
    page = Path(report.write_report(str(tmp_path), results)).read_text(encoding="utf-8")
    assert "97.34%" in page and "best validation accuracy n/a" in page


# ----------------------------------------------------------------------------- CLI: subprocesses


def test_cli_help_and_version(tmp_path):
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("demo", "bench", "init-stats", "train", "search", "config"):
        assert command in proc.stdout
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fastnn {fastnn.__version__}"


def test_cli_config(tmp_path):
    proc = run_cli("config", "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"fastnn {fastnn.__version__}" in proc.stdout
    assert "threads: 1 " in proc.stdout and "compiled modules:" in proc.stdout


def test_cli_bench(tmp_path):
    """The command around the engine; test_run_bench_times_every_kernel_and_dtype runs them all."""
    name = next(spec.name for spec in all_kernels() if spec.shapes)
    proc = run_cli(
        "bench",
        *TINY_BENCH,
        "--kernel",
        name,
        "--markdown",
        "--json",
        "out/bench.json",
        "--threads",
        "1",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [
        line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 2  # column titles + one kernel x two dtypes
    assert "- threads: 1 of" in proc.stdout
    assert "[2/2]" in proc.stderr  # progress lines (not a TTY)
    payload = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert payload["header"]["threads"] == 1
    assert {c["kernel"] for c in payload["cases"]} == {name}
    assert all(c["seconds"]["fastnn"] > 0 and c["error"] == "" for c in payload["cases"])


@pytest.mark.parametrize("isa", ["baseline", "avx512"])
def test_cli_bench_isa_caps_the_path_it_times(tmp_path, isa):
    """--isa re-runs the bench under FASTNN_MAX_CPU_ISA: the header names the path it ran (a cap
    above the CPU's best runs the best), whatever the parent process runs."""
    from fastnn._kernels import _runtime

    proc = run_cli(
        "bench",
        *TINY_BENCH,
        "--kernel",
        "relu",
        "--isa",
        isa,
        "--no-torch",
        "--json",
        "bench.json",
        cwd=tmp_path,
        env={"FASTNN_MAX_CPU_ISA": "avx2"},
    )
    assert proc.returncode == 0, proc.stderr
    best = _runtime.select_isa(_runtime.cpu_mask(), len(_runtime.ISA_NAMES) - 1)
    expected = min(isa, best, key=_runtime.ISA_NAMES.index)
    header = json.loads((tmp_path / "bench.json").read_text())["header"]
    assert header["isa_path"] == expected, header
    assert f"(ISA path: {expected})" in proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp")
def test_cli_bench_times_pytorch_at_its_own_openmp_defaults(tmp_path):
    """In `python -m fastnn bench`, fastnn loads libgomp first with its short spin-wait, which
    PyTorch would then share (its training loop ran 1.2-1.7x slower): the command re-runs
    itself with PyTorch imported first."""
    pytest.importorskip("torch")
    name = next(spec.name for spec in all_kernels() if spec.shapes)
    # without OMP_NUM_THREADS, the parent's default (all cores) differs from the child's (1)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")
    }
    tiny = [a for a in TINY_BENCH if a != "--no-torch"]
    args = ("bench", *tiny, "--kernel", name, "--markdown", "--json", "b.json")
    full_env = dict(env, PYTHONPATH=FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", ""))
    full_env.pop("FASTNN_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-m", "fastnn", *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OpenMP idle threads: libgomp loaded before fastnn (PyTorch first)" in proc.stdout
    threads = json.loads((tmp_path / "b.json").read_text())["header"]["threads"]
    assert threads == fastnn._config.usable_cores()  # the parent's default, not the child's 1
    # (on one usable core both are 1: the forwarding of --threads is then not tested)
    with_spin = subprocess.run(
        [sys.executable, "-m", "fastnn", *args, "--threads", "1"],
        cwd=tmp_path,
        env=dict(full_env, GOMP_SPINCOUNT="1000"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert with_spin.returncode == 0, with_spin.stderr
    assert "OpenMP idle threads: GOMP_SPINCOUNT=1000 (yours)" in with_spin.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="libgomp")
def test_cli_bench_rerun_imports_the_same_fastnn(tmp_path):
    """The torch-first re-run ran `python -c`, whose sys.path starts with the working directory:
    from a directory holding another fastnn (a source tree), that one was benchmarked."""
    pytest.importorskip("torch")
    (tmp_path / "fastnn").mkdir()
    (tmp_path / "fastnn" / "__init__.py").write_text('raise SystemExit("the other fastnn")\n')
    script = tmp_path / "bin" / "fastnn_cli.py"  # like the console script: not run from cwd
    script.parent.mkdir()
    script.write_text("import sys\nfrom fastnn.__main__ import main\nsys.exit(main())\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "FASTNN_BACKEND")
    }
    env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    name = next(spec.name for spec in all_kernels() if spec.shapes)
    tiny = [a for a in TINY_BENCH if a != "--no-torch"]
    proc = subprocess.run(
        [sys.executable, str(script), "bench", *tiny, "--kernel", name, "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "libgomp loaded before fastnn (PyTorch first)" in proc.stdout  # the re-run ran


def test_cli_init_stats(tmp_path):
    proc = run_cli(
        "init-stats",
        "--init",
        "xavier",
        "--activation",
        "tanh",
        "--layers",
        "3",
        "--hidden",
        "50",
        "--samples",
        "200",
        "--out",
        "figs",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("input layer had mean ") and " and std " in lines[0]
    assert [line.split(" had")[0] for line in lines[1:4]] == [
        f"hidden layer {i}" for i in (1, 2, 3)
    ]
    if report.have_matplotlib():
        assert (tmp_path / "figs" / "init_xavier_tanh.png").stat().st_size > 1000
        assert "histograms saved to" in proc.stdout
    else:
        assert "figure skipped" in proc.stdout


@pytest.mark.parametrize(
    "args, code, fragments",
    [
        ((), 2, ["the following arguments are required: COMMAND"]),
        (("frobnicate",), 2, ["invalid choice: 'frobnicate'"]),
        (("init-stats", "--init", "bogus"), 2, ["argument --init", "unknown init 'bogus'"]),
        (("init-stats", "--init", "-1"), 2, ["argument --init", "positive"]),
        (("init-stats", "--activation", "swish"), 2, ["argument --activation", "invalid choice"]),
        (("bench", "--size", "huge"), 2, ["argument --size", "bad size 'huge'"]),
        (("bench", "--threads", "0"), 2, ["argument --threads", "got '0'"]),
        (("bench", "--kernel", "nope", "--no-torch", "--quiet"), 1, ["unknown kernel(s) nope"]),
        (("bench", "--rounds", "x"), 2, ["argument --rounds", "whole number"]),
        (("train", "--lr", "-1"), 2, ["argument --lr", "positive number, got '-1'"]),
        (("train", "--lr", "nan"), 2, ["argument --lr", "finite"]),
        (("train", "--lr", "fast"), 2, ["argument --lr", "must be a number"]),
        (("train", "--reg", "-0.1"), 2, ["argument --reg", ">= 0"]),
        (("train", "--update", "sgdd"), 2, ["argument --update", "invalid choice"]),
        (("train", "--data", "mnist"), 2, ["argument --data", "unknown data 'mnist'"]),
        (("train", "--hidden", "10,-3"), 2, ["argument --hidden"]),
        (("search", "--lr-range", "1e-1:1e-4"), 2, ["argument --lr-range", "0 < LOW < HIGH"]),
        (("search", "--trials", "0"), 2, ["argument --trials", ">= 1"]),
        (("search", "--fine-trials", "-1"), 2, ["argument --fine-trials", ">= 0, got '-1'"]),
        (("search", "--fine-trials", "2.5"), 2, ["argument --fine-trials", "whole number"]),
        (("search", "--eta", "1"), 2, ["argument --eta", ">= 2, got '1'"]),
        (("search", "--eta", "0"), 2, ["argument --eta", ">= 2, got '0'"]),
        (
            ("search", "--strategy", "asha", "--max-epochs", "1", "--out", "never"),
            2,
            ["--epochs (2) must not exceed --max-epochs (1)"],
        ),
        (
            (
                "search",
                "--strategy",
                "hyperband",
                "--trials",
                "30",
                "--epochs",
                "1",
                "--out",
                "never",
            ),
            2,
            ["--trials does not apply to --strategy hyperband", "the trials (17 from --epochs 1"],
        ),
        (
            ("search", "--strategy", "random", "--max-epochs", "9", "--out", "never"),
            2,
            ["--max-epochs does not apply to --strategy random (only to asha and hyperband)"],
        ),
        (
            ("search", "--strategy", "asha", "--fine-epochs", "3", "--out", "never"),
            2,
            ["--fine-epochs does not apply to --strategy asha"],
        ),
        (
            ("search", "--eta", "2", "--out", "never"),
            2,
            ["--eta does not apply to --strategy coarse-to-fine"],
        ),
        (
            ("demo", "--data", "cifar10:no/such/folder"),
            1,
            ["CIFAR-10 folder not found: ", "no/such/folder", "data_batch_1"],
        ),
        (("train", "--data", "cifar10:no/such/folder"), 1, ["CIFAR-10 folder not found"]),
        (("demo", "--out", "a_file"), 1, ["exists and is not a folder"]),
    ],
)
def test_cli_user_errors(tmp_path, args, code, fragments):
    (tmp_path / "a_file").write_text("x")
    proc = run_cli(*args, cwd=tmp_path, timeout=120)
    assert_user_error(proc, code, *fragments)
    assert not (tmp_path / "never").exists()  # refused before any work


# ----------------------------------------------------------------------------- demo, train, search


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    proc = run_cli("demo", "--quick", "--out", "out", cwd=cwd, timeout=600)
    return cwd / "out", proc


@pytest.mark.slow
def test_cli_demo_quick(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    acc = results["final"]["test_accuracy"]
    assert acc >= 0.95, acc
    assert f"test accuracy: {acc:.4f}" in proc.stdout
    assert f"report:  {out / 'report.html'}" in proc.stdout
    assert [step["passed"] for step in results["babysit"]] == [True] * len(results["babysit"])
    assert results["babysit"][0]["name"] == "initial loss"
    assert len(results["search"]["trials"]) == sum(n for n, _ in results["search"]["rounds"])
    assert proc.stdout.count("Finished epoch ") == results["final"]["epochs"]
    assert "val_acc: " in proc.stdout and "input layer had" not in proc.stdout
    assert (out / "model.npz").exists() and (out / "search.csv").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"{100 * acc:.2f}%" in page
    if report.have_matplotlib():
        expected = {"curves.png", "search_scatter.png", "init_0p01_tanh.png", "init_he_relu.png"}
        assert expected <= set(results["figures"].values())
        for name in results["figures"].values():
            assert (out / name).read_bytes()[:4] == b"\x89PNG" and f'src="{name}"' in page
    else:
        assert "figures skipped" in proc.stdout and "Figures skipped" in page


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.slow
def test_report_images_load_in_headless_chromium(demo_run, tmp_path):
    """Open report.html in a real browser and check every <img> decoded (naturalWidth > 0)."""
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed")
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr
    if not report.have_matplotlib():
        pytest.skip("no figures without matplotlib")
    page = (out / "report.html").read_text(encoding="utf-8")
    probe = (
        "<script>window.addEventListener('load', () => document.body.setAttribute("
        "'data-images', [...document.images].map(i => i.getAttribute('src') + ':' + "
        "(i.complete && i.naturalWidth > 0)).join(' ')));</script></body>"
    )
    check = out / "_browser_check.html"  # next to the report, so relative src resolve alike
    check.write_text(page.replace("</body>", probe), encoding="utf-8")
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            check.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    marker = 'data-images="'
    assert marker in dom, dom[:500]
    status = dom.split(marker, 1)[1].split('"', 1)[0].split()
    expected = json.loads((out / "results.json").read_text())["figures"].values()
    assert sorted(s.rsplit(":", 1)[0] for s in status) == sorted(expected)
    assert all(s.endswith(":true") for s in status), status


@pytest.mark.slow
def test_cli_train_and_search(tmp_path):
    proc = run_cli(
        "train", "--epochs", "3", "--lr", "0.1", "--out", "t", "--threads", "1", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [
        line.split(":")[0] for line in proc.stdout.splitlines() if line.startswith("Finished epoch")
    ] == [f"Finished epoch {i} / 3" for i in (1, 2, 3)]
    results = json.loads((tmp_path / "t" / "results.json").read_text())
    assert 0.8 < results["test_accuracy"] <= 1.0
    saved = fastnn.load_model(tmp_path / "t" / "model.npz")
    assert saved.model.params["W1"].shape == (64, 100) and saved.preprocess[0].mean_.shape == (64,)
    assert saved.meta["hidden_dims"] == [100] and saved.meta["epochs"] == 3

    proc = run_cli("train", "--epochs", "2", "--lr", "1e6", "--out", "t2", cwd=tmp_path)
    assert proc.returncode == 1 and "lower --lr" in proc.stderr and "Traceback" not in proc.stderr

    proc = run_cli(
        "search",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--fine-trials",
        "2",
        "--fine-epochs",
        "1",
        "--out",
        "s",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("val_acc: ") >= 5 and "best: val_acc: " in proc.stdout
    payload = json.loads((tmp_path / "s" / "results.json").read_text())
    assert len(payload["trials"]) == 5
    assert (tmp_path / "s" / "best_model.npz").exists() and (tmp_path / "s" / "search.csv").exists()


# ----------------------------------------------------------------------------- CLI: in process

TINY_SEARCH = (
    "search",
    "--trials",
    "2",
    "--epochs",
    "1",
    "--fine-trials",
    "0",
    "--hidden",
    "10",
    "--threads",
    "1",
)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_cli_search_on_a_terminal_without_tqdm(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert cli.main([*TINY_SEARCH, "--out", str(tmp_path)]) == 0
    assert "best: val_acc: " in capsys.readouterr().out


def test_cli_search_n_jobs_without_joblib(tmp_path, monkeypatch, capsys):
    for name in ("joblib", "joblib.externals", "joblib.externals.loky"):
        monkeypatch.setitem(sys.modules, name, None)
    assert cli.main([*TINY_SEARCH, "--n-jobs", "2", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n-jobs" in err[0] and "fastnn[parallel]" in err[0], err


def _interrupt_on_call(monkeypatch, n):
    """The search's train function raises KeyboardInterrupt (as Ctrl-C would) on its n-th call."""
    calls = []
    original = ModelTrainFn.__call__

    def call(self, params, seed=None):
        calls.append(params)
        if len(calls) == n:
            raise KeyboardInterrupt
        return original(self, params, seed=seed)

    monkeypatch.setattr(ModelTrainFn, "__call__", call)
    return calls


def test_cli_search_interrupted_saves_the_finished_trials(tmp_path, monkeypatch, capsys):
    _interrupt_on_call(monkeypatch, 3)
    args = (
        "search",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--fine-trials",
        "2",
        "--hidden",
        "10",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    )
    assert cli.main(list(args)) == 130
    assert "interrupted after 2 / 5 trials" in capsys.readouterr().err
    payload = json.loads((tmp_path / "search.json").read_text())
    assert payload["interrupted"] and len(payload["trials"]) == 2
    assert (tmp_path / "best_model.npz").exists()


# A signal while `fastnn search` saves its results: every file written is whole, the exit code
# is the signal's, one line says what was saved and that --resume saves the rest.

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


def _signal_before(monkeypatch, target, name, sig):
    """``target.name`` sends ``sig`` to this process, then does its work (if still running)."""
    original = getattr(target, name)

    def send_then_call(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, sig))
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, send_then_call)


def _saving_interrupted_line(captured, sig, folder):
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in captured.err, captured.err
    how = "terminated (SIGTERM)" if sig == "SIGTERM" else "interrupted"
    assert err[0].startswith(f"fastnn search: {how} while saving the results: saved "), err
    assert err[0].endswith(f"fastnn search --resume {folder} saves the rest"), err
    return err[0]


def _no_partial_files(folder):
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


@POSIX
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_cli_search_signal_while_writing_the_trials_waits_for_them(
    tmp_path, monkeypatch, capsys, sig
):
    from fastnn.workflow.search import SearchResult

    _signal_before(monkeypatch, SearchResult, "to_csv", sig)
    assert cli.main([*TINY_SEARCH, "--out", str(tmp_path)]) == EXIT_CODES[sig]
    line = _saving_interrupted_line(capsys.readouterr(), sig, tmp_path)
    assert "saved search.csv, search.json in" in line
    assert len(json.loads((tmp_path / "search.json").read_text())["trials"]) == 2
    assert len((tmp_path / "search.csv").read_text().splitlines()) == 3  # header + 2 trials
    assert not (tmp_path / "best_model.npz").exists() and not (tmp_path / "results.json").exists()
    _no_partial_files(tmp_path)


@POSIX
def test_cli_search_sigterm_while_saving_the_model_stops_after_it_then_resume(
    tmp_path, monkeypatch, capsys
):
    from fastnn.cli import search as search_command

    _signal_before(monkeypatch, search_command, "save_trained_model", "SIGTERM")
    assert cli.main([*TINY_SEARCH, "--out", str(tmp_path)]) == 143
    line = _saving_interrupted_line(capsys.readouterr(), "SIGTERM", tmp_path)
    assert "saved search.csv, search.json, best_model.npz in" in line  # then it stopped
    assert not list(tmp_path.glob("*.png")) and not (tmp_path / "results.json").exists()
    fastnn.load_model(tmp_path / "best_model.npz")
    _no_partial_files(tmp_path)
    monkeypatch.undo()
    model_bytes = (tmp_path / "best_model.npz").read_bytes()
    assert cli.main(["search", "--resume", str(tmp_path)]) == 0
    # the model was saved whole and is the best trial's: kept, not trained again
    assert "training the best trial" not in capsys.readouterr().out
    assert (tmp_path / "best_model.npz").read_bytes() == model_bytes
    assert json.loads((tmp_path / "results.json").read_text())["interrupted"] is False


@pytest.mark.parametrize("damage", ["cut", "other trial"])
def test_cli_search_resume_trains_the_best_trial_again_when_its_model_file_is_not_it(
    tmp_path, capsys, damage
):
    assert cli.main([*TINY_SEARCH, "--out", str(tmp_path)]) == 0
    model = tmp_path / "best_model.npz"
    if damage == "cut":
        model.write_bytes(model.read_bytes()[:100])
    else:
        saved = fastnn.load_model(model)
        other = dict(saved.meta, trial=dict(saved.meta["trial"], index=99))
        fastnn.save_model(model, saved.model, preprocess=saved.preprocess, meta=other)
    capsys.readouterr()
    assert cli.main(["search", "--resume", str(tmp_path)]) == 0
    assert "training the best trial" in capsys.readouterr().out
    assert fastnn.load_model(model).meta["trial"]["index"] != 99


def test_cli_search_start_and_resume_remove_stale_temporaries_of_the_out_folder(tmp_path):
    """A search killed while it wrote a file (SIGKILL) leaves replacing()'s hidden temporary:
    the next start or resume in that folder removes it, and nothing else."""
    out, below = tmp_path / "out", tmp_path / "out" / "sub"
    below.mkdir(parents=True)
    stale = [".search.json.0123456789ab.tmp.json", ".best_model.npz.abcdef012345.tmp.npz"]
    kept = [".hidden", ".notes.txt.0123456789ab.tmp.json", "x.0123456789ab.tmp", ".fastnn-keep"]
    for name in stale + kept:
        (out / name).write_text("x")
    (below / stale[0]).write_text("x")
    assert cli.main([*TINY_SEARCH, "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert not names & set(stale) and set(kept) <= names and (below / stale[0]).exists()
    (out / stale[1]).write_text("x")
    assert cli.main(["search", "--resume", str(out)]) == 0
    assert not (out / stale[1]).exists() and (out / kept[0]).exists()


def _write_cifar(folder, rows):
    """A CIFAR-10 python-batches folder of random images, ``rows`` per batch."""
    import pickle

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (rows, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, rows)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cli_search_resume_from_another_folder_finds_relative_paths(tmp_path, monkeypatch):
    """search_command.json keeps argv as typed and the folder it was typed in: a --resume run
    from another folder reads the same data (a relative cifar10:PATH, an abbreviated --out)."""
    first, elsewhere = tmp_path / "a", tmp_path / "b"
    _write_cifar(first / "cifar", rows=20)
    elsewhere.mkdir()
    monkeypatch.chdir(first)
    args = [*TINY_SEARCH, "--data=cifar10:cifar", "--ou", "s"]
    assert cli.main(args) == 0
    saved = json.loads((first / "s" / "search_command.json").read_text())
    assert saved["cwd"] == str(first) and "--data=cifar10:cifar" in saved["argv"]
    (first / "s" / "results.json").unlink()  # as if stopped before the end
    monkeypatch.chdir(elsewhere)
    assert cli.main(["search", "--resume", str(first / "s")]) == 0
    assert json.loads((first / "s" / "results.json").read_text())["interrupted"] is False
    assert not (elsewhere / "s").exists()


def test_cli_asha_resume_with_another_kind_of_run_is_refused(tmp_path, capsys):
    """--n-jobs 1 runs synchronous successive halving, --n-jobs 2 ASHA: a resume that would
    switch (and so train other trials) is refused, naming both."""
    args = ["search", "--strategy", "asha", "--trials", "3", "--max-epochs", "3"]
    assert cli.main([*args, *TINY_SEARCH[3:], "--n-jobs", "2", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["search", "--resume", str(tmp_path), "--n-jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert "cannot resume" in err and "ASHA" in err and "synchronous" in err, err
    assert cli.main(["search", "--resume", str(tmp_path), "--n-jobs", "2"]) == 0


@POSIX
def test_cli_search_sigterm_while_plotting_waits_for_the_figures(tmp_path, monkeypatch, capsys):
    """matplotlib turns a KeyboardInterrupt raised while it draws into a ValueError ("Invalid
    affine transformation matrix"): the signal must wait until the figures are written."""
    Figure = pytest.importorskip("matplotlib.figure").Figure
    _signal_before(monkeypatch, Figure, "draw", "SIGTERM")  # inside savefig
    assert cli.main([*TINY_SEARCH, "--out", str(tmp_path)]) == 143
    line = _saving_interrupted_line(capsys.readouterr(), "SIGTERM", tmp_path)
    figures = "search_scatter.png, search_loss_curves.png"
    assert f"saved search.csv, search.json, best_model.npz, {figures} in" in line
    assert all(p.stat().st_size > 1000 for p in tmp_path.glob("*.png"))
    assert len(list(tmp_path.glob("*.png"))) == 2 and not (tmp_path / "results.json").exists()
    _no_partial_files(tmp_path)


SLOW_PLOTS = """
import sys, time
from fastnn import cli
from fastnn.cli import search

plots = search.save_search_plots

def slow_plots(*args, **kwargs):
    print("PLOTTING", flush=True)
    time.sleep(2)  # the signal arrives now, and waits for the figures
    return plots(*args, **kwargs)

search.save_search_plots = slow_plots
sys.exit(cli.main(sys.argv[1:]))
"""


@POSIX
@pytest.mark.slow
def test_cli_asha_search_sigterm_after_every_trial_keeps_its_files(tmp_path):
    """The reported case: parallel ASHA on the digits, SIGTERM from outside once every trial
    is done (here while it plots): exit 143 once the figures are written, all else saved."""
    env = {**os.environ, "PYTHONPATH": FASTNN_PARENT}
    env.pop("FASTNN_BACKEND", None)
    args = ["search", "--strategy", "asha", "--trials", "12", "--n-jobs", "2", "--out", "D"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_PLOTS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        for line in proc.stdout:
            if line.startswith("PLOTTING"):
                proc.send_signal(signal.SIGTERM)
                break
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines() == [
        f"fastnn search: terminated (SIGTERM) while saving the results: saved search.csv, "
        f"search.json, best_model.npz, search_scatter.png, search_loss_curves.png, "
        f"search_rungs.png in {tmp_path / 'D'}; fastnn search --resume {tmp_path / 'D'} saves "
        "the rest"
    ]
    assert len(json.loads((tmp_path / "D" / "search.json").read_text())["trials"]) == 12
    fastnn.load_model(tmp_path / "D" / "best_model.npz")


@pytest.fixture
def small_demo(monkeypatch):
    """cmd_demo with the babysitter and the initialization experiment faked, a tiny search."""
    from types import SimpleNamespace

    sitter = SimpleNamespace(results=[], passed=True, failed=None, learning_rate_range=(1e-2, 1e-1))
    monkeypatch.setattr(demo, "babysit", lambda *a, **k: sitter)
    summary = {
        "key": "k",
        "init": "he",
        "activation": "relu",
        "layers": [{"name": "input", "mean": 0.0, "std": 1.0}] * 2,
    }
    monkeypatch.setattr(demo, "run_init_experiment", lambda *a, **k: (summary, None))
    monkeypatch.setitem(
        demo.DEMO_SETTINGS,
        "quick",
        {"rounds": [(2, 1), (2, 1)], "final_epochs": 2, "init_hidden": 10},
    )
    return ("demo", "--quick", "--threads", "1")


def test_cli_demo_interrupted_stops(small_demo, tmp_path, monkeypatch, capsys):
    _interrupt_on_call(monkeypatch, 2)
    assert cli.main([*small_demo, "--out", str(tmp_path)]) == 130
    captured = capsys.readouterr()
    assert "interrupted after 1 / 4 trials" in captured.err
    assert "Finished epoch" not in captured.out and not (tmp_path / "model.npz").exists()


def test_cli_demo_saves_the_epochs_it_trained(small_demo, tmp_path):
    assert cli.main([*small_demo, "--out", str(tmp_path)]) == 0
    meta = fastnn.load_model(tmp_path / "model.npz").meta
    results = json.loads((tmp_path / "results.json").read_text())
    assert meta["epochs"] == results["final"]["epochs"] == 2  # not a search trial's 1
    assert meta["accuracy"] == results["final"]["test_accuracy"] and meta["command"] == "demo"


def test_cli_demo_final_training_diverged(small_demo, tmp_path, monkeypatch, capsys):
    original = ModelTrainFn.fit

    def fit(self, params, seed=None, *, verbose=False, progress=False):
        if verbose:  # the final run, not a search trial
            params = {**params, "lr": 1e6}
        return original(self, params, seed, verbose=verbose, progress=progress)

    monkeypatch.setattr(ModelTrainFn, "fit", fit)
    assert cli.main([*small_demo, "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "too high" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "diverged" in err[0], err
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["final"]["diverged"] and "search" in results
