"""Build script for fastnn's compiled kernels.

Metadata lives in pyproject.toml; this file only declares the Cython extensions and picks
compiler flags by probing the compiler:

* OpenMP: a tiny program is compiled and linked with the OpenMP flag.  Without OpenMP the
  package builds serial kernels and warns, unless ``FASTNN_REQUIRE_OPENMP=1`` in which case
  the build fails (CI sets it).
* Run-time CPU dispatch: if the compiler accepts GCC's ``target_clones`` attribute, the hot
  loops get an AVX-512 / AVX2+FMA clone next to the baseline one; the loader picks at import.
  We never pass ``-march=native``: a wheel must run on any CPU of its architecture.
"""

import glob
import os
import runpy
import shutil
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The one list of compiled modules, read without importing fastnn (not built yet).
KERNEL_MODULES = runpy.run_path(os.path.join("fastnn", "_families.py"))["COMPILED_MODULES"]

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 ? 0 : 1;
    }
    """
)

TARGET_CLONES_PROBE = textwrap.dedent(
    """
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    static double twice(const double *x, int n) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += 2.0 * x[i];
        return s;
    }
    int main(void) { double x[4] = {1, 2, 3, 4}; return twice(x, 4) > 0.0 ? 0 : 1; }
    """
)


def _is_msvc(compiler):
    return getattr(compiler, "compiler_type", "") == "msvc"


def _probe(compiler, source, compile_args=(), link_args=()):
    """Return True if ``source`` compiles and links with the given flags."""
    tmp = tempfile.mkdtemp(prefix="fastnn-probe-")
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(source)
        with open(os.devnull, "w") as devnull:
            old_stderr = os.dup(2)
            os.dup2(devnull.fileno(), 2)  # the probe's expected failures are not build errors
            try:
                objects = compiler.compile([path], output_dir=tmp, extra_postargs=list(compile_args))
                compiler.link_executable(
                    objects, os.path.join(tmp, "probe"), extra_postargs=list(link_args)
                )
            finally:
                os.dup2(old_stderr, 2)
                os.close(old_stderr)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _openmp_flags(compiler):
    if _is_msvc(compiler):
        # MSVC's own OpenMP 2.0 runtime (vcomp140.dll, in the Visual C++ redistributable; the
        # wheel repair vendors it). /openmp:llvm would need libomp140.x86_64.dll, which Visual
        # Studio ships only as non-redistributable. The kernels use OpenMP 2.0 constructs only.
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang needs -Xpreprocessor and Homebrew's libomp.
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


class BuildExt(build_ext):
    """build_ext that probes the compiler once and sets flags on every extension."""

    def build_extensions(self):
        compiler = self.compiler
        require_openmp = os.environ.get("FASTNN_REQUIRE_OPENMP", "") == "1"

        if _is_msvc(compiler):
            base_compile = ["/O2", "/fp:precise"]
            base_link = []
        else:
            # -fno-math-errno / -fno-trapping-math let gcc vectorise our polynomial exp and
            # tanh; -ffast-math is deliberately absent (it breaks NaN and inf handling).
            # -ffp-contract=off is gcc's default under -std=c11 but not clang's: the
            # element-wise kernels promise NumPy's bits (no FMA outside FASTNN_CONTRACT_ON).
            base_compile = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-std=c11",
                            "-ffp-contract=off"]
            base_link = ["-lm"] if sys.platform.startswith("linux") else []

        omp_compile, omp_link = _openmp_flags(compiler)
        has_openmp = _probe(compiler, OPENMP_PROBE, omp_compile, omp_link)
        if not has_openmp:
            message = (
                "fastnn: the C compiler does not support OpenMP; building serial kernels. "
                "Install an OpenMP-capable compiler (gcc, or clang with libomp) for threads."
            )
            if require_openmp:
                raise RuntimeError(message + " FASTNN_REQUIRE_OPENMP=1 forbids a serial build.")
            print("WARNING: " + message, file=sys.stderr)
            omp_compile, omp_link = [], []

        macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
        if not _is_msvc(compiler) and _probe(compiler, TARGET_CLONES_PROBE, ["-O2"]):
            macros.append(("FASTNN_HAVE_TARGET_CLONES", "1"))

        for ext in self.extensions:
            ext.extra_compile_args = base_compile + omp_compile
            ext.extra_link_args = base_link + omp_link
            ext.define_macros = list(ext.define_macros or []) + macros
        print(
            f"fastnn: OpenMP {'on' if has_openmp else 'OFF'}, "
            f"run-time CPU dispatch {'on' if ('FASTNN_HAVE_TARGET_CLONES', '1') in macros else 'off'}",
            file=sys.stderr,
        )
        super().build_extensions()


extensions = [
    Extension(
        f"fastnn._kernels.{name}",
        [f"fastnn/_kernels/{name}.pyx"],
        include_dirs=[np.get_include(), "fastnn/_kernels"],
        depends=["fastnn/_kernels/_common.pxd"] + sorted(glob.glob("fastnn/_kernels/*.h")),
    )
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
