"""The kernel families: one compiled module, one wrapper module and one NumPy twin module each."""

FAMILIES = (
    "activations",
    "batchnorm",
    "softmax",
    "optim",
    "svm",
    "dropout",
    "layernorm",
    "bias",
)
# Every compiled module under fastnn._kernels: the families, the build/machine report and the
# BLAS binding of fastnn.core.gemm.
# setup.py reads this file (without importing fastnn) so the build, the import check, the
# registry and the wheel test share one list.
COMPILED_MODULES = ("_runtime", "_blas") + FAMILIES
