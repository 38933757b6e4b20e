"""The ``fastnn`` command line: the lecture's workflow on real data, a benchmark table, config.

    fastnn demo [--out DIR] [--data digits|cifar10:PATH] [--quick]
    fastnn bench [--size ...] [--threads N] [--json FILE] [--markdown]
    fastnn init-stats [--init 0.01|1.0|xavier|he] [--activation tanh|relu|...]
    fastnn train ...      fastnn search ...      fastnn config
    fastnn predict MODEL DATA [--proba] [--out FILE]

One module per command (``config``, ``bench``, ``init_stats``, ``train``, ``search``, ``demo``,
``predict``), the parser in ``parser``, argument types in ``argtypes``, what the commands share
in ``common``, ``data`` and ``training``, and the benchmark's torch-first re-run in
``torch_first``.

Mistakes a user can make (a missing folder, an unknown name, a bad number) end with one line on
stderr and a non-zero exit code: 2 for a bad command line, 1 for anything else the user can fix.
Bugs still show their traceback.
"""

import errno
import os
import select
import sys

from fastnn.cli.common import (
    EXIT_TERMINATED,
    CLIError,
    check_backend_setting,
    interrupted_code,
    sigterm_as_interrupt,
)
from fastnn.cli.parser import build_parser

__all__ = ["main", "build_parser", "CLIError"]


def main(argv=None):
    """Entry point of ``fastnn`` / ``python -m fastnn``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.parser = parser  # `fastnn search --resume` parses the command line it saved
    try:
        check_backend_setting()
        with sigterm_as_interrupt():
            return args.func(args) or 0
    except CLIError as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        code = interrupted_code()
        how = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
        print(f"fastnn {args.command}: {how}", file=sys.stderr)
        return code
    except BrokenPipeError as exc:
        if exc.errno != errno.EPIPE or not _stdout_reader_gone():
            # a pipe of ours (to worker processes, say), not the reader of stdout
            print(f"fastnn {args.command}: error: broken pipe: {exc}", file=sys.stderr)
            return 1
        # `fastnn bench | head`: the reader has gone; nothing more to say, and nowhere to say it
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0


def _stdout_reader_gone():
    """True when stdout is a pipe (or socket) whose reading end has been closed."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False
