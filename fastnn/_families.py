"""The kernel families: one compiled module, one wrapper module and one NumPy twin module each."""

import importlib

FAMILIES = ("activations", "batchnorm", "softmax", "optim")
# Every compiled module under fastnn._kernels: the families plus the build/machine report.
# setup.py reads this file (without importing fastnn) so the build, the import check, the
# registry and the wheel test share one list.
COMPILED_MODULES = ("_runtime",) + FAMILIES


def reexport(package, namespace):
    """Copy every family module's public names of ``package`` into ``namespace``; return them."""
    names = []
    for family in FAMILIES:
        module = importlib.import_module(f"{package}.{family}")
        names += module.__all__
        namespace.update({name: getattr(module, name) for name in module.__all__})
    return names
