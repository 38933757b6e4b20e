"""A search's temporary files and folders: removed when it ends, and when it was killed, by the
next search to make one (fastnn.workflow.search._scratch)."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

import fastnn
from fastnn.workflow import search
from fastnn.workflow.search import _scratch
from fastnn.workflow.search._scratch import ORPHAN_SECONDS, PREFIX, scratch_dir, scratch_file

fcntl = pytest.importorskip("fcntl", reason="the sweep needs flock (POSIX)")

FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))


def age(path, seconds=2 * ORPHAN_SECONDS):
    old = time.time() - seconds
    os.utime(path, (old, old))


def locked_by_someone(path):
    """True when another open file description holds a lock on ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def orphan_file(where, kind):
    fd, path = tempfile.mkstemp(prefix=f"{PREFIX}{kind}", suffix=".pkl", dir=where)
    os.close(fd)
    age(path)
    return path


def orphan_dir(where, kind):
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}", dir=where)
    with open(os.path.join(path, "0.pkl"), "wb") as f:
        f.write(b"job")
    owner = os.path.join(path, _scratch.OWNER)
    open(owner, "wb").close()
    age(owner)
    return path


def test_a_scratch_file_is_locked_while_its_stack_is_open_and_removed_after(tmp_path):
    with contextlib.ExitStack() as stack:
        f, path = scratch_file(stack, "train-fn-", ".pkl", str(tmp_path))
        with f:
            f.write(b"payload")
        assert os.path.basename(path).startswith(PREFIX + "train-fn-")
        assert locked_by_someone(path)
        with open(path, "rb") as g:
            assert g.read() == b"payload"
    assert not os.path.exists(path)


def test_a_scratch_dir_is_locked_while_its_stack_is_open_and_removed_after(tmp_path):
    with contextlib.ExitStack() as stack:
        path = scratch_dir(stack, "jobs-", str(tmp_path))
        open(os.path.join(path, "a.pkl"), "wb").close()
        assert locked_by_someone(os.path.join(path, _scratch.OWNER))
    assert not os.path.exists(path)


def test_two_scratch_files_of_one_kind_never_share_a_name(tmp_path):
    with contextlib.ExitStack() as stack:
        names = set()
        for _ in range(20):
            f, path = scratch_file(stack, "train-fn-", ".pkl", str(tmp_path))
            f.close()
            names.add(os.path.basename(path))
    assert len(names) == 20


def test_the_sweep_removes_old_unlocked_items_of_its_kind_only(tmp_path):
    where = str(tmp_path)
    old_file = orphan_file(where, "train-fn-")
    old_dir = orphan_dir(where, "train-fn-")
    young = orphan_file(where, "train-fn-")
    age(young, ORPHAN_SECONDS / 4)
    other_kind = orphan_file(where, "jobs-")
    not_ours = os.path.join(where, "fastnn-train-fn-legacy.pkl")  # an older version's name
    open(not_ours, "wb").close()
    age(not_ours)
    dir_without_owner = tempfile.mkdtemp(prefix=f"{PREFIX}train-fn-", dir=where)
    age(dir_without_owner)

    _scratch.sweep("train-fn-", where)

    assert not os.path.exists(old_file) and not os.path.exists(old_dir)
    for kept in (young, other_kind, not_ours, dir_without_owner):
        assert os.path.exists(kept), kept


def test_the_sweep_keeps_an_old_item_whose_lock_is_held(tmp_path):
    path = orphan_file(str(tmp_path), "train-fn-")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({path!r}, os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_SH)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        _scratch.sweep("train-fn-", str(tmp_path))
        assert os.path.exists(path)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    _scratch.sweep("train-fn-", str(tmp_path))  # its holder is gone: an orphan now
    assert not os.path.exists(path)


KILLED_SEARCH = textwrap.dedent(
    """
    import time
    from fastnn.workflow import search

    def slow(params):
        time.sleep(30)
        return {"val_acc": 0.5}

    search.random_search(slow, {"k": search.choice([1, 2])}, 2, n_jobs=2, verbose=False)
    """
)


def test_a_killed_searchs_train_fn_file_is_removed_by_the_next_search(tmp_path, monkeypatch):
    pytest.importorskip("joblib")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    # run from tmp_path: from a source checkout "-c" would import its uncompiled fastnn
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SEARCH], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        left = []
        while not left and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            left = [n for n in os.listdir(tmp_path) if n.startswith(PREFIX + "train-fn-")]
        assert left, f"the search wrote no train_fn file (exit code {proc.poll()})"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (name,) = left
    orphan = os.path.join(tmp_path, name)
    assert os.path.exists(orphan)  # a killed process cannot clean up after itself
    age(orphan)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = search.random_search(
        quick, {"k": search.choice([1, 2])}, 2, seed=0, n_jobs=2, verbose=False
    )
    assert [t.status for t in result] == ["ok", "ok"]
    # the orphan, and the new search's own file, are gone (multiprocessing's folders stay)
    assert [n for n in os.listdir(tmp_path) if n.startswith(PREFIX)] == []


def quick(params):
    return {"val_acc": params["k"] / 10}
