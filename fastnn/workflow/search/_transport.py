"""Our worker pool's lean transport: one direct duplex connection per worker process.

loky starts the worker processes (cloudpickle'd train_fns, the thread limits of their
environment, crash detection) and runs ONE long-lived task in each, :func:`serve`, which
connects back to the search process over ``multiprocessing.connection`` (AF_UNIX on POSIX,
a named pipe on Windows; an authkey either way) and then loops: a submission of jobs in, one
Trial out per job, until told to stop or the connection closes.  The search process's main
thread sends the jobs and waits on the connections itself: no job or result passes through
loky's manager and queue-feeder threads, which before cost this process about a tenth of a
vCPU during a 2-worker search (and the workers' training the same), plus a thread hop or two
at every job boundary.

Deadlock: a worker blocked sending a large result (a trial's state holds model arrays) while
this process is blocked sending it a large job would hang both.  So a job is written on the
connection only to an idle worker (it is reading), or, to a busy worker (sent ahead, so that
it starts the job as soon as its current one ends), when the connection surely holds it
(:data:`AHEAD_BYTES`; on Linux half the send buffer, see :data:`LINUX_SEND_BUFFER`; at most
one such message waits per worker); a larger job sent ahead goes through a file and the
connection carries its path.
"""

import collections
import contextlib
import os
import pickle
import selectors
import socket
import struct
import sys
import threading
import time
import uuid
from multiprocessing.connection import Client, Listener, wait

from fastnn.workflow.search._result import Trial
from fastnn.workflow.search._scratch import scratch_dir

# A job message written to a busy worker's connection is at most this long: it then sits in
# the connection's buffer without blocking the writer (the smallest: 8 kB, macOS's AF_UNIX
# sockets and the named pipes of multiprocessing on Windows; Linux's hold 200 kB); a longer
# one sent ahead (a promotion carrying its trial's state) goes through a file.
AHEAD_BYTES = 4096
# Linux: each connection's send buffer is raised to this (up to net.core.wmem_max), and a job
# up to half the buffer it got (at least AHEAD_BYTES) is written ahead directly: a promotion's
# digits-sized state then skips the file.  Linux counts a unix socket's unread bytes against
# its sender's buffer only, so a message that fits there never blocks.
LINUX_SEND_BUFFER = 1 << 20
# Submissions a worker holds at once: the one it runs and the one it starts next.
PER_WORKER = 2
# The length prefix of a multiprocessing Connection's message (its wire format).  Above 16 kB
# send_bytes writes the prefix and the payload in two calls: the reader, woken by the prefix,
# blocks on the payload and is woken again.  On a socket we write both in one call
# (:class:`_Channel`), so that a result or a job with a trial's state wakes its reader once.
_LENGTH = struct.Struct("!i")
_LONGEST = 0x7FFFFFFF  # a longer message takes another prefix: left to send_bytes

_JOBS, _FILE, _STOP = b"J", b"F", b""
_HELLO = b"H"


def serve(address, authkey, task, fn, args):
    """The worker side (a loky task): ``task(fn, job, *args)`` for each job received, its
    Trial sent back (None: interrupted, the rest of its submission is dropped)."""
    conn = Client(address, authkey=authkey)
    channel = _Channel(conn)
    try:
        conn.send_bytes(_HELLO)
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):  # the search process is gone or closed it
                return
            if message == _STOP:
                return
            for job in _load_jobs(message):
                trial = task(fn, job, *args)
                channel.send(_dump_trial(trial, job))
                if trial is None:
                    break
    finally:
        channel.close()


def _load_jobs(message):
    if message[:1] != _FILE:
        return pickle.loads(memoryview(message)[1:])
    path = message[1:].decode()
    with open(path, "rb") as f:
        data = f.read()
    with contextlib.suppress(OSError):
        os.unlink(path)
    return pickle.loads(data)


def dumps(obj):
    """pickle's bytes of ``obj``, or cloudpickle's when pickle cannot (a lambda or a local
    class, in a state or a result: what loky would use)."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a lambda or a local class: what loky would have used
        return _cloudpickle().dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _dump_trial(trial, job):
    try:
        return dumps(trial)
    except Exception as exc:  # the result cannot travel: the trial fails, the worker goes on
        failed = Trial(
            index=job.index,
            round=job.round,
            params=dict(job.params),
            seed=job.seed,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
        )
        failed.rung = job.rung
        return pickle.dumps(failed, protocol=pickle.HIGHEST_PROTOCOL)


def _cloudpickle():
    """cloudpickle, what loky and Dask use (joblib's copy or the package), else pickle."""
    try:
        from joblib.externals import cloudpickle as pickler
    except ImportError:
        try:
            import cloudpickle as pickler
        except ImportError:
            pickler = pickle
    return pickler


class _Channel:
    """A connection's sending side: ``conn.send_bytes``, or, on a POSIX stream socket, the
    same message (prefix and payload) written in one call."""

    __slots__ = ("conn", "sock")

    def __init__(self, conn):
        self.conn = conn
        self.sock = _stream_socket(conn)

    def send(self, data):
        if self.sock is None or len(data) > _LONGEST:
            self.conn.send_bytes(data)
        else:
            self.sock.sendall(_LENGTH.pack(len(data)) + data)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.conn.close()


class _Worker:
    __slots__ = ("conn", "channel", "submissions", "returned", "since", "ahead_bytes")

    def __init__(self, conn):
        self.conn = conn
        self.channel = _Channel(conn)
        self.ahead_bytes = _ahead_bytes(self.channel.sock)
        self.submissions: collections.deque[tuple] = collections.deque()  # sent, oldest first
        self.returned = 0  # trials back of the oldest submission
        self.since = 0.0  # when its oldest submission was sent

    def pending(self):
        """Its jobs not yet back, in the order it runs them."""
        jobs = [job for jobs in self.submissions for job in jobs]
        return jobs[self.returned :]


class Workers:
    """The search process's side: ``n`` connected workers of ``executor`` (a loky pool).

    Starting raises what loky raised (a worker that could not start, a pool that broke)."""

    def __init__(self, executor, n, task, fn, args, spill_dir):
        self.spill_dir = spill_dir  # () -> the folder for jobs sent through files
        self.futures = []
        self.workers: list[_Worker] = []
        self._encoded = None  # (submission, its message) not sent yet
        self._selector = None  # POSIX: one selector over the connections, made once
        authkey = os.urandom(32)
        listener = Listener(authkey=authkey)  # the platform's default family
        starting = [True]

        def wake(future):
            # a worker that died before connecting: unblock accept() (a thread, so that
            # loky's manager thread calling back never waits on this process)
            if starting[0] and not future.cancelled() and future.exception() is not None:
                threading.Thread(
                    target=_connect_once, args=(listener.address, authkey), daemon=True
                ).start()

        try:
            for _ in range(n):
                future = executor.submit(serve, listener.address, authkey, task, fn, args)
                self.futures.append(future)
                future.add_done_callback(wake)
            while len(self.workers) < n:
                conn = listener.accept()
                try:
                    hello = conn.recv_bytes()
                except (EOFError, OSError):
                    hello = None
                if hello != _HELLO:  # woken: a worker failed to start
                    conn.close()
                    exc = self.failure(timeout=0)
                    if exc is not None:
                        raise exc
                    continue
                self.workers.append(_Worker(conn))
        except BaseException:
            self.close()
            raise
        finally:
            starting[0] = False
            listener.close()

    def failure(self, timeout):
        """The exception of the first serve task that failed (within ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            for future in self.futures:
                if future.done() and not future.cancelled() and future.exception() is not None:
                    return future.exception()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.002)

    def submitted(self):
        return sum(len(w.submissions) for w in self.workers)

    def busy(self):
        return any(w.submissions for w in self.workers)

    def send(self, jobs):
        """Send ``jobs`` (one submission) to an idle worker, else ahead to the busy worker
        that started its current submission first; False when every worker holds
        :data:`PER_WORKER` submissions."""
        idle = [w for w in self.workers if not w.submissions]
        if idle:
            worker = idle[0]
        else:
            room = [w for w in self.workers if len(w.submissions) < PER_WORKER]
            if not room:
                return False
            worker = min(room, key=lambda w: w.since)
        if self._encoded is None or self._encoded[0] is not jobs:
            self._encoded = (jobs, _JOBS + dumps(jobs))
        message = self._encoded[1]
        if worker.submissions and len(message) > worker.ahead_bytes:
            message = self._spill(message)
        worker.channel.send(message)
        self._encoded = None
        if not worker.submissions:
            worker.since = time.monotonic()
        worker.submissions.append(jobs)
        return True

    def _spill(self, message):
        path = os.path.join(self.spill_dir(), f"{uuid.uuid4().hex}.pkl")
        with open(path, "wb") as f:
            f.write(memoryview(message)[1:])
        return _FILE + path.encode()

    def wait(self):
        """Block until a worker sent something (or closed); returns those workers."""
        if self._selector is None:
            self._selector = _selector(self.workers)
        if self._selector is not None:
            while True:
                ready = [key.data for key, _ in self._selector.select()]
                if ready:
                    return ready
        by_conn = {w.conn: w for w in self.workers}
        return [by_conn[c] for c in wait(list(by_conn))]

    def receive(self, worker):
        """(job, its Trial or None) from ``worker``; EOFError/OSError when it is gone."""
        data = worker.conn.recv_bytes()
        head = worker.submissions[0]
        job = head[worker.returned]
        worker.returned += 1
        trial = pickle.loads(data)
        if worker.returned == len(head) or trial is None:
            worker.submissions.popleft()
            worker.returned = 0
            worker.since = time.monotonic()
        return job, trial

    def close(self):
        """Tell every worker to stop serving (they stay in loky's pool for the next search)."""
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send_bytes(_STOP)
            worker.channel.close()
        self.discard()

    def discard(self):
        """Close the connections without a word (the workers are being killed)."""
        for worker in self.workers:
            worker.channel.close()
        self.workers = []
        if self._selector is not None:
            self._selector.close()
        self._selector = None


def _selector(workers):
    """A selector over the workers' connections (POSIX), or None (Windows: pipes, which
    ``multiprocessing.connection.wait`` handles)."""
    if sys.platform == "win32":
        return None
    selector = selectors.DefaultSelector()
    for worker in workers:
        selector.register(worker.conn, selectors.EVENT_READ, worker)
    return selector


def _stream_socket(conn):
    """A blocking socket object over ``conn``'s own socket (POSIX, AF_UNIX), else None."""
    if sys.platform == "win32":
        return None
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except OSError:
        return None
    try:
        if sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM:
            sock.setblocking(True)  # the file is shared with conn, which blocks
            return sock
    except OSError:
        pass
    sock.close()
    return None


def _ahead_bytes(sock):
    """The longest job message that can wait in ``sock`` (a worker's connection) without
    blocking its writer."""
    if sock is None or not sys.platform.startswith("linux"):
        return AHEAD_BYTES
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINUX_SEND_BUFFER)
        return max(AHEAD_BYTES, sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2)
    except OSError:
        return AHEAD_BYTES


def _connect_once(address, authkey):
    with contextlib.suppress(Exception):
        Client(address, authkey=authkey).close()


def spill_dir(stack):
    """A temporary folder for jobs sent ahead through files, removed when ``stack`` closes."""
    shm = "/dev/shm"  # Linux: memory, not the disk /tmp may be on
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
    return scratch_dir(stack, "jobs-", where)
