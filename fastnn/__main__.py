"""``python -m fastnn`` and the ``fastnn`` console script."""

import sys


def main(argv=None):
    """Run the ``fastnn`` command line; returns the exit code."""
    from fastnn.cli import main as _main

    return _main(argv)


if __name__ == "__main__":
    sys.exit(main())
