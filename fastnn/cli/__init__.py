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

import os
import sys

from fastnn.cli.common import CLIError, check_backend_setting
from fastnn.cli.parser import build_parser

__all__ = ["main", "build_parser", "CLIError"]


def main(argv=None):
    """Entry point of ``fastnn`` / ``python -m fastnn``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        check_backend_setting()
        return args.func(args) or 0
    except CLIError as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fastnn bench | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
