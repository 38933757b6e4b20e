"""``fastnn config``: version, compiled modules, OpenMP, threads, CPU and BLAS."""

import fastnn
from fastnn.cli.common import set_threads


def cmd_config(args):
    set_threads(args.threads)
    fastnn.show_config()
    return 0
