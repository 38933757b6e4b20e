"""Our worker pool's transport (n_jobs > 1): one connection per worker process (_transport).

Crashes, large trial states (the deadlock the transport must avoid), Ctrl-C in the search
process, unpicklable results, and the same trials as a serial run.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastnn
from fastnn.workflow import search
from fastnn.workflow.search import _transport, loguniform

pytest.importorskip("joblib")

SPACE = {"lr": loguniform(1e-4, 1e-1)}
FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def noisy(params, seed):
    rng = np.random.default_rng(seed)
    return {"val_acc": float(rng.random()) * params["lr"], "loss_history": [1.0, 0.5]}


def same(result):
    return [{k: v for k, v in t.to_dict().items() if k != "seconds"} for t in result]


def test_n_jobs_runs_over_one_connection_per_worker(monkeypatch):
    """loky gets one serve task per worker per search, not one task per trial."""
    from fastnn.workflow.search import _runner

    submitted = []
    make = _runner._process_executor

    def counting(n_jobs, threads):
        pool = make(n_jobs, threads)

        class Counting:
            def submit(self, fn, *args):
                submitted.append(fn.__name__)
                return pool.submit(fn, *args)

            def shutdown(self, *args, **kwargs):
                return pool.shutdown(*args, **kwargs)

        return Counting()

    monkeypatch.setattr(_runner, "_process_executor", counting)
    result = search.random_search(noisy, SPACE, 12, seed=3, n_jobs=2, verbose=False)
    assert [t.status for t in result] == ["ok"] * 12
    assert submitted == ["serve", "serve"]


def test_the_same_seed_gives_the_same_trials_serially_and_with_two_workers():
    serial = search.random_search(noisy, SPACE, 10, seed=7, verbose=False)
    parallel = search.random_search(noisy, SPACE, 10, seed=7, n_jobs=2, verbose=False)
    assert same(serial) == same(parallel)


def writes_its_pid_then_sleeps(params, seed):
    if params["k"] == 3:
        with open(params["pid_file"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(params["pid_file"] + ".tmp", params["pid_file"])
        time.sleep(60)
    time.sleep(0.02)
    return {"val_acc": params["k"] / 10}


@POSIX
def test_a_worker_killed_mid_trial_fails_only_that_trial(tmp_path):
    pid_file = tmp_path / "pid"

    done = threading.Event()

    def kill_it():  # each time trial 3 runs (alone, the second time: see _Runner)
        while not done.is_set():
            if pid_file.exists():
                pid = int(pid_file.read_text())
                pid_file.unlink()
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_it, daemon=True)
    killer.start()
    start = time.monotonic()
    grid = {"k": list(range(8)), "pid_file": [str(pid_file)]}
    try:
        result = search.grid_search(writes_its_pid_then_sleeps, grid, n_jobs=2, verbose=False)
    finally:
        done.set()
        killer.join(5)
    assert time.monotonic() - start < 50  # not the 60 s the killed trial would sleep
    assert [t.params["k"] for t in result.by_status("failed")] == [3]
    assert "SIGKILL" in result[3].error
    assert len(result.by_status("ok")) == 7 and len(result) == 8


LARGE_STATE_SCRIPT = """
import numpy as np
from fastnn.workflow import search
from fastnn.workflow.search import _transport

MB = {mb}

def big_state(params, *, epochs, state=None):
    # a resumable train_fn whose state (MB megabytes) must come back exactly as sent
    done = 0
    if state is not None:
        expected = np.random.default_rng(state["done"]).random(MB * 131072)
        assert np.array_equal(state["arrays"], expected), "state changed on the way"
        done = state["done"]
    arrays = np.random.default_rng(epochs).random(MB * 131072)
    history = [params["q"] * (1 - 0.5 ** e) for e in range(done + 1, epochs + 1)]
    return {{"val_acc_history": history, "epochs": epochs,
             "state": {{"done": epochs, "arrays": arrays}}}}

spilled = []
spill = _transport.Workers._spill
def counting(self, message):
    spilled.append(len(message))
    return spill(self, message)
_transport.Workers._spill = counting

if __name__ == "__main__":
    space = {{"q": search.uniform(0.0, 1.0)}}
    serial = search.successive_halving(big_state, space, 9, max_epochs=9, seed=2, verbose=False)
    parallel = search.successive_halving(
        big_state, space, 9, max_epochs=9, seed=2, n_jobs=2, promotion="eager", verbose=False
    )
    assert [t.status for t in parallel] == ["ok"] * 9, [t.error for t in parallel]
    assert max(t.rung for t in parallel) == 2
    for s, p in zip(serial, parallel):
        n = min(len(s.val_acc_history), len(p.val_acc_history))
        assert s.val_acc_history[:n] == p.val_acc_history[:n]
    print("spilled", len(spilled), max(spilled, default=0))
"""


def test_a_large_trial_state_round_trips_with_two_workers_without_hanging(tmp_path):
    """8 MB states both ways: a job sent ahead to a busy worker must never leave the worker
    and this process both blocked sending (it goes through a file instead)."""
    (tmp_path / "big.py").write_text(textwrap.dedent(LARGE_STATE_SCRIPT.format(mb=8)))
    env = dict(os.environ, PYTHONPATH=FASTNN_PARENT)
    proc = subprocess.run(
        [sys.executable, "big.py"], cwd=tmp_path, env=env, capture_output=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    words = proc.stdout.split()
    assert words[0] == b"spilled" and int(words[2]) > 8 << 20  # a state went through a file


def unpicklable_result(params, seed):
    if params["k"] == 1:
        return {"val_acc": 0.5, "lock": threading.Lock()}
    return {"val_acc": params["k"] / 10}


def test_a_result_that_cannot_travel_fails_its_trial_only():
    result = search.grid_search(unpicklable_result, {"k": list(range(4))}, n_jobs=2, verbose=False)
    assert [t.status for t in result] == ["ok", "failed", "ok", "ok"]
    assert "lock" in result[1].error
    assert result.best.params["k"] == 3


def sleeps(params, seed):
    time.sleep(0.5)
    return {"val_acc": params["k"] / 10, "pid": os.getpid()}


@POSIX
def test_ctrl_c_in_the_search_process_stops_the_workers():
    timer = threading.Timer(1.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result = search.grid_search(sleeps, {"k": list(range(20))}, n_jobs=2, verbose=False)
    finally:
        timer.cancel()
    assert result.interrupted
    assert 0 < len(result) < 20 and all(t.status == "ok" for t in result)
    pids = {t.extra["pid"] for t in result}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
        time.sleep(0.05)
    if sys.platform.startswith("linux"):
        assert not any(_alive(p) for p in pids), pids
    # the next search starts a fresh pool and runs
    again = search.random_search(noisy, SPACE, 4, seed=1, n_jobs=2, verbose=False)
    assert [t.status for t in again] == ["ok"] * 4


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[1].startswith("Z")
    except OSError:
        return False


def test_no_thread_is_left_in_the_search_process():
    before = {t.ident for t in threading.enumerate()}
    search.random_search(noisy, SPACE, 6, seed=0, n_jobs=2, verbose=False)
    new = [t.name for t in threading.enumerate() if t.ident not in before]
    # loky's executor manager and queue feeder threads may start with the pool, nothing else
    assert all(name in ("ExecutorManagerThread", "QueueFeederThread") for name in new), new


def test_jobs_sent_ahead_stay_small_on_the_connection():
    assert _transport.AHEAD_BYTES <= 4096  # under macOS's and Windows's 8 kB buffers


@pytest.mark.skipif(sys.platform == "win32", reason="connections are pipes there")
def test_a_long_message_is_written_in_one_call_and_read_as_one(monkeypatch):
    """A result or job with a trial's state (above send_bytes's 16 kB, where it writes the
    length and the payload separately) goes out in one socket call, which wakes the reader
    once; recv_bytes reads every size back unchanged."""
    import socket
    from multiprocessing.connection import Connection

    writes = []
    sendall = socket.socket.sendall
    monkeypatch.setattr(
        socket.socket, "sendall", lambda self, data: writes.append(len(data)) or sendall(self, data)
    )
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sender, reader = Connection(a.detach()), Connection(b.detach())
    channel = _transport._Channel(sender)
    try:
        assert channel.sock is not None
        for size in (0, 1, 16384, 16385, 64 << 10, 300 << 10):
            data = os.urandom(size)
            writes.clear()
            received = []
            # a message larger than the socket buffer needs the reader going
            thread = threading.Thread(target=lambda: received.append(reader.recv_bytes()))
            thread.start()
            channel.send(data)
            thread.join(timeout=30)
            assert received == [data]
            assert writes == [size + 4]
    finally:
        channel.close()
        reader.close()
