"""What every command shares: the user-error exception, output lines, folders, threads."""

import os
import sys

import fastnn


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit code ``code``."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def say(*parts, file=None):
    """Print a line at once (to stdout unless ``file``)."""
    print(*parts, file=file if file is not None else sys.stdout, flush=True)


def say_interrupted(args, result):
    """The line a search interrupted by Ctrl-C leaves on stderr."""
    say(
        f"fastnn {args.command}: interrupted after {len(result)} / {result.n_planned} trials",
        file=sys.stderr,
    )


def output_folder(path):
    """``path`` made absolute and created; a file in the way or no permission is a CLIError."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"--out {path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output folder {path}: {exc.strerror}") from None
    return path


def check_backend_setting():
    """A bad ``FASTNN_BACKEND`` is a CLIError (one line) before the command starts."""
    try:
        fastnn.get_backend()
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def set_threads(threads):
    """Apply ``--threads`` (None keeps the current count)."""
    if threads is not None:
        fastnn.set_num_threads(threads)


def settings_record(args):
    """The parsed command line as a JSON-ready dict (for results.json)."""
    skip = {"func", "command"}
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items() if k not in skip
    }
