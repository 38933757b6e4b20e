"""OpenMP's idle-thread wait: shortened before fastnn's first extension import, and reported.

GCC's libgomp (gcc builds) spins its idle threads for ~300k iterations after every parallel
region, LLVM's libomp (clang builds: macOS, ``CC=clang``) for 200 ms (KMP_BLOCKTIME).  Next to
OpenBLAS's own threads that oversubscribes the cores and a training loop built from
fastnn.layers runs many times slower on 2 threads than on 1 (docs/perf/layout.md).  A short
spin keeps our parallel regions' hand-off as fast as before and frees the cores for BLAS:
GOMP_SPINCOUNT=1000 for libgomp; KMP_BLOCKTIME=1 for libomp, which counts in milliseconds
(with 0 its threads sleep after every region, and waking them made back-to-back kernel calls
several times slower).  A runtime reads its setting once, when it starts, and PyTorch shares
it: so it is set only before our first extension import, never over the user's own setting
(OMP_WAIT_POLICY, or the runtime's own variable), and when another library loaded libgomp
first (too late to shorten it) the default thread count is one.
"""

import os
import re

_SPIN_VARIABLES = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
_BLOCKTIME_VARIABLES = ("KMP_BLOCKTIME", "OMP_WAIT_POLICY")
_state = {"late": False, "set_by_fastnn": False, "blocktime_by_fastnn": False}


def prepare_openmp():
    """Called once by ``import fastnn`` before its extensions load their OpenMP runtime."""
    if not any(name in os.environ for name in _BLOCKTIME_VARIABLES):
        os.environ["KMP_BLOCKTIME"] = "1"
        _state["blocktime_by_fastnn"] = True
    if any(name in os.environ for name in _SPIN_VARIABLES):
        return  # the user's setting wins
    _state["late"] = libgomp_loaded()
    os.environ["GOMP_SPINCOUNT"] = "1000"
    _state["set_by_fastnn"] = True


def user_environ():
    """os.environ without the variables fastnn set (for a fresh interpreter to decide anew)."""
    env = dict(os.environ)
    if _state["set_by_fastnn"]:
        env.pop("GOMP_SPINCOUNT", None)
    if _state["blocktime_by_fastnn"]:
        env.pop("KMP_BLOCKTIME", None)
    return env


def loaded_before_fastnn():
    """True when libgomp was loaded before fastnn, with its long spin-wait."""
    return _state["late"]


def libgomp_loaded():
    """Whether this process has already mapped GCC's libgomp (Linux; False elsewhere).

    Only libgomp.so.1 itself (e.g. libgomp.so.1.0.0, or PyTorch's copy) counts: a copy that a
    wheel renamed (libgomp-1a2b3c.so.1) is a separate runtime that fastnn does not share.
    """
    return _mapped("libgomp")


def libomp_loaded():
    """Whether this process has mapped LLVM's libomp (Linux; False elsewhere)."""
    return _mapped("libomp")


def _mapped(library):
    """Whether /proc/self/maps lists ``library``.so (with any version suffix)."""
    pattern = re.compile(rf"/{library}\.so(\.\d+)*$")
    try:
        with open("/proc/self/maps") as maps:
            return any(pattern.search(line.rstrip()) for line in maps)
    except OSError:
        return False


def spin_wait():
    """How long idle OpenMP threads (fastnn's and PyTorch's) spin, in words."""
    if not libgomp_loaded():
        if libomp_loaded():
            mine = _state["blocktime_by_fastnn"]
            user = [f"{k}={os.environ[k]}" for k in _BLOCKTIME_VARIABLES if k in os.environ]
            if not user:
                return "libomp default block time (200 ms)"
            return "libomp " + ", ".join(user) + (" (fastnn's)" if mine else " (yours)")
        return "not GCC's libgomp (its spin-wait setting does not apply)"
    if _state["late"]:
        return "libgomp loaded before fastnn (PyTorch first): its default spin-wait"
    if _state["set_by_fastnn"]:
        return "GOMP_SPINCOUNT=1000 (fastnn's)"
    user = [f"{k}={os.environ[k]}" for k in _SPIN_VARIABLES if k in os.environ]
    return ", ".join(user) + " (yours)" if user else "libgomp default spin-wait"


def pytorch_would_share_short_spin():
    """True when fastnn shortened libgomp's spin-wait and PyTorch, imported now, would share
    it (its training loop then runs slower than on its own)."""
    return _state["set_by_fastnn"] and not _state["late"] and libgomp_loaded()
