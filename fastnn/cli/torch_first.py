"""Re-running ``fastnn bench`` in a fresh interpreter: one that imports PyTorch before fastnn,
or one whose ISA path is capped (``--isa``).

Here fastnn loaded libgomp with its short spin-wait (GOMP_SPINCOUNT=1000), which PyTorch would
share: its training loop then runs slower than on its own, an unfair peer.  A re-run starts
from the user's environment (without the OpenMP settings fastnn made).
"""

import importlib.util
import os
import subprocess
import sys

import fastnn
from fastnn._config import openmp

TORCH_FIRST_RUN = "FASTNN_BENCH_TORCH_FIRST"  # set in the re-run's environment


def rerun_with_torch_first(args):
    """Re-run this bench with PyTorch imported first and return its exit code; None when
    this process is fine as it is."""
    if (
        args.no_torch
        or "torch" in sys.modules
        or os.environ.get(TORCH_FIRST_RUN)
        or not openmp.pytorch_would_share_short_spin()
        or importlib.util.find_spec("torch") is None
    ):
        return None
    env = dict(openmp.user_environ(), **{TORCH_FIRST_RUN: "1"})
    if args.threads is None:  # keep this process's default, not the torch-first one
        args.argv += ["--threads", str(fastnn.get_num_threads())]
    return rerun_fresh(args.argv, env, preload="import torch; ")


def rerun_fresh(argv, env, preload=""):
    """Run ``fastnn <argv>`` in a fresh interpreter with environment ``env`` (after the
    statements ``preload``) and return its exit code in the shell's convention."""
    # `python -c` puts the working directory first on sys.path: put this fastnn there instead,
    # or a source tree in the working directory would be run in place of it
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    script = (
        f"import sys; sys.path[0] = {root!r}; {preload}"
        "from fastnn.__main__ import main; sys.exit(main(sys.argv[1:]))"
    )
    code = subprocess.call([sys.executable, "-c", script, *argv], env=env)
    return code if code >= 0 else 128 - code  # killed by signal N: the shell's 128 + N
