"""Faults around a search: dying and hung workers, the journal and resume, signals, --out.

Tiny train functions throughout (no real training) except for the CLI's kill-and-resume tests,
which run the smallest search that still takes a few seconds.
"""

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import fastnn
from fastnn.workflow import search
from fastnn.workflow.search import choice, loguniform
from fastnn.workflow.search.journal import Journal, storage_path

pytest.importorskip("joblib")

SPACE = {"lr": loguniform(1e-4, 1e-1), "reg": loguniform(1e-5, 1e-1)}
FASTNN_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


# ---- module-level train_fns (picklable for the worker processes)


def smooth(params, seed):
    """A deterministic function of the params and the trial seed."""
    val = 1.0 / (1.0 + abs(math.log10(params["lr"]) + 2.5)) + (seed % 1000) * 1e-6
    return {"val_acc": val, "loss_history": [2.3, 2.0 - params["lr"], 1.5]}


def dies_at_2(params, seed):
    if params["k"] == 2:
        os._exit(3)
    return {"val_acc": params["k"] / 10}


def sigkilled_at_4(params, seed):
    if params["k"] == 4:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(5)
    return {"val_acc": params["k"] / 10}


def dies_once_promoted(params, *, epochs, state=None):
    """A resumable train_fn: the trial with q in (0.9, 0.94) kills its worker once promoted."""
    done = 0 if state is None else state["done"]
    if 0.9 < params["q"] < 0.94 and done > 0:
        os._exit(3)
    history = [params["q"]] * (epochs - done)
    return {"val_acc_history": history, "epochs": epochs, "state": {"done": epochs}}


def always_dies(params):
    os._exit(1)


def hangs_at_1(params):
    if params["k"] == 1:
        time.sleep(60)
    return {"val_acc": params["k"] / 10}


def reports_its_pid(params):
    return {"val_acc": 0.5, "pid": os.getpid()}


def nan_at_0(params):
    return {"val_acc": float("nan") if params["k"] == 0 else 0.1 * params["k"]}


def exits_at_1(params):
    if params["k"] == 1:
        sys.exit(2)
    return {"val_acc": 0.1 * params["k"]}


class InterruptAfter:
    """``smooth``, but Ctrl-C on call number ``n`` (serial runs: one process)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, params, seed):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return smooth(params, seed)


def same(result):
    """Everything about a result except wall time."""
    return [{k: v for k, v in t.to_dict().items() if k != "seconds"} for t in result]


# ---- crash isolation


def test_a_worker_killed_by_os_exit_fails_only_its_trial():
    result = search.grid_search(dies_at_2, {"k": list(range(7))}, n_jobs=2, verbose=False)
    assert [t.status for t in result] == ["ok", "ok", "failed", "ok", "ok", "ok", "ok"]
    assert "worker process died" in result[2].error and "exit code 3" in result[2].error
    assert result.best.params["k"] == 6


@POSIX
def test_a_worker_killed_by_sigkill_fails_only_its_trial():
    result = search.grid_search(sigkilled_at_4, {"k": list(range(6))}, n_jobs=2, verbose=False)
    assert [t.params["k"] for t in result.by_status("failed")] == [4]
    assert "SIGKILL" in result[4].error
    assert len(result.by_status("ok")) == 5


def test_a_promoted_trial_that_kills_its_worker_fails_alone():
    # seed 0's 9 trials: q = 0.944 and 0.935 (dies once promoted) are promoted; the trials in
    # flight with it are run again, from the states they were sent with
    space = {"q": search.uniform(0.0, 1.0)}
    result = search.successive_halving(
        dies_once_promoted, space, 9, max_epochs=9, seed=0, n_jobs=2, verbose=False
    )
    failed = [t for t in result if t.status != "ok"]
    assert [round(t.params["q"], 3) for t in failed] == [0.935]
    assert "exit code 3" in failed[0].error
    assert round(result.best.params["q"], 3) == 0.944 and result.best.rung == 2
    assert all(t.epochs == len(t.val_acc_history) for t in result if t.status == "ok")


def dies_as_a_new_trial(params, *, epochs, state=None):
    """A resumable train_fn: a trial with q in (0.5, 0.55) kills its worker on its first job."""
    if 0.5 < params["q"] < 0.55 and state is None:
        os._exit(3)
    done = 0 if state is None else state["done"]
    history = [params["q"]] * (epochs - done)
    return {"val_acc_history": history, "epochs": epochs, "state": {"done": epochs}}


def test_a_new_trial_that_kills_its_worker_in_a_batch_fails_alone(monkeypatch, tmp_path):
    """New trials go to the workers in batches: a batch lost with its worker is rerun job by
    job, so only the trial that kills its worker fails, and every other one is journaled."""
    from fastnn.workflow.search._runner import _Runner
    from fastnn.workflow.search.journal import Journal

    sizes = []
    submit = _Runner.submit
    monkeypatch.setattr(
        _Runner, "submit", lambda self, *jobs: sizes.append(len(jobs)) or submit(self, *jobs)
    )
    space = {"q": search.uniform(0.0, 1.0)}
    options = {"max_epochs": 9, "seed": 3, "verbose": False}
    result = search.successive_halving(
        dies_as_a_new_trial, space, 27, n_jobs=2, storage=tmp_path / "s.db", **options
    )
    assert max(sizes) > 1  # batches were formed
    failed = [t for t in result if t.status != "ok"]
    assert len(failed) == 1 and 0.5 < failed[0].params["q"] < 0.55, [t.params for t in failed]
    assert "exit code 3" in failed[0].error
    assert len(result) == 27 and result.best.rung == 2
    with Journal(tmp_path / "s.db") as journal:
        assert len([k for k in journal.trials() if k[2] == 0]) == 27  # every first rung


def test_three_crashes_in_a_row_stop_the_search_with_its_trials():
    with pytest.raises(search.SearchStopped, match="3 trials in a row lost their worker") as info:
        search.random_search(always_dies, SPACE, 12, n_jobs=2, verbose=False)
    stopped = info.value.result
    assert len(stopped) == 3 and all(t.status == "failed" for t in stopped)
    # the next search gets a fresh pool
    again = search.random_search(smooth, SPACE, 3, n_jobs=2, verbose=False)
    assert [t.status for t in again] == ["ok"] * 3


class NoWorkers:
    """A pool whose worker processes cannot start: every submission breaks its pipe."""

    def submit(self, *args):
        raise BrokenPipeError(32, "Broken pipe")

    def shutdown(self, wait=True, kill_workers=False):
        pass


def test_workers_that_cannot_start_stop_the_search_with_one_line(monkeypatch, tmp_path, capsys):
    from fastnn import cli
    from fastnn.workflow.search import _runner

    monkeypatch.setattr(_runner, "_process_executor", lambda n_jobs, threads: NoWorkers())
    with pytest.raises(search.SearchStopped, match="3 trials in a row") as info:
        search.random_search(smooth, SPACE, 6, n_jobs=2, verbose=False)
    assert [t.status for t in info.value.result] == ["failed"] * 3
    assert "BrokenPipeError" in info.value.result[0].error
    out = tmp_path / "out"
    code = cli.main(
        ["search", "--trials", "4", "--fine-trials", "0", "--n-jobs", "2", "--out", str(out)]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "3 trials in a row lost their worker process" in err[0], err
    assert len(json.loads((out / "search.json").read_text())["trials"]) == 3


def reports_its_pid_slowly(params):
    time.sleep(0.2)  # long enough for both workers to take trials
    return reports_its_pid(params)


def test_a_second_search_reuses_the_idle_workers():
    first = search.random_search(reports_its_pid_slowly, SPACE, 4, n_jobs=2, verbose=False)
    pids = {t.extra["pid"] for t in first}
    assert len(pids) == 2 and os.getpid() not in pids
    second = search.random_search(reports_its_pid_slowly, SPACE, 4, n_jobs=2, verbose=False)
    assert {t.extra["pid"] for t in second} == pids


def test_idle_workers_do_not_outlive_the_process(tmp_path):
    script = (
        "import os\n"
        "from fastnn.workflow import search\n"
        "def pid(params):\n"
        "    return {'val_acc': 0.5, 'pid': os.getpid()}\n"
        "if __name__ == '__main__':\n"
        "    r = search.random_search(pid, {'x': [1, 2, 3, 4]}, 4, n_jobs=2, verbose=False)\n"
        "    print(*{t.extra['pid'] for t in r})\n"
    )
    (tmp_path / "probe.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=FASTNN_PARENT)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "probe.py"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    # the pipes close when the process exits: no idle worker kept them open
    assert time.monotonic() - start < 30
    pids = [int(p) for p in proc.stdout.split()]
    assert pids
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids):
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), pids


def _gone(pid):
    return not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


# ---- trial timeout


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_hung_trial_times_out_and_the_search_goes_on(n_jobs):
    start = time.monotonic()
    result = search.grid_search(
        hangs_at_1, {"k": list(range(4))}, n_jobs=n_jobs, trial_timeout=2.0, verbose=False
    )
    assert time.monotonic() - start < 30
    assert [t.status for t in result] == ["ok", "timeout", "ok", "ok"]
    assert "2 s" in result[1].error
    assert result.by_status("timeout") == [result[1]]


def test_bad_trial_timeouts_raise():
    for bad, error in [(0, ValueError), (-1.0, ValueError), ("5", TypeError), (True, TypeError)]:
        with pytest.raises(error, match="trial_timeout"):
            search.random_search(smooth, SPACE, 2, trial_timeout=bad, verbose=False)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex, pytest.raises(ValueError, match="own worker processes"):
        search.random_search(smooth, SPACE, 2, executor=ex, trial_timeout=5, verbose=False)


# ---- the small faults


def test_a_nan_val_acc_is_a_failed_trial_and_never_the_best():
    result = search.grid_search(nan_at_0, {"k": [0, 1, 2]}, verbose=False)
    assert result[0].status == "failed" and "NaN" in result[0].error
    assert result.best.params["k"] == 2
    only_nan = search.grid_search(nan_at_0, {"k": [0]}, verbose=False)
    assert only_nan.best is None


@pytest.mark.parametrize(
    "bad, error", [(1.0, ValueError), (0.5, ValueError), (math.inf, ValueError), ("3", TypeError)]
)
def test_abort_factor_is_validated(bad, error):
    with pytest.raises(error, match="abort_factor"):
        search.random_search(smooth, SPACE, 2, abort_factor=bad, verbose=False)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sys_exit_in_train_fn_fails_its_trial_only(n_jobs):
    result = search.grid_search(exits_at_1, {"k": [0, 1, 2]}, n_jobs=n_jobs, verbose=False)
    assert [t.status for t in result] == ["ok", "failed", "ok"]
    assert result[1].error == "SystemExit: 2"


# ---- the journal


@pytest.mark.parametrize("kind", ["grid", "random", "coarse_to_fine"])
def test_resume_ends_with_the_trials_of_an_uninterrupted_search(tmp_path, kind):
    def run(fn, **kw):
        if kind == "grid":
            return search.grid_search(fn, SPACE, num=3, seed=5, verbose=False, **kw)
        if kind == "random":
            return search.random_search(fn, SPACE, 8, seed=5, verbose=False, **kw)
        rounds = [{"n_trials": 5, "epochs": 1}, {"n_trials": 4, "epochs": 2}]
        return search.coarse_to_fine(fn, SPACE, rounds, seed=5, verbose=False, **kw)

    uninterrupted = run(smooth)
    db = tmp_path / "search.db"
    first = run(InterruptAfter(7 if kind == "coarse_to_fine" else 4), storage=db)
    assert first.interrupted and len(first) == (6 if kind == "coarse_to_fine" else 3)
    assert len(_rows(db)) == len(first)
    counting = InterruptAfter(10**9)
    resumed = run(counting, storage=db, resume=True)
    assert not resumed.interrupted
    assert same(resumed) == same(uninterrupted)
    assert counting.calls == len(uninterrupted) - len(first)  # finished ones were not rerun
    assert len(_rows(db)) == len(uninterrupted)
    # resuming a finished search runs nothing and returns it again
    nothing = InterruptAfter(1)
    assert same(run(nothing, storage=db, resume=True)) == same(uninterrupted)
    assert nothing.calls == 0


def _rows(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT round, number, status FROM trial").fetchall()


def test_resume_in_parallel_and_seed_from_the_journal(tmp_path):
    db = f"sqlite:///{tmp_path / 'j.db'}"
    first = search.random_search(InterruptAfter(3), SPACE, 6, storage=db, verbose=False)
    assert first.interrupted
    resumed = search.random_search(smooth, SPACE, 6, storage=db, resume=True, n_jobs=2)
    assert resumed.seed == first.seed  # seed=None took the journal's
    again = search.random_search(smooth, SPACE, 6, seed=first.seed, verbose=False)
    assert same(resumed) == same(again)


def test_the_journal_refuses_an_earlier_or_different_search(tmp_path):
    db = tmp_path / "search.db"
    search.random_search(smooth, SPACE, 3, seed=1, storage=db, verbose=False)
    with pytest.raises(ValueError, match="earlier search"):
        search.random_search(smooth, SPACE, 3, seed=1, storage=db, verbose=False)
    with pytest.raises(ValueError, match="n_trials"):
        search.random_search(smooth, SPACE, 4, seed=1, storage=db, resume=True, verbose=False)
    other = {**SPACE, "lr": loguniform(1e-4, 1e-2)}
    with pytest.raises(ValueError, match="space"):
        search.random_search(smooth, other, 3, seed=1, storage=db, resume=True, verbose=False)
    with pytest.raises(ValueError, match="seed 1, not 2"):
        search.random_search(smooth, SPACE, 3, seed=2, storage=db, resume=True, verbose=False)
    with pytest.raises(ValueError, match="grid search"):
        search.grid_search(smooth, SPACE, num=2, storage=db, resume=True, verbose=False)
    with pytest.raises(ValueError, match="needs storage"):
        search.random_search(smooth, SPACE, 3, resume=True, verbose=False)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(OSError, match="not a fastnn search journal"):
        search.random_search(smooth, SPACE, 3, storage=tmp_path / "junk.db", verbose=False)
    with pytest.raises(ValueError, match="sqlite:///"):
        storage_path("postgresql://host/db")
    assert storage_path("sqlite:////abs/x.db") == "/abs/x.db"


def test_the_journal_is_wal_and_keeps_failures_with_their_traceback(tmp_path):
    db = tmp_path / "search.db"
    space = {"k": choice([0, 1])}
    result = search.random_search(exits_at_1, space, 4, seed=3, storage=db, verbose=False)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        study = c.execute("SELECT kind, seed, fastnn_version FROM study").fetchone()
    assert study == ("random search", "3", fastnn.__version__)
    with Journal(db) as journal:
        stored = journal.trials()
    assert [t.status for t in stored.values()] == [t.status for t in result]
    failed = [t for t in stored.values() if t.status == "failed"]
    assert failed and all("exits_at_1" in t.traceback for t in failed)


def test_several_writers_share_one_journal(tmp_path):
    db = tmp_path / "shared.db"
    with Journal(db) as first:
        first.start("random search", 1, {"space": "x"}, resume=False)
    errors = []

    def write(offset):  # a connection of its own, like another process
        try:
            with Journal(db) as journal:
                journal.start("random search", None, {"space": "x"}, resume=True)
                for i in range(offset, 60, 3):
                    journal.record(search.Trial(index=i, params={"i": i}, val_acc=i / 60))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Journal(db) as journal:
        journal.start("random search", None, {"space": "x"}, resume=True)
        journal.record(search.Trial(index=0, params={"i": 0}, val_acc=0.99))  # kept as it was
        stored = journal.trials()
    assert sorted(i for _, i, _ in stored) == list(range(60))
    assert stored[(0, 0, 0)].val_acc == 0.0


# ---- the command line


def run_cli(*args, cwd, timeout=120, user=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FASTNN_BACKEND", None)
    prefix = [] if user is None else user
    return subprocess.run(
        [*prefix, sys.executable, "-m", "fastnn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def start_cli(*args, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = FASTNN_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FASTNN_BACKEND", None)
    return subprocess.Popen(
        [sys.executable, "-m", "fastnn", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


SEARCH = ("search", "--trials", "18", "--epochs", "2", "--fine-trials", "4", "--hidden", "60")


@pytest.fixture(scope="module")
def whole_search(tmp_path_factory):
    """The trials of SEARCH run without interruption."""
    folder = tmp_path_factory.mktemp("whole")
    proc = run_cli(*SEARCH, "--out", folder / "out", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return _trials_of(folder / "out")


def _trials_of(folder):
    with open(os.path.join(folder, "search.json")) as f:
        trials = json.load(f)["trials"]
    return [{k: v for k, v in t.items() if k != "seconds"} for t in trials]


def _wait_for_trials(db, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(db):
            try:
                with sqlite3.connect(db, timeout=5) as c:
                    if c.execute("SELECT COUNT(*) FROM trial").fetchone()[0] >= n:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no {n} trials in {db}: {proc.poll()}")


@POSIX
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_kill_the_search_midway_then_resume(tmp_path, sig, whole_search):
    proc = start_cli(*SEARCH, "--n-jobs", "2", "--out", "cut", cwd=tmp_path)
    _wait_for_trials(tmp_path / "cut" / "search.db", 3, proc)
    proc.send_signal(getattr(signal, sig))
    _, stderr = proc.communicate(timeout=60)
    if sig == "SIGTERM":
        assert proc.returncode == 143, stderr
        assert "terminated (SIGTERM)" in stderr and "Traceback" not in stderr
        kept = _trials_of(tmp_path / "cut")  # the exports of what finished
        assert 3 <= len(kept) < len(whole_search) and all(t in whole_search for t in kept)
    else:
        assert proc.returncode == -signal.SIGKILL
    refused = run_cli(*SEARCH, "--out", "cut", cwd=tmp_path)
    assert refused.returncode == 1 and "--resume" in refused.stderr
    resumed = run_cli("search", "--resume", "cut", "--n-jobs", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _trials_of(tmp_path / "cut") == whole_search
    assert os.path.exists(tmp_path / "cut" / "best_model.npz")


def test_out_holding_an_earlier_run_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("{}")
    proc = run_cli("train", "--epochs", "1", "--out", out, cwd=tmp_path)
    assert proc.returncode == 1 and "--force" in proc.stderr and "earlier run" in proc.stderr
    assert proc.stdout == ""  # refused before loading the data
    forced = run_cli(
        "train", "--epochs", "1", "--hidden", "10", "--force", "--out", out, cwd=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    proc = run_cli("search", "--resume", tmp_path / "nothing", cwd=tmp_path)
    assert proc.returncode == 1 and "nothing to resume" in proc.stderr
    proc = run_cli("search", "--resume", out, "--lr-range", "1e-3:1e-2", cwd=tmp_path)
    assert proc.returncode == 1 and "drop --lr-range" in proc.stderr


def _as_nobody():
    """A command prefix running as the user nobody, or None."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            "import fastnn",
        ],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": FASTNN_PARENT},
        cwd="/",
    )
    if probe.returncode != 0:
        return None
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@POSIX
@pytest.mark.parametrize("command", ["train", "search", "demo"])
def test_a_read_only_out_is_refused_before_any_work(command):
    user = _as_nobody()
    if user is None:
        pytest.skip("running as root and cannot run as nobody: chmod does not stop root")
    base = tempfile.mkdtemp(prefix="fastnn-ro-")  # reachable by nobody, unlike pytest's tmp
    os.chmod(base, 0o755)
    out = os.path.join(base, "ro")
    os.mkdir(out, 0o555)
    os.chmod(out, 0o555)
    try:
        start = time.monotonic()
        proc = run_cli(command, "--out", out, cwd="/", user=user)
        assert proc.returncode == 1, proc.stderr
        assert "is not writable" in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == "" and time.monotonic() - start < 20
    finally:
        shutil.rmtree(base)


def test_a_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    proc = run_cli("search", "--out", tmp_path / "file" / "out", cwd=tmp_path)
    assert proc.returncode == 1 and "cannot create output folder" in proc.stderr


# ---- broken pipes

BROKEN_PIPE = """
import sys
from fastnn import cli
from fastnn.cli import config
def broken(args):
    raise BrokenPipeError(32, "Broken pipe (a worker's)")
config.cmd_config = broken
import fastnn.cli.parser as parser
parser.cmd_config = broken
sys.exit(cli.main(["config"]))
"""


@POSIX
def test_a_broken_pipe_that_is_not_stdouts_is_a_failure(tmp_path):
    env = {**os.environ, "PYTHONPATH": FASTNN_PARENT}
    proc = subprocess.run(
        [sys.executable, "-c", BROKEN_PIPE], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr
    assert "broken pipe" in proc.stderr and "Traceback" not in proc.stderr


@POSIX
def test_stdout_closed_by_its_reader_exits_quietly(tmp_path):
    env = {**os.environ, "PYTHONPATH": FASTNN_PARENT}
    script = "from fastnn import cli\nimport sys\nsys.exit(cli.main(['bench', '--size', '1000', "
    script += "'--rounds', '2', '--min-time', '0.0002', '--no-torch']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    proc.stdout.read(1)  # like `| head -c 1`
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert b"Traceback" not in stderr and b"error" not in stderr


def test_a_halving_search_journals_every_rung_and_resumes(tmp_path):
    """--strategy asha writes one journal row per rung job; --resume of the finished search
    replays them (no training) and ends with the same trials."""
    args = ("search", "--strategy", "asha", "--trials", "9", "--epochs", "1")
    proc = run_cli(*args, "--max-epochs", "3", "--hidden", "20", "--out", "h", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    whole = _trials_of(tmp_path / "h")
    with sqlite3.connect(tmp_path / "h" / "search.db") as c:
        rungs = sorted(r for (r,) in c.execute("SELECT rung FROM trial"))
    assert rungs == [0] * 9 + [1] * 3  # 9 trials at 1 epoch, the best 3 promoted to 3
    resumed = run_cli("search", "--resume", "h", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _trials_of(tmp_path / "h") == whole
