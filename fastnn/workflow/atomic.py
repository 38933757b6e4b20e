"""Writing a file whole or not at all: the one rule every saved result follows.

A command stopped while it saves (Ctrl-C, SIGTERM, a full disk) must not leave a half-written
CSV, JSON, model or figure that looks finished.  :func:`replacing` writes to a temporary file in
the same folder and renames it over the target only once the write succeeded (``os.replace`` is
atomic within one file system), so the target holds either its old content or the new one.
"""

import contextlib
import os
import uuid

__all__ = ["replacing"]


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path``.

    The caller creates the temporary file (so it gets the usual permissions, not
    mkstemp's 0600).  Its name keeps the target's extension (NumPy and matplotlib choose the
    format from it) and starts with a dot; on any exception, KeyboardInterrupt included, it
    is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    ext = os.path.splitext(name)[1]
    tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp{ext}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
