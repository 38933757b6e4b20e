"""Run-time CPU dispatch: the C selector on faked feature masks, the FASTNN_MAX_CPU_ISA cap
(in subprocesses, since it is read at import), the warning for a bad value, and the report.

The kernels themselves are tested on every path this machine can run by CI, which re-runs
the kernel test files under each cap (.ci/run)."""

import platform

import pytest
from util import run_with_cap

from fastnn._families import FAMILIES
from fastnn._kernels import _runtime as rt

ALL = ("baseline", "avx2", "avx512")
BITS = rt.FEATURE_BITS


def mask_of(*names):
    m = 0
    for name in names:
        m |= BITS[name]
    return m


V3 = rt.feature_names(rt.ISA_NEEDS["avx2"])
V4 = rt.feature_names(rt.ISA_NEEDS["avx512"])
NO_CAP = len(ALL) - 1


def test_feature_lists_name_the_paths_requirements():
    assert "os_avx" in V3 and "fma" in V3 and "avx2" in V3 and "avx512f" not in V3
    assert set(V3) < set(V4)
    assert {"avx512f", "avx512bw", "avx512dq", "avx512vl", "os_avx512"} <= set(V4)


@pytest.mark.parametrize(
    "features, want",
    [
        ((), "baseline"),
        (("sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"), "baseline"),  # x86-64-v2
        (V3, "avx2"),
        (V4, "avx512"),
    ],
)
def test_selector_picks_the_best_supported_path(features, want):
    assert rt.select_isa(mask_of(*features), NO_CAP, ALL) == want
    assert rt.supported_isa(mask_of(*features)) == want


@pytest.mark.parametrize("missing", V3)
def test_avx2_path_needs_every_feature_of_its_flags(missing):
    """A CPU (or OS) lacking any one feature -march=x86-64-v3 may use gets the baseline."""
    features = [name for name in V3 if name != missing]
    assert rt.select_isa(mask_of(*features), NO_CAP, ALL) == "baseline"


@pytest.mark.parametrize("missing", sorted(set(V4) - set(V3)))
def test_avx512_path_needs_every_avx512_feature_and_the_os_state(missing):
    features = [name for name in V4 if name != missing]
    assert rt.select_isa(mask_of(*features), NO_CAP, ALL) == "avx2"


def test_os_without_avx_state_gets_baseline_even_with_avx512_cpu():
    features = [name for name in V4 if name not in ("os_avx", "os_avx512")]
    assert rt.select_isa(mask_of(*features), NO_CAP, ALL) == "baseline"
    reason = rt.explain_isa(mask_of(*features), NO_CAP, ALL)
    assert reason.startswith("baseline") and "OS" in reason and "XCR0" in reason


@pytest.mark.parametrize("cap", range(len(ALL)))
@pytest.mark.parametrize("cpu", ["v2", "v3", "v4"])
def test_cap_limits_the_path_and_never_raises_it(cap, cpu):
    features = {"v2": (), "v3": V3, "v4": V4}[cpu]
    supported = {"v2": 0, "v3": 1, "v4": 2}[cpu]
    got = rt.select_isa(mask_of(*features), cap, ALL)
    assert got == ALL[min(cap, supported)]


def test_selector_skips_paths_not_compiled():
    assert rt.select_isa(mask_of(*V4), NO_CAP, ("baseline", "avx2")) == "avx2"
    assert rt.select_isa(mask_of(*V4), NO_CAP, ("baseline",)) == "baseline"
    assert rt.select_isa(mask_of(*V4), NO_CAP, ("baseline", "avx512")) == "avx512"
    assert rt.select_isa(mask_of(*V3), NO_CAP, ("baseline", "avx512")) == "baseline"
    assert "not compiled" in rt.explain_isa(mask_of(*V4), NO_CAP, ("baseline",))


def test_explain_names_the_cap_and_the_missing_features():
    capped = rt.explain_isa(mask_of(*V3), 0, ALL, cap_value="baseline")
    assert capped == "baseline: capped by FASTNN_MAX_CPU_ISA=baseline (the CPU and OS support avx2)"
    lacking = rt.explain_isa(mask_of(*[n for n in V4 if n != "avx512bw"]), NO_CAP, ALL)
    assert lacking.startswith("avx2:") and "avx512bw" in lacking and "avx512f" not in lacking
    assert rt.explain_isa(mask_of(*V4), NO_CAP, ALL).startswith("avx512: the best compiled")


@pytest.mark.parametrize(
    "value, want",
    [
        (None, NO_CAP),
        ("", NO_CAP),
        ("  ", NO_CAP),
        ("baseline", 0),
        ("AVX2", 1),
        (" avx512 ", 2),
    ],
)
def test_parse_cap_accepts_the_path_names(value, want):
    assert rt.parse_isa_cap(value) == (want, None)


@pytest.mark.parametrize("value", ["sse2", "avx-512", "native", "2", "avx2,avx512"])
def test_parse_cap_rejects_other_values_with_one_line(value):
    cap, problem = rt.parse_isa_cap(value)
    assert cap == NO_CAP
    assert "\n" not in problem and repr(value) in problem
    assert "baseline, avx2, avx512" in problem


def test_modules_run_the_selected_path():
    mask = rt.cpu_mask()
    info = rt.isa_info()
    assert set(info["modules"]) == set(FAMILIES)
    for name in FAMILIES:
        module = __import__(f"fastnn._kernels.{name}", fromlist=["ISA"])
        assert "baseline" in module.ISA_BUILT
        assert module.ISA == rt.select_isa(mask, rt.isa_cap(), module.ISA_BUILT)
        assert info["modules"][name] == module.ISA
    assert info["cpu_supports"] == rt.supported_isa(mask)
    assert info["reason"].startswith(info["path"] + ":")


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="only x86-64 has more than one path",
)
def test_x86_build_compiles_the_avx_paths():
    """A lost target (a flag probe failing silently) would leave every user on the baseline."""
    assert rt.BUILT_ISAS == ALL
    assert rt.RUNTIME_DISPATCH


# ---- the variable, read at import: a fresh interpreter per value

PROBE = """
import json, warnings
warnings.simplefilter("always")
import numpy as np
import fastnn
from fastnn._kernels import _runtime
info = _runtime.isa_info()
x = np.linspace(-3, 3, 1001)
info["check"] = float(np.max(np.abs(fastnn.tanh(x) - np.tanh(x))))
print(json.dumps(info))
"""


def _run_with_cap(value, cwd):
    """Import fastnn in a fresh interpreter with FASTNN_MAX_CPU_ISA=value (unset if None)."""
    return run_with_cap(PROBE, value, cwd)


def _supported_index():
    return ALL.index(rt.select_isa(rt.cpu_mask(), NO_CAP))


@pytest.mark.parametrize("value", ALL)
def test_cap_variable_selects_the_path_in_every_module(value, tmp_path):
    info, stderr = _run_with_cap(value, tmp_path)
    want = ALL[min(ALL.index(value), _supported_index())]
    assert "Warning" not in stderr
    assert info["path"] == want and set(info["modules"].values()) == {want}
    assert info["cap"] == value
    assert info["check"] < 1e-15


def test_bad_cap_value_warns_once_and_uses_the_best_path(tmp_path):
    info, stderr = _run_with_cap("avx1024", tmp_path)
    best = ALL[_supported_index()]
    warnings = [line for line in stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warnings) == 1, stderr
    assert "FASTNN_MAX_CPU_ISA='avx1024'" in warnings[0]
    assert "baseline, avx2, avx512" in warnings[0]
    assert info["path"] == best
    assert "avx1024" in info["reason"]


def test_show_config_names_the_path_and_why():
    import io

    import fastnn

    out = io.StringIO()
    fastnn.show_config(file=out)
    info = rt.isa_info()
    line = next(ln for ln in out.getvalue().splitlines() if ln.startswith("ISA path:"))
    assert line == f"ISA path: {info['reason']}"
    assert line.startswith(f"ISA path: {info['path']}:")


def test_show_config_names_the_path_of_each_module():
    """The issue's "name the path each module runs": every kernel module's line says it."""
    import io

    import fastnn

    out = io.StringIO()
    fastnn.show_config(file=out)
    lines = out.getvalue().splitlines()
    modules = rt.isa_info()["modules"]
    assert modules
    for name, path in modules.items():
        line = next(ln for ln in lines if ln.split()[:1] == [name])
        assert f" {path} path " in line, line
