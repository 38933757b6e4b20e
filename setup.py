"""Build script for fastnn's compiled kernels.

Metadata lives in pyproject.toml; this file only declares the Cython extensions and picks
compiler flags by probing the compiler:

* OpenMP: a tiny program is compiled and linked with the OpenMP flag.  Without OpenMP the
  package builds serial kernels and warns, unless ``FASTNN_REQUIRE_OPENMP=1`` in which case
  the build fails (CI sets it).
* Run-time CPU dispatch (fastnn/_kernels/fastnn_cpu.h): each kernel family's C loops
  (``fastnn/_kernels/<family>_target.c``) are compiled once per ISA target with that target's
  flags (ISA_TARGETS: baseline; AVX2+FMA, i.e. x86-64-v3; AVX-512, i.e. x86-64-v4) into
  objects linked into the family's extension, and the extension picks one at import.  A
  target the compiler cannot build (another architecture, an old compiler) is left out and
  reported.  We never pass ``-march=native``: a wheel must run on any CPU of its architecture.
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

KERNEL_DIR = os.path.join("fastnn", "_kernels")

# The ISA targets (FASTNN_ISA_* of fastnn_cpu.h, in order): name and, per compiler family,
# candidate flag sets (the first the compiler accepts is used).  x86-64-v3 is AVX, AVX2, FMA,
# BMI1/2, F16C, LZCNT, MOVBE on top of SSE4.2/POPCNT; x86-64-v4 adds AVX-512 F/CD/BW/DQ/VL.
# The explicit lists serve compilers that predate the -march=x86-64-vN names (gcc < 11).
_V3_FLAGS = [
    "-msse3",
    "-mssse3",
    "-msse4.1",
    "-msse4.2",
    "-mpopcnt",
    "-mavx",
    "-mavx2",
    "-mfma",
    "-mbmi",
    "-mbmi2",
    "-mf16c",
    "-mlzcnt",
    "-mmovbe",
]
ISA_TARGETS = (
    ("baseline", {"unix": [[]], "msvc": [[]]}),
    ("avx2", {"unix": [["-march=x86-64-v3"], _V3_FLAGS], "msvc": [["/arch:AVX2"]]}),
    (
        "avx512",
        {
            "unix": [
                ["-march=x86-64-v4"],
                _V3_FLAGS + ["-mavx512f", "-mavx512cd", "-mavx512bw", "-mavx512dq", "-mavx512vl"],
            ],
            "msvc": [["/arch:AVX512"]],
        },
    ),
)

# fastnn_target.h checks that the flags match the target (and fails off x86 for the AVX ones).
TARGET_PROBE = '#include "fastnn_target.h"\nint main(void) { return FASTNN_TARGET_ISA < 0; }\n'

try:
    from setuptools.modified import newer_group
except ImportError:  # setuptools < 69
    from setuptools._distutils.dep_util import newer_group


def _is_msvc(compiler):
    return getattr(compiler, "compiler_type", "") == "msvc"


def _probe(compiler, source, compile_args=(), link_args=(), include_dirs=(), macros=()):
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
                objects = compiler.compile(
                    [path],
                    output_dir=tmp,
                    macros=list(macros),
                    include_dirs=[os.path.abspath(d) for d in include_dirs],
                    extra_postargs=list(compile_args),
                )
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


def _isa_targets(compiler, compile_args):
    """[(name, index, flags)] of the ISA targets this compiler builds (the baseline always)."""
    family = "msvc" if _is_msvc(compiler) else "unix"
    found = []
    for index, (name, candidates) in enumerate(ISA_TARGETS):
        for flags in candidates[family]:
            if _probe(
                compiler,
                TARGET_PROBE,
                list(compile_args) + flags,
                include_dirs=[KERNEL_DIR],
                macros=[("FASTNN_TARGET_ISA", str(index))],
            ):
                found.append((name, index, flags))
                break
        else:
            if index == 0:
                raise RuntimeError("fastnn: the C compiler cannot build the baseline target")
    return found


class BuildExt(build_ext):
    """build_ext that probes the compiler once, sets flags on every extension and compiles
    each kernel family's <family>_target.c once per ISA target into the extension."""

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
            base_compile = [
                "-O3",
                "-fno-math-errno",
                "-fno-trapping-math",
                "-std=c11",
                "-ffp-contract=off",
            ]
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

        self.isa_targets = _isa_targets(compiler, base_compile)
        macros = [("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")]
        macros += [(f"FASTNN_BUILT_{name.upper()}", "1") for name, _, _ in self.isa_targets[1:]]

        for ext in self.extensions:
            ext.extra_compile_args = base_compile + omp_compile
            ext.extra_link_args = base_link + omp_link
            ext.define_macros = list(ext.define_macros or []) + macros
        print(
            f"fastnn: OpenMP {'on' if has_openmp else 'OFF'}, ISA targets: "
            + ", ".join(
                f"{name} ({' '.join(flags) or 'default flags'})"
                for name, _, flags in self.isa_targets
            ),
            file=sys.stderr,
        )
        super().build_extensions()

    def build_extension(self, ext):
        family = ext.name.rsplit(".", 1)[-1]
        target_source = os.path.join(KERNEL_DIR, f"{family}_target.c")
        stale = self.force or newer_group(
            list(ext.sources) + list(ext.depends), self.get_ext_fullpath(ext.name), "newer"
        )
        if os.path.exists(target_source) and stale:
            ext.extra_objects = []
            for name, index, flags in self.isa_targets:
                ext.extra_objects += self.compiler.compile(
                    [target_source],
                    output_dir=os.path.join(self.build_temp, f"isa-{name}"),
                    macros=ext.define_macros + [("FASTNN_TARGET_ISA", str(index))],
                    include_dirs=[KERNEL_DIR],
                    extra_postargs=ext.extra_compile_args + flags,
                    depends=ext.depends,
                )
        super().build_extension(ext)


extensions = [
    Extension(
        f"fastnn._kernels.{name}",
        [f"fastnn/_kernels/{name}.pyx"],
        include_dirs=[np.get_include(), "fastnn/_kernels"],
        depends=(
            ["fastnn/_kernels/_common.pxd"]
            + sorted(glob.glob("fastnn/_kernels/*.h"))
            + sorted(glob.glob("fastnn/_kernels/*_target.c"))
        ),
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
