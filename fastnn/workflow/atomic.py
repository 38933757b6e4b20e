"""Writing a file whole or not at all: the one rule every saved result follows.

A command stopped while it saves (Ctrl-C, SIGTERM, a full disk) must not leave a half-written
CSV, JSON, model or figure that looks finished.  :func:`replacing` writes to a temporary file in
the same folder and renames it over the target only once the write succeeded (``os.replace`` is
atomic within one file system), so the target holds either its old content or the new one.
"""

import contextlib
import os
import re
import uuid

__all__ = ["replacing", "remove_stale_temporaries"]

# A temporary file of replacing(): ".NAME.<12 hex digits>.tmp" + NAME's extension.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp(?P<ext>\.[^.]*)?")


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


def remove_stale_temporaries(folder):
    """Remove the temporary files :func:`replacing` left in ``folder`` (not below it) when its
    process was killed mid-write (SIGKILL, a power cut); returns their names.

    Only names of that exact form, whose extension is the target's, are touched; call it
    only where no other process is writing (a command's output folder, before it starts).
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in sorted(names):
        match = _TEMPORARY.fullmatch(name)
        if match is None or (match["ext"] or "") != os.path.splitext(match["name"])[1]:
            continue
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(name)
    return removed
