"""GCC's libgomp spin-wait: shortened before fastnn's first extension import, and reported.

libgomp's idle threads spin for ~300k iterations after every parallel region.  Next to
OpenBLAS's own threads that oversubscribes the cores and a training loop built from
fastnn.layers runs many times slower on 2 threads than on 1 (docs/perf/layout.md).  A
short spin keeps our parallel regions' hand-off as fast as before and frees the cores for BLAS.
libgomp reads the setting once, when it loads, and PyTorch shares it: so it is set only before
our first extension import, never over the user's own setting, and when another library loaded
libgomp first (too late to shorten it) the default thread count is one.
"""

import os
import re

_SPIN_VARIABLES = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
_state = {"late": False, "set_by_fastnn": False}


def prepare_openmp():
    """Called once by ``import fastnn`` before its extensions load libgomp."""
    if any(name in os.environ for name in _SPIN_VARIABLES):
        return  # the user's setting wins
    _state["late"] = libgomp_loaded()
    os.environ["GOMP_SPINCOUNT"] = "1000"
    _state["set_by_fastnn"] = True


def loaded_before_fastnn():
    """True when libgomp was loaded before fastnn, with its long spin-wait."""
    return _state["late"]


def libgomp_loaded():
    """Whether this process has already mapped GCC's libgomp (Linux; False elsewhere).

    Only libgomp.so.1 itself (e.g. libgomp.so.1.0.0, or PyTorch's copy) counts: a copy that a
    wheel renamed (libgomp-1a2b3c.so.1) is a separate runtime that fastnn does not share.
    """
    try:
        with open("/proc/self/maps") as maps:
            return any(re.search(r"/libgomp\.so(\.\d+)*$", line.rstrip()) for line in maps)
    except OSError:
        return False


def spin_wait():
    """How long idle libgomp threads (fastnn's and PyTorch's) spin, in words."""
    if not libgomp_loaded():
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
