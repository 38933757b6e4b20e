"""Trials and the SearchResult: best, sorting, the notes' lines, CSV/JSON export, plots."""

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from fastnn.workflow.atomic import replacing
from fastnn.workflow.jsonsafe import to_jsonable
from fastnn.workflow.plotting import figure_class, rung_plot

STATUSES = ("ok", "diverged", "failed", "timeout")
_HISTORY_KEYS = ("loss_history", "train_acc_history", "val_acc_history")
_KNOWN_KEYS = frozenset(("val_acc", "train_acc", "epochs", "diverged", *_HISTORY_KEYS))


def should_abort(cost: float, first_cost: float, factor: float = 3.0) -> bool:
    """The notes' early-break rule: True when ``cost`` is not finite or > ``factor`` x the first.

    Parameters
    ----------
    cost, first_cost : float
        The current and the first loss of a training run.
    factor : float, default 3.0
    """
    cost = float(cost)
    if not math.isfinite(cost):
        return True
    first_cost = float(first_cost)
    return math.isfinite(first_cost) and cost > factor * first_cost


def _history_diverged(loss_history, factor):
    if not loss_history:
        return False
    first = loss_history[0]
    if not math.isfinite(first):
        return True
    if factor is None:
        return any(not math.isfinite(c) for c in loss_history)
    return any(should_abort(c, first, factor) for c in loss_history)


@dataclass
class Trial:
    """One trained configuration.

    ``status`` is ``"ok"``, ``"diverged"`` (cost exploded or became NaN; the run was stopped),
    ``"failed"`` (``train_fn`` raised, returned a NaN ``val_acc`` or its worker process died;
    ``error`` says which and ``traceback`` where it was raised) or ``"timeout"`` (it ran longer
    than ``trial_timeout``). ``val_acc`` and ``train_acc`` are NaN when unknown. ``extra`` keeps
    the other keys ``train_fn`` returned (a model, for example); it is left out of the CSV/JSON
    export.
    Successive halving and Hyperband also set ``rung`` (the highest rung the trial trained to,
    an index into ``rung_epochs``) and ``stopped`` (True: not promoted to the bracket's last
    rung, or stopped by the median rule); ``epochs`` is then every epoch the trial ran
    (a restarted trial counts each run).
    """

    index: int
    params: dict
    status: str = "ok"
    val_acc: float = float("nan")
    train_acc: float = float("nan")
    epochs: int | None = None
    seconds: float = 0.0
    seed: int | None = None
    round: int = 0
    error: str | None = None
    traceback: str | None = None
    rung: int | None = None
    stopped: bool = False
    loss_history: list = field(default_factory=list, repr=False)
    train_acc_history: list = field(default_factory=list, repr=False)
    val_acc_history: list = field(default_factory=list, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None, ``extra`` left out)."""
        return {
            "index": self.index,
            "round": self.round,
            "status": self.status,
            "val_acc": _none_if_nan(self.val_acc),
            "train_acc": _none_if_nan(self.train_acc),
            "epochs": self.epochs,
            "rung": self.rung,
            "stopped": self.stopped,
            "seconds": self.seconds,
            "seed": self.seed,
            "error": self.error,
            "params": {k: to_jsonable(v) for k, v in self.params.items()},
            **{k: [_none_if_nan(v) for v in getattr(self, k)] for k in _HISTORY_KEYS},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Trial":
        nan = float("nan")
        histories: dict[str, Any] = {
            k: [nan if v is None else v for v in d.get(k, [])] for k in _HISTORY_KEYS
        }
        return cls(
            index=d["index"],
            round=d.get("round", 0),
            status=d["status"],
            val_acc=nan if d.get("val_acc") is None else d["val_acc"],
            train_acc=nan if d.get("train_acc") is None else d["train_acc"],
            epochs=d.get("epochs"),
            rung=d.get("rung"),
            stopped=d.get("stopped", False),
            seconds=d.get("seconds", 0.0),
            seed=d.get("seed"),
            error=d.get("error"),
            params=dict(d["params"]),
            **histories,
        )


def _none_if_nan(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def _float_list(values, name):
    if values is None:
        return []
    try:
        return [float(v) for v in np.asarray(values, dtype=float).ravel()]
    except (TypeError, ValueError):
        raise TypeError(f"train_fn returned a {name} that is not a sequence of numbers") from None


def _fill_outcome(trial, result, abort_factor, continued=False):
    """Copy a train_fn result dict into ``trial`` (raises TypeError on a malformed result).

    ``continued``: the call went on from a state, so its loss history lacks the trial's first
    loss, the reference of ``abort_factor``: only a non-finite loss (or the train_fn's own
    ``diverged``) counts here, and the caller judges the trial's whole history."""
    if not isinstance(result, Mapping):
        raise TypeError(
            f"train_fn must return a dict with at least 'val_acc', got {type(result).__name__}"
        )
    for key in _HISTORY_KEYS:
        setattr(trial, key, _float_list(result.get(key), key))
    if result.get("val_acc") is not None:
        trial.val_acc = float(result["val_acc"])
    elif trial.val_acc_history:
        trial.val_acc = _nanmax(trial.val_acc_history)
    else:
        raise TypeError("train_fn's result has neither 'val_acc' nor 'val_acc_history'")
    if result.get("train_acc") is not None:
        trial.train_acc = float(result["train_acc"])
    elif trial.train_acc_history:
        hist, val = trial.train_acc_history, trial.val_acc_history
        # train accuracy of the epoch whose validation accuracy is reported
        best = -1
        if len(val) == len(hist) and not math.isnan(_nanmax(val)):
            best = int(np.nanargmax(val))
        trial.train_acc = hist[best]
    if result.get("epochs") is not None:
        trial.epochs = int(result["epochs"])
    elif trial.val_acc_history:
        trial.epochs = len(trial.val_acc_history)
    diverged = bool(result.get("diverged", False))
    factor = None if continued else abort_factor
    diverged = diverged or _history_diverged(trial.loss_history, factor)
    trial.status = "diverged" if diverged else "ok"
    if not diverged and math.isnan(trial.val_acc):  # never "ok", so never the best
        trial.status = "failed"
        trial.error = "train_fn returned a NaN val_acc"
    trial.extra = {k: v for k, v in result.items() if k not in _KNOWN_KEYS}


def _nanmax(values):
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else float("nan")


def _format_value(v):
    if isinstance(v, float):
        return f"{v:.3e}"
    return str(v)


class SearchResult:
    """Every trial of a search, in trial order, with ``best``, sorting, export and plots.

    The ``plot_*`` methods draw on ``ax`` or, without one, on a new Figure that pyplot does
    not manage (nothing is shown): save it with ``result.plot_rungs().figure.savefig(path)``,
    or pass ``ax=plt.gca()`` to see it in a notebook.

    Attributes
    ----------
    trials : list of Trial
        Finished trials ordered by index (a Ctrl-C'd search holds fewer than planned).
    searched : list of str
        The parameters that varied (printed in :meth:`lines`).
    seed : int
        The search seed; passing it again reproduces the search.
    n_planned : int
        Number of trials the search meant to run.
    interrupted : bool
        True when the search was stopped by Ctrl-C.
    spaces : list of dict
        The space of each round (one for grid/random search; narrowed ones for coarse_to_fine).
    """

    def __init__(
        self,
        trials: Iterable[Trial],
        searched: Iterable[str],
        seed: int | None = None,
        n_planned: int | None = None,
        interrupted: bool = False,
        spaces: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.trials = sorted(trials, key=lambda t: (t.round, t.index))
        self.searched = list(searched)
        self.seed = seed
        self.n_planned = len(self.trials) if n_planned is None else n_planned
        self.interrupted = interrupted
        self.spaces = list(spaces)

    def __len__(self):
        return len(self.trials)

    def __iter__(self):
        return iter(self.trials)

    def __getitem__(self, i):
        return self.trials[i]

    def __repr__(self):
        counts = ", ".join(f"{s} {sum(t.status == s for t in self.trials)}" for s in STATUSES)
        best = self.best
        best_txt = "none" if best is None else f"val_acc {best.val_acc:.6f} {best.params}"
        stop = ", interrupted" if self.interrupted else ""
        return (
            f"<SearchResult {len(self)} / {self.n_planned} trials ({counts}{stop}); "
            f"best {best_txt}>"
        )

    def by_status(self, status: str) -> list[Trial]:
        """Trials with ``status`` (one of :data:`STATUSES`)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
        return [t for t in self.trials if t.status == status]

    def sorted(
        self, key: str | Callable[[Trial], Any] = "val_acc", reverse: bool = True
    ) -> list[Trial]:
        """Trials sorted by ``key`` (a Trial attribute, a parameter name, or a callable).

        Trials whose key is missing or NaN go last; with the default key, ``ok`` trials come
        before diverged and failed ones at equal accuracy.
        """
        get: Callable[[Trial], Any]
        if callable(key):
            get = key
        elif key in Trial.__dataclass_fields__:
            get = lambda t: getattr(t, key)  # noqa: E731
        else:
            get = lambda t: t.params.get(key)  # noqa: E731

        def missing(v):
            return v is None or (isinstance(v, float) and math.isnan(v))

        present = [t for t in self.trials if not missing(get(t))]
        absent = [t for t in self.trials if missing(get(t))]
        present.sort(key=lambda t: (get(t), t.status == "ok"), reverse=reverse)
        return present + absent

    def top(self, k: int = 5) -> list[Trial]:
        """The ``k`` best ``ok`` trials by validation accuracy."""
        return [t for t in self.sorted() if t.status == "ok"][:k]

    @property
    def best(self) -> Trial | None:
        """The ``ok`` trial with the highest validation accuracy (None if there is none)."""
        top = self.top(1)
        return top[0] if top else None

    @property
    def best_params(self) -> dict[str, Any] | None:
        best = self.best
        return None if best is None else dict(best.params)

    def line(self, trial: Trial) -> str:
        """The notes' line: ``val_acc: 0.412000, lr: 2.512e-04, reg: 1.047e-02, (3 / 100)``."""
        parts = [f"val_acc: {trial.val_acc:f}"]
        parts += [
            f"{k}: {_format_value(trial.params[k])}" for k in self.searched if k in trial.params
        ]
        parts.append(f"({trial.index + 1} / {self.n_planned})")
        text = ", ".join(parts)
        if trial.status != "ok":
            text += f" [{trial.status}{': ' + trial.error if trial.error else ''}]"
        return text

    def lines(self, order: str = "index") -> list[str]:
        """All lines, in trial order or (``order="val_acc"``) best first."""
        trials = self.trials if order == "index" else self.sorted(order)
        return [self.line(t) for t in trials]

    def print(self, order: str = "index", file: TextIO | None = None) -> None:
        for text in self.lines(order):
            print(text, file=file if file is not None else sys.stdout)

    # ---- export

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per trial (params as columns), for CSV or a DataFrame."""
        names = []
        for t in self.trials:
            names += [k for k in t.params if k not in names]
        rows = []
        for t in self.trials:
            d = t.to_dict()
            row = {
                k: d[k]
                for k in (
                    "index",
                    "round",
                    "status",
                    "val_acc",
                    "train_acc",
                    "epochs",
                    "rung",
                    "stopped",
                    "seconds",
                    "seed",
                    "error",
                )
            }
            for k in names:
                v = t.params.get(k)
                row[k] = json.dumps(to_jsonable(v)) if isinstance(v, (tuple, list, dict)) else v
            rows.append(row)
        return rows

    def to_csv(self, path_or_buf: str | os.PathLike[str] | TextIO | None = None) -> str | None:
        """Write the trials as CSV (one row each); returns the text when no path is given."""
        rows = self.to_records()
        buf = io.StringIO()
        fields = list(rows[0]) if rows else ["index", "round", "status", "val_acc"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return _write(buf.getvalue(), path_or_buf)

    def to_json(self, path_or_buf: str | os.PathLike[str] | TextIO | None = None) -> str | None:
        """Write every trial, histories included, as JSON; returns the text without a path."""
        doc = {
            "seed": self.seed,
            "n_planned": self.n_planned,
            "interrupted": self.interrupted,
            "searched": self.searched,
            "trials": [t.to_dict() for t in self.trials],
        }
        return _write(json.dumps(doc, indent=1, allow_nan=False), path_or_buf)

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike[str]) -> "SearchResult":
        """Read what :meth:`to_json` wrote (a path or the JSON text)."""
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        doc = json.loads(text)
        return cls(
            [Trial.from_dict(d) for d in doc["trials"]],
            doc["searched"],
            seed=doc.get("seed"),
            n_planned=doc.get("n_planned"),
            interrupted=doc.get("interrupted", False),
        )

    # ---- plots (matplotlib: the ``plot`` extra)

    def plot_scatter(
        self,
        x: str | None = None,
        y: str | None = None,
        ax: Any = None,
        log: bool | None = None,
    ) -> Any:
        """The lecture's scatter: ``x`` vs ``y`` (default the first two searched parameters),
        coloured by validation accuracy; diverged and failed trials as grey crosses.

        ``log`` (default: for positive values spanning over a decade) sets log axes.
        Returns the matplotlib Axes.
        """
        ax = _axes(ax)
        names = [k for k in self.searched if all(_is_number(t.params.get(k)) for t in self.trials)]
        if x is None or y is None:
            if len(names) < 2:
                raise ValueError(
                    "plot_scatter needs two numeric searched parameters; pass x= and y="
                )
            x = names[0] if x is None else x
            y = next(n for n in names if n != x) if y is None else y
        ok = [t for t in self.trials if t.status == "ok" and not math.isnan(t.val_acc)]
        bad = [t for t in self.trials if t not in ok]
        xs = [t.params[x] for t in self.trials]
        ys = [t.params[y] for t in self.trials]
        if ok:
            points = ax.scatter(
                [t.params[x] for t in ok],
                [t.params[y] for t in ok],
                c=[t.val_acc for t in ok],
                cmap="viridis",
                s=36,
            )
            ax.figure.colorbar(points, ax=ax, label="validation accuracy")
        if bad:
            ax.scatter(
                [t.params[x] for t in bad],
                [t.params[y] for t in bad],
                marker="x",
                color="0.6",
                label="diverged / failed",
            )
            ax.legend(loc="best")
        for values, set_scale in ((xs, ax.set_xscale), (ys, ax.set_yscale)):
            if log if log is not None else _spans_decades(values):
                set_scale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(
            f"{len(self)} trials, best val_acc {self.best.val_acc:.3f}"
            if self.best
            else f"{len(self)} trials"
        )
        return ax

    def plot_loss_curves(self, top: int = 5, ax: Any = None) -> Any:
        """Loss histories of the ``top`` best trials (log-scaled y). Returns the Axes."""
        ax = _axes(ax)
        for t in self.top(top):
            label = ", ".join(
                f"{k}={_format_value(t.params[k])}" for k in self.searched if k in t.params
            )
            ax.plot(t.loss_history, label=f"{t.val_acc:.3f}: {label}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        if any(t.loss_history for t in self.top(top)):
            ax.legend(fontsize="small")
        return ax

    def plot_rungs(self, ax: Any = None) -> Any:
        """Validation accuracy against epochs for every trial (successive halving, Hyperband):
        stopped trials in grey, the ones trained to their last rung in colour. Returns the Axes.
        """
        ax = _axes(ax)
        rung_plot(ax, [(t.val_acc_history, t.stopped or t.status != "ok") for t in self.trials])
        best = self.best
        ax.set_title(
            f"{len(self)} trials, {sum(t.epochs or 0 for t in self.trials)} epochs"
            + (f", best val_acc {best.val_acc:.3f}" if best else "")
        )
        return ax


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _spans_decades(values):
    vals = [v for v in values if _is_number(v)]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 10


def _axes(ax):
    """``ax``, or the Axes of a new Figure (not pyplot's: save it with ``ax.figure.savefig``,
    or pass ``ax=plt.gca()`` to draw in a notebook)."""
    if ax is not None:
        if not callable(getattr(ax, "plot", None)):
            raise TypeError(
                f"ax must be a matplotlib Axes, got {type(ax).__name__}; to write a file, "
                "call result.plot_...().figure.savefig(path)"
            )
        return ax
    Figure = figure_class(
        missing='plots need matplotlib: install it with pip install "fastnn[plot]"'
    )
    return Figure(figsize=(6, 4.5), layout="constrained").add_subplot()


def _write(text, path_or_buf):
    if path_or_buf is None:
        return text
    if hasattr(path_or_buf, "write"):
        path_or_buf.write(text)
    else:
        with replacing(path_or_buf) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return None
