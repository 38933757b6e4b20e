"""Progress bars: tqdm on a terminal, nothing in logs and pipes (bars garble them)."""

import sys

PROGRESS_MISSING = 'the progress bar needs tqdm: install it with pip install "fastnn[progress]"'


def is_terminal(stream):
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def terminal_tqdm(required=False):
    """The ``tqdm`` class when stderr is a terminal and tqdm is installed, else None.

    With ``required=True`` a missing tqdm (on a terminal) is an ImportError naming the extra.
    """
    if not is_terminal(sys.stderr):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if required:
            raise ImportError(PROGRESS_MISSING) from None
        return None
    return tqdm
