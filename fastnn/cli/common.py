"""What every command shares: the user-error exception, output lines, folders, threads,
SIGTERM."""

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading

import fastnn
from fastnn.workflow.atomic import remove_stale_temporaries

# Exit codes of a command stopped by Ctrl-C (SIGINT) and by SIGTERM: 128 + the signal number.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# Files a command leaves in --out: a folder holding any of them holds an earlier run.
EARLIER_RUN_FILES = (
    "results.json",
    "search.db",
    "search.csv",
    "search.json",
    "model.npz",
    "best_model.npz",
    "report.html",
)


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit code ``code``."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def say(*parts, file=None):
    """Print a line at once (to stdout unless ``file``)."""
    print(*parts, file=file if file is not None else sys.stdout, flush=True)


def say_interrupted(args, result):
    """The line a search interrupted by Ctrl-C or SIGTERM leaves on stderr."""
    how = "terminated (SIGTERM)" if _terminated.is_set() else "interrupted"
    say(
        f"fastnn {args.command}: {how} after {len(result)} / {result.n_planned} trials",
        file=sys.stderr,
    )


_terminated = threading.Event()


def _raise_on_sigterm(signum, frame):
    _terminated.set()
    raise KeyboardInterrupt  # stops the work the way Ctrl-C does: what finished is kept


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While inside, SIGTERM stops the command like Ctrl-C (see :func:`interrupted_code`);
    only the main thread can take signals, elsewhere this does nothing."""
    _terminated.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred():
    """While inside, Ctrl-C (SIGINT) and SIGTERM wait for the block to finish; then the first
    that arrived stops the command as it would have (KeyboardInterrupt).  For short writes
    that must not be cut; only the main thread can take signals, elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []

    def hold(signum, frame):
        if signum == signal.SIGTERM:
            _terminated.set()
        arrived.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(s, handler)
    if arrived:
        raise KeyboardInterrupt


def interrupted_code():
    """The exit code of a command stopped by a signal: 143 after SIGTERM, else 130."""
    return EXIT_TERMINATED if _terminated.is_set() else EXIT_INTERRUPTED


def prepare_output(path, *, force=False, resume=False, command="train"):
    """The rule for ``--out`` of every command that trains, applied before any work.

    Returns ``path`` made absolute and created.  A folder that cannot be written, or that holds
    an earlier run (:data:`EARLIER_RUN_FILES`) while neither ``force`` nor ``resume`` is set,
    is a CLIError.  ``force`` removes an earlier search journal, so that the run starts afresh.
    The hidden temporary files of a run killed while it wrote (``replacing``'s
    ``.NAME.<id>.tmp.EXT``) are removed from the folder.
    """
    path = output_folder(path)
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".fastnn-write-check-"):
            pass
    except OSError as exc:
        raise CLIError(f"--out {path} is not writable: {exc.strerror}") from None
    earlier = [name for name in EARLIER_RUN_FILES if os.path.exists(os.path.join(path, name))]
    if earlier and not (force or resume):
        also = f", or --resume {path} to continue its search" if command == "search" else ""
        raise CLIError(
            f"--out {path} holds an earlier run ({', '.join(earlier)}): pass --force to "
            f"replace it{also}"
        )
    if force and not resume:
        for name in ("search.db", "search.db-wal", "search.db-shm"):
            target = os.path.join(path, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
    remove_stale_temporaries(path)  # what a run killed while writing a file left behind
    return path


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
    skip = {"func", "command", "parser"}
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items() if k not in skip
    }
