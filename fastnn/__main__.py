"""``python -m fastnn`` and the ``fastnn`` console script (``fastnn.__main__:main``)."""

import sys

from fastnn.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
