"""The search journal: every finished trial in an SQLite database, written as it finishes.

Modelled on Optuna's RDB storage, kept small: a ``study`` table (one row per search: name, kind,
seed, the definition that fixes its trials as JSON, the fastnn version)
and a ``trial`` table (study, round, number, params, seed, status, values, error, seconds,
timestamps).  WAL mode with full sync and one transaction per trial: a search killed by SIGKILL
or a power cut loses at most the trials in flight.  Several processes may write one journal
(a busy timeout, then retries); a trial already recorded by another writer is kept as it is.
"""

import json
import math
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from fastnn._version import __version__
from fastnn.workflow.search._result import Trial

# How long a writer waits for another one's transaction before retrying, and how often.
BUSY_TIMEOUT_SECONDS = 30.0
WRITE_ATTEMPTS = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
    study_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    seed TEXT NOT NULL,  -- text: a seed drawn from entropy has 128 bits
    definition TEXT NOT NULL,
    fastnn_version TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trial (
    study_id INTEGER NOT NULL REFERENCES study(study_id),
    round INTEGER NOT NULL,
    number INTEGER NOT NULL,
    rung INTEGER NOT NULL DEFAULT 0,  -- successive halving: one row per rung a trial ran
    params TEXT NOT NULL,
    seed INTEGER,
    status TEXT NOT NULL,
    val_acc REAL,
    trial_values TEXT NOT NULL,
    error TEXT,
    traceback TEXT,
    seconds REAL NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (study_id, round, number, rung)
);
"""


# Keys a search's definition gained after journals were first written: a journal without one
# resumes under the value this search has (what its first part ran with is not known).
LATER_KEYS = frozenset({"schedule"})

# What each halving schedule means, for the message refusing to switch it on resume.
_SCHEDULES = {
    "synchronous": "synchronous successive halving (n_jobs=1)",
    "asha-lazy": "ASHA with lazy promotion (n_jobs > 1 or an executor)",
    "asha-eager": "ASHA with eager promotion (n_jobs > 1 or an executor)",
}


def trial_key(round_: int, number: int, rung: int | None) -> tuple[int, int, int]:
    """A journal row's key within its study: (round, trial number, rung); searches without
    rungs use rung 0."""
    return round_, number, 0 if rung is None else rung


def storage_path(storage: str | os.PathLike[str]) -> str:
    """The file a ``storage`` names: a path, or an ``sqlite:///relative`` /
    ``sqlite:////absolute`` URL (SQLAlchemy's form, as Optuna takes)."""
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if not isinstance(storage, str) or not storage:
        raise TypeError(f"storage must be a path or an sqlite:/// URL, got {storage!r}")
    if "://" in storage:
        scheme, _, rest = storage.partition("://")
        if scheme != "sqlite" or not rest.startswith("/") or rest == "/":
            raise ValueError(
                f"storage {storage!r}: only sqlite:///FILE URLs are supported (or a plain path)"
            )
        storage = rest[1:]
    return os.path.abspath(storage)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=True)


class Journal:
    """One search's record in an SQLite file (see the module docstring).

    Parameters
    ----------
    storage : str or os.PathLike
        A path or an ``sqlite:///`` URL; the file and its folder must be writable.
    name : str, default "search"
        The study's name: several searches may share one file under different names.
    """

    def __init__(self, storage: str | os.PathLike[str], name: str = "search") -> None:
        self.path = storage_path(storage)
        self.name = name
        self.study_id: int | None = None
        try:
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the search journal {self.path}: {exc}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._write(lambda c: c.executescript(_SCHEMA))
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise OSError(f"{self.path} is not a fastnn search journal: {exc}") from None

    def _write(self, action):
        """Run ``action(connection)`` in one transaction, retrying while another writer holds
        the database past the busy timeout."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._conn:
                    return action(self._conn)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
        return None

    def study(self) -> dict[str, Any] | None:
        """The stored study (kind, seed, definition, fastnn_version) or None."""
        row = self._conn.execute(
            "SELECT study_id, kind, seed, definition, fastnn_version FROM study WHERE name = ?",
            (self.name,),
        ).fetchone()
        if row is None:
            return None
        return {
            "study_id": row[0],
            "kind": row[1],
            "seed": int(row[2]),
            "definition": json.loads(row[3]),
            "fastnn_version": row[4],
        }

    def start(
        self,
        kind: str,
        seed: int | None,
        definition: Mapping[str, Any],
        *,
        resume: bool,
    ) -> int:
        """Open the study for a search; returns its seed (the stored one when resuming).

        Without ``resume`` a study holding trials is refused (ValueError), an empty one is
        replaced.  With it the stored kind and definition must match, and ``seed`` must be
        None or the stored seed.
        """
        definition = json.loads(_dumps(dict(definition)))  # as it will read back
        stored = self.study()
        if stored is not None and resume:
            self._check_same(stored, kind, seed, definition)
            self.study_id = stored["study_id"]
            return int(stored["seed"])
        held = 0 if stored is None else self._count(stored["study_id"])
        if held:
            raise ValueError(
                f"the journal {self.path} holds an earlier search ({held} trials): pass "
                "resume=True to continue it, or another storage"
            )
        if seed is None:
            raise ValueError("a journal needs the search's seed (a resolved seed, not None)")

        def create(c):
            c.execute("DELETE FROM study WHERE name = ?", (self.name,))
            cur = c.execute(
                "INSERT INTO study (name, kind, seed, definition, fastnn_version, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self.name,
                    kind,
                    str(int(seed)),
                    _dumps(definition),
                    __version__,
                    time.time(),
                ),
            )
            return cur.lastrowid

        self.study_id = self._write(create)
        return int(seed)

    def _check_same(self, stored, kind, seed, definition):
        if stored["kind"] != kind:
            raise ValueError(
                f"cannot resume: the journal {self.path} holds a {stored['kind']}, not a {kind}"
            )
        if seed is not None and int(seed) != stored["seed"]:
            raise ValueError(
                f"cannot resume: the journal's search has seed {stored['seed']}, not {seed} "
                "(pass seed=None to take the journal's)"
            )
        had = stored["definition"]
        differ = sorted(
            k
            for k in set(definition) | set(had)
            if definition.get(k) != had.get(k) and (k in had or k not in LATER_KEYS)
        )
        if "schedule" in differ:
            was, now = (
                _SCHEDULES.get(v, repr(v)) for v in (had["schedule"], definition.get("schedule"))
            )
            raise ValueError(
                f"cannot resume: the journal's search ran {was}, this one would run {now}, "
                "which trains other trials: resume it with the same kind of run"
            )
        if differ:
            theirs = ", ".join(f"{k}={stored['definition'].get(k)!r}" for k in differ)
            raise ValueError(
                f"cannot resume: this search's {', '.join(differ)} differ from the journal's "
                f"({theirs})"
            )

    def _count(self, study_id):
        return self._conn.execute(
            "SELECT COUNT(*) FROM trial WHERE study_id = ?", (study_id,)
        ).fetchone()[0]

    def record(self, trial: Trial) -> None:
        """Write one finished trial in its own transaction (kept as is if already there)."""
        if self.study_id is None:
            raise RuntimeError("Journal.record before Journal.start")
        values = trial.to_dict()
        row = (
            self.study_id,
            trial.round,
            trial.index,
            trial_key(trial.round, trial.index, trial.rung)[2],
            _dumps(values["params"]),
            trial.seed,
            trial.status,
            None if math.isnan(trial.val_acc) else trial.val_acc,
            _dumps(values),
            trial.error,
            trial.traceback,
            float(trial.seconds),
            time.time(),
        )
        self._write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO trial (study_id, round, number, rung, params, seed, "
                "status, val_acc, trial_values, error, traceback, seconds, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def trials(self) -> dict[tuple[int, int, int], Trial]:
        """The recorded trials by :func:`trial_key` (of the stored study before :meth:`start`)."""
        if self.study_id is None:
            stored = self.study()
            if stored is None:
                return {}
            self.study_id = stored["study_id"]
        found = {}
        for values, traceback in self._conn.execute(
            "SELECT trial_values, traceback FROM trial WHERE study_id = ? "
            "ORDER BY round, number, rung",
            (self.study_id,),
        ):
            trial = Trial.from_dict(json.loads(values))
            trial.traceback = traceback
            found[trial_key(trial.round, trial.index, trial.rung)] = trial
        return found

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
