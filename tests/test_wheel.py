"""Build the sdist and wheel, install the wheel into a fresh venv, import and call a kernel."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from fastnn._families import COMPILED_MODULES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_builds_installs_and_runs_in_fresh_venv(tmp_path):
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("not running from a source checkout")
    dist = tmp_path / "dist"
    env = dict(os.environ)
    build = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
                           capture_output=True, text=True, env=env, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = list(dist.glob("fastnn-*.whl"))
    sdists = list(dist.glob("fastnn-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    names = zipfile.ZipFile(wheels[0]).namelist()
    for module in COMPILED_MODULES:
        assert any(n.startswith(f"fastnn/_kernels/{module}.") and n.endswith((".so", ".pyd"))
                   for n in names), f"{module} missing from wheel: {names}"
        assert f"fastnn/_kernels/{module}.pyi" in names, f"{module}'s stub missing from wheel"
    assert "fastnn/py.typed" in names, names

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # the fresh venv must not see a source checkout (nor its egg-info) through PYTHONPATH
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheels[0])],
                             capture_output=True, text=True, env=clean_env, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import fastnn, numpy as np; fastnn.show_config();"
        "y = fastnn.relu(np.array([-1.0, 2.0])); assert y.tolist() == [0.0, 2.0], y;"
        "assert 'site-packages' in fastnn.__file__, fastnn.__file__;"
        "import importlib.metadata as md; v = md.version('fastnn');"
        "assert v == fastnn.__version__, (v, fastnn.__version__); print('OK')"
    )
    run = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                         cwd=str(elsewhere), env=clean_env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("OK")
    if os.environ.get("FASTNN_REQUIRE_OPENMP") == "1":
        assert "serial (no OpenMP)" not in run.stdout, run.stdout
