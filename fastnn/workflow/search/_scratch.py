"""Temporary files and folders a search process owns while it runs.

A search writes its train_fn (and the data it holds) to a file its worker processes load, and
may send jobs through a folder of files; both are removed when the search ends.  A search
killed by SIGKILL or a power cut cannot remove them, so each one carries a lock its process
holds until it exits (``flock``: the system drops it with the process, however it ends).  The
next search to make an item of the same kind removes every such item whose lock nobody holds
and that is older than :data:`ORPHAN_SECONDS` (the lock is taken just after the item is made).

Without ``fcntl`` (Windows) items are made and removed the same way, but not locked, and
nothing is swept.
"""

import contextlib
import os
import shutil
import tempfile
import time
import uuid

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# Every item's name starts with this, then its kind; the sweep looks at no other name.
PREFIX = "fastnn-search-"
# An unlocked item younger than this is left alone (its process may be about to lock it).
ORPHAN_SECONDS = 60.0
# A folder's lock is this file inside it.
OWNER = ".owner"


def scratch_file(stack, kind, suffix="", where=None):
    """(an open binary file, its path): a new file named ``PREFIX + kind``..., removed when
    ``stack`` closes, locked until then; the orphans of its kind in ``where`` (the temporary
    folder by default) are removed first.  The caller closes the file object.  A name is
    never used twice (a uuid in it): worker processes may cache what they loaded by path."""
    where = tempfile.gettempdir() if where is None else where
    sweep(kind, where)
    fd, path = tempfile.mkstemp(prefix=_name(kind), suffix=suffix, dir=where)
    stack.callback(_unlink, path)
    _hold(stack, path)
    return os.fdopen(fd, "wb"), path


def scratch_dir(stack, kind, where=None):
    """A new folder named ``PREFIX + kind``..., removed with what it holds when ``stack``
    closes, locked until then; the orphans of its kind in ``where`` are removed first."""
    where = tempfile.gettempdir() if where is None else where
    sweep(kind, where)
    path = tempfile.mkdtemp(prefix=_name(kind), dir=where)
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    owner = os.path.join(path, OWNER)
    with open(owner, "wb"):
        pass
    _hold(stack, owner)
    return path


def sweep(kind, where):
    """Remove the items of ``kind`` in ``where`` left by search processes that are gone: ours
    (same user), older than :data:`ORPHAN_SECONDS`, their lock free.  Best effort: an item
    that cannot be examined or removed stays."""
    if fcntl is None:
        return
    start = PREFIX + kind
    try:
        entries = [e for e in os.scandir(where) if e.name.startswith(start)]
    except OSError:
        return
    now = time.time()
    uid = os.getuid()
    for entry in entries:
        with contextlib.suppress(OSError):
            is_dir = entry.is_dir(follow_symlinks=False)
            lock_path = os.path.join(entry.path, OWNER) if is_dir else entry.path
            st = os.stat(lock_path, follow_symlinks=False)
            if st.st_uid != uid or now - st.st_mtime < ORPHAN_SECONDS:
                continue
            fd = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: its search runs
                if is_dir:
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            finally:
                os.close(fd)


def _name(kind):
    return f"{PREFIX}{kind}{uuid.uuid4().hex}-"


def _hold(stack, path):
    """Lock ``path`` (shared) until ``stack`` closes or this process ends.  Where the file
    system has no locks, the sweep cannot take one either, and leaves the item alone."""
    if fcntl is None:
        return
    fd = os.open(path, os.O_RDONLY)
    stack.callback(os.close, fd)
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_SH)


def _unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
