"""Every registered kernel against its reference twin: signatures, agreement, inputs untouched
(except the arguments a kernel declares it updates in place, which must agree with the twin's).

Family test files sweep their kernels over odd inputs; this file guarantees that nothing
registered escapes the basic contract, and that the registry and the public namespaces agree.
"""

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
import fastnn.reference
from fastnn.registry import all_kernels

SPECS = all_kernels()
TOL = {np.float32: dict(rtol=1e-4, atol=1e-6), np.float64: dict(rtol=1e-9, atol=1e-10)}


def _arrays_of(result):
    """The comparable leading outputs of a kernel call (caches and other objects are skipped)."""
    if result is None:  # an in-place kernel
        return []
    if isinstance(result, tuple):
        return [r for r in result if isinstance(r, (np.ndarray, float))]
    return [result]


def _copy_args(args):
    """Copies of the array arguments, and of the arrays in list arguments (the
    multi-parameter update takes lists of them)."""
    return [
        a.copy() if isinstance(a, np.ndarray) else _copy_args(a) if isinstance(a, list) else a
        for a in args
    ]


def test_registry_names_are_unique_and_public():
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names)), names
    for name in names:
        assert getattr(fastnn, name) is not None
        assert name in fastnn.__all__, name
        assert name in fastnn.reference.__all__, name


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_same_signature_as_reference(spec):
    fast = inspect.signature(spec.fast)
    ref = inspect.signature(spec.reference)
    assert [(p.name, p.default) for p in fast.parameters.values()] == [
        (p.name, p.default) for p in ref.parameters.values()
    ], (fast, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fast_matches_reference_and_leaves_inputs_alone(spec, dtype):
    shape = min(spec.shapes, key=lambda s: int(np.prod(s)))
    for seed in range(3):
        fast_args, fast_kwargs = spec.make_args(
            np.random.default_rng(seed), shape, dtype, spec.fast
        )
        ref_args, ref_kwargs = spec.make_args(
            np.random.default_rng(seed), shape, dtype, spec.reference
        )
        before = _copy_args(fast_args)
        fast_out = _arrays_of(spec.fast(*fast_args, **fast_kwargs))
        ref_out = _arrays_of(spec.reference(*ref_args, **ref_kwargs))
        for i, (arg, old) in enumerate(zip(fast_args, before)):
            if i in spec.inplace:
                np.testing.assert_allclose(
                    arg, ref_args[i], err_msg=f"{spec.name} argument {i}", **TOL[dtype]
                )
                assert not np.array_equal(arg, old), f"{spec.name} did not update argument {i}"
            elif isinstance(arg, np.ndarray):
                np.testing.assert_array_equal(arg, old, err_msg=f"{spec.name} modified an input")
        assert len(fast_out) == len(ref_out), spec.name
        for got, want in zip(fast_out, ref_out):
            if isinstance(want, np.ndarray):
                assert isinstance(got, np.ndarray) and got.dtype == want.dtype, (got, want)
            np.testing.assert_allclose(got, want, equal_nan=True, err_msg=spec.name, **TOL[dtype])


def _byte_swapped(a):
    return a.astype(a.dtype.newbyteorder())


def _unaligned(a):
    """A copy of a whose data starts one byte past an aligned address (C-contiguous)."""
    buf = np.empty(a.nbytes + 1, np.uint8)[1:]
    out = buf.view(a.dtype).reshape(a.shape)
    out[...] = a
    assert a.dtype.itemsize == 1 or a.size == 0 or not out.flags.aligned
    return out


def _in_layout(layout, arg):
    """arg with every array in it (also inside lists) copied into ``layout``."""
    if isinstance(arg, np.ndarray):
        return layout(arg)
    if isinstance(arg, list):
        return [_in_layout(layout, a) for a in arg]
    return arg


@pytest.mark.parametrize("layout", [_byte_swapped, _unaligned], ids=["swapped", "unaligned"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_byte_swapped_and_unaligned_inputs(spec, dtype, layout):
    """Such inputs give the native inputs' values (in the dtype the twin returns for them),
    or the twin's exception: a kernel that trusted such a buffer read garbage."""
    shape = min(spec.shapes, key=lambda s: int(np.prod(s)))

    def calls(impl):
        args, kwargs = spec.make_args(np.random.default_rng(0), shape, dtype, impl)
        odd = [_in_layout(layout, a) for a in args]
        return args, odd, kwargs

    ref_args, ref_odd, ref_kwargs = calls(spec.reference)
    want = _arrays_of(spec.reference(*ref_args, **ref_kwargs))
    fast_args, fast_odd, fast_kwargs = calls(spec.fast)
    try:
        want_odd = _arrays_of(spec.reference(*ref_odd, **ref_kwargs))
    except (TypeError, ValueError) as error:
        with pytest.raises(type(error)):
            spec.fast(*fast_odd, **fast_kwargs)
        return
    got = _arrays_of(spec.fast(*fast_odd, **fast_kwargs))
    # the updates return nothing: what they wrote into their in-place arguments is the result
    got += [fast_odd[i] for i in spec.inplace]
    want += [ref_args[i] for i in spec.inplace]
    want_odd += [ref_odd[i] for i in spec.inplace]
    assert len(got) == len(want) == len(want_odd), spec.name
    for g, w, wo in zip(got, want, want_odd):
        if isinstance(w, np.ndarray):
            assert g.dtype == wo.dtype, (spec.name, g.dtype, wo.dtype)
        np.testing.assert_allclose(g, w, equal_nan=True, err_msg=spec.name, **TOL[dtype])


@pytest.mark.slow
def test_every_benchmark_case_runs_once(tmp_path):
    bench = Path(__file__).resolve().parents[1] / "bench"
    if not bench.exists():
        pytest.skip("benchmarks are not part of this install")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(bench),
            "--benchmark-disable",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=str(tmp_path),
    )  # not the source tree: it would shadow the install
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_activation_and_update_lists_name_the_kernels():
    """core's ACTIVATIONS and UPDATE_RULES (the lists the rest of the tree reads) are exactly
    the registered activations (each with its backward) and ``<rule>_update`` kernels."""
    from fastnn.core.activations import ACTIVATIONS
    from fastnn.core.optim import UPDATE_RULES

    families = {spec.name: spec.family for spec in all_kernels()}
    activations = {n for n, f in families.items() if f == "activations"}
    assert activations == {*ACTIVATIONS, *(f"{a}_backward" for a in ACTIVATIONS)}
    updates = {n for n, f in families.items() if f == "optim" and n.endswith("_update")}
    assert updates == {f"{rule}_update" for rule in UPDATE_RULES}
