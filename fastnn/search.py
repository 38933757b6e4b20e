"""Hyper-parameter search: grid, random, coarse-to-fine, early abort, parallel and on Dask.

Section 7 of the lecture notes as routines: sample configurations from ranges, train each for
a few epochs, evaluate on the validation set, narrow the ranges around the best and repeat
(random search beats a grid with the same budget when some parameters matter little:
Bergstra and Bengio, 2012).

Design
------
* The search machinery only needs ``train_fn(params) -> dict`` returning at least
  ``val_acc`` (or ``val_acc_history``); ``train_acc``, ``loss_history``, ``epochs`` and
  ``diverged`` are used when present. If ``train_fn`` takes a ``seed`` keyword it receives a
  per-trial seed. :func:`make_train_fn` builds such a function for the lecture's two-layer net
  and :class:`fastnn.FullyConnectedNet` on top of ``ClassifierTrainer``.
* Reproducibility does not depend on scheduling: every configuration is sampled in the calling
  process before any trial runs, each trial's seed comes from ``SeedSequence(seed,
  spawn_key=(round, 1, index))``, and trials are stored by index, never by completion order.
* ``n_jobs > 1`` runs trials in loky worker processes (the ``parallel`` extra, i.e. joblib)
  whose OpenMP/BLAS thread counts are fixed through the environment *before* the worker imports
  NumPy, and whose fastnn kernels are pinned with ``fastnn.set_num_threads``: two trials on two
  cores must not each start two threads. ``executor=`` accepts any object with
  ``submit(fn, *args)`` returning a future with ``result()`` and ``done()`` (a
  ``concurrent.futures`` executor or a ``distributed.Client``); there the pinning is applied
  around each trial instead.
* A trial that raises is recorded as ``failed`` with its error; a trial whose cost exceeds 3x
  its first cost or is not finite is ``diverged`` (the notes' early-break rule; the trainer built
  by :func:`make_train_fn` stops such a run inside its first epoch). Ctrl-C (or a
  ``KeyboardInterrupt`` raised by ``train_fn``) stops the search and returns what finished.
"""

import contextlib
import csv
import inspect
import io
import itertools
import json
import math
import os
import pickle
import sys
import time
import traceback as _traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "loguniform",
    "uniform",
    "choice",
    "randint",
    "grid_search",
    "random_search",
    "coarse_to_fine",
    "should_abort",
    "Trial",
    "SearchResult",
    "RangeEdgeWarning",
]

STATUSES = ("ok", "diverged", "failed")
_HISTORY_KEYS = ("loss_history", "train_acc_history", "val_acc_history")
_KNOWN_KEYS = frozenset(("val_acc", "train_acc", "epochs", "diverged", *_HISTORY_KEYS))
# Read by OpenMP and the BLAS libraries NumPy may be linked against when they start.
_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class RangeEdgeWarning(UserWarning):
    """The best value of a parameter lies at the edge of its search range."""


# --------------------------------------------------------------------------- search spaces


def _check_bound(value, name):
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result


class _Distribution:
    """A range to sample from; subclasses define the scale the range is measured on."""

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, repr(self)))


class _Interval(_Distribution):
    log = False

    def __init__(self, low, high):
        low, high = _check_bound(low, "low"), _check_bound(high, "high")
        if self.log and low <= 0:
            raise ValueError(f"loguniform needs 0 < low, got low={low}")
        if not low < high:
            raise ValueError(f"{type(self).__name__} needs low < high, got low={low}, high={high}")
        self.low, self.high = low, high

    def _to(self, v):
        return np.log(v) if self.log else np.asarray(v, dtype=float)

    def _from(self, t):
        return float(np.exp(t)) if self.log else float(t)

    def sample(self, rng):
        return self._from(rng.uniform(self._to(self.low), self._to(self.high)))

    def grid(self, num):
        space = np.geomspace if self.log else np.linspace
        return [float(v) for v in space(self.low, self.high, num)]

    def narrow(self, values, margin):
        """The range spanned by ``values``, padded by ``margin`` x this range's width, clipped."""
        lo, hi = self._to(self.low), self._to(self.high)
        t = self._to(np.asarray(values, dtype=float))
        pad = margin * (hi - lo)
        new_lo, new_hi = float(t.min()) - pad, float(t.max()) + pad
        if not new_lo < new_hi:  # all values identical and margin 0
            return self
        # exact ends where they are the old ends or the values themselves (no exp(log(x)) drift)
        low = self.low if new_lo <= lo else (min(values) if pad == 0 else self._from(new_lo))
        high = self.high if new_hi >= hi else (max(values) if pad == 0 else self._from(new_hi))
        return type(self)(low, high)

    def edge(self, value, fraction=0.1):
        """``"lower"``/``"upper"`` when ``value`` is within ``fraction`` of the width of an end."""
        lo, hi = self._to(self.low), self._to(self.high)
        t = float(self._to(value))
        if t <= lo + fraction * (hi - lo):
            return "lower"
        if t >= hi - fraction * (hi - lo):
            return "upper"
        return None

    def __repr__(self):
        return f"{type(self).__name__}({self.low:.4g}, {self.high:.4g})"


class loguniform(_Interval):
    """Values whose logarithm is uniform on ``[log(low), log(high))``: learning rates, reg.

    Use it for parameters that act multiplicatively, as the notes do (``10 ** uniform(-6, -3)``).
    """

    log = True


class uniform(_Interval):
    """Values uniform on ``[low, high)``: dropout rates, momentum."""


class randint(_Distribution):
    """Integers uniform on ``[low, high)`` (``high`` excluded, as in NumPy): hidden sizes."""

    def __init__(self, low, high):
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"randint {name} must be an integer, got {v!r}")
        if not low < high:
            raise ValueError(f"randint needs low < high, got low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng):
        return int(rng.integers(self.low, self.high))

    def grid(self, num):
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high - 1, num)})

    def narrow(self, values, margin):
        pad = int(round(margin * (self.high - self.low)))
        low = max(self.low, int(min(values)) - pad)
        high = min(self.high, int(max(values)) + pad + 1)
        return randint(low, high)

    def edge(self, value, fraction=0.1):
        if self.high - self.low <= 2:
            return None
        width = self.high - 1 - self.low
        if value <= self.low + fraction * width:
            return "lower"
        if value >= self.high - 1 - fraction * width:
            return "upper"
        return None

    def __repr__(self):
        return f"randint({self.low}, {self.high})"


class choice(_Distribution):
    """One of ``options``, each equally likely: update rules, activations, tuples of sizes."""

    def __init__(self, options):
        options = list(options)
        if not options:
            raise ValueError("choice needs at least one option")
        self.options = [_plain(o) for o in options]

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def grid(self, num=None):
        return list(self.options)

    def narrow(self, values, margin):
        kept = [o for o in self.options if any(_same(o, v) for v in values)]
        return choice(kept or self.options)

    def edge(self, value, fraction=0.1):
        return None

    def __repr__(self):
        return f"choice({self.options!r})"


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:  # arrays and other objects without a scalar ==
        return a is b


def _plain(value):
    """NumPy scalars as Python scalars, so that params print, compare and export cleanly."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_space(space):
    """Validate ``space``; returns {name: spec} where spec is a distribution, list or fixed value."""
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of parameter name -> range, got {type(space).__name__}")
    if not space:
        raise ValueError("space is empty: give at least one parameter")
    checked = {}
    for name, spec in space.items():
        if not isinstance(name, str):
            raise TypeError(f"parameter names must be strings, got {name!r}")
        if isinstance(spec, list):
            if not spec:
                raise ValueError(f"parameter {name!r} has an empty list of values")
            spec = [_plain(v) for v in spec]
        checked[name] = spec
    return checked


def _searched(space):
    """Names of the parameters that vary (the ones printed in result lines)."""
    return [k for k, v in space.items() if isinstance(v, (list, _Distribution))]


def _sample(space, rng):
    params = {}
    for name, spec in space.items():
        if isinstance(spec, _Distribution):
            params[name] = spec.sample(rng)
        elif isinstance(spec, list):
            params[name] = spec[int(rng.integers(len(spec)))]
        else:
            params[name] = spec
    return params


def _grid(space, num):
    axes = []
    for name, spec in space.items():
        if isinstance(spec, list):
            axes.append(spec)
        elif isinstance(spec, choice):
            axes.append(spec.grid())
        elif isinstance(spec, _Distribution):
            if num is None:
                raise ValueError(
                    f"parameter {name!r} is a range ({spec!r}); grid_search needs a list of "
                    "values or num= points per range"
                )
            axes.append(spec.grid(num))
        else:
            axes.append([spec])
    return [dict(zip(space, values)) for values in itertools.product(*axes)]


# --------------------------------------------------------------------------- trials and results


def should_abort(cost, first_cost, factor=3.0):
    """The notes' early-break rule: True when ``cost`` is not finite or exceeds ``factor`` x the first.

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

    ``status`` is ``"ok"``, ``"diverged"`` (cost exploded or became NaN; the run was stopped)
    or ``"failed"`` (``train_fn`` raised; ``error`` holds the exception and ``traceback`` where
    it was raised). ``val_acc`` and ``train_acc`` are NaN when unknown. ``extra`` keeps the other
    keys ``train_fn`` returned (a model, for example); it is left out of the CSV/JSON export.
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
    loss_history: list = field(default_factory=list, repr=False)
    train_acc_history: list = field(default_factory=list, repr=False)
    val_acc_history: list = field(default_factory=list, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    def to_dict(self):
        """JSON-ready dict (NaN -> None, ``extra`` left out)."""
        return {
            "index": self.index,
            "round": self.round,
            "status": self.status,
            "val_acc": _none_if_nan(self.val_acc),
            "train_acc": _none_if_nan(self.train_acc),
            "epochs": self.epochs,
            "seconds": self.seconds,
            "seed": self.seed,
            "error": self.error,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            **{k: [_none_if_nan(v) for v in getattr(self, k)] for k in _HISTORY_KEYS},
        }

    @classmethod
    def from_dict(cls, d):
        nan = float("nan")
        return cls(
            index=d["index"],
            round=d.get("round", 0),
            status=d["status"],
            val_acc=nan if d.get("val_acc") is None else d["val_acc"],
            train_acc=nan if d.get("train_acc") is None else d["train_acc"],
            epochs=d.get("epochs"),
            seconds=d.get("seconds", 0.0),
            seed=d.get("seed"),
            error=d.get("error"),
            params=dict(d["params"]),
            **{k: [nan if v is None else v for v in d.get(k, [])] for k in _HISTORY_KEYS},
        )


def _none_if_nan(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def _jsonable(v):
    v = _plain(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v


def _float_list(values, name):
    if values is None:
        return []
    try:
        return [float(v) for v in np.asarray(values, dtype=float).ravel()]
    except (TypeError, ValueError):
        raise TypeError(f"train_fn returned a {name} that is not a sequence of numbers") from None


def _fill_outcome(trial, result, abort_factor):
    """Copy a train_fn result dict into ``trial`` (raises TypeError on a malformed result)."""
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
    diverged = diverged or _history_diverged(trial.loss_history, abort_factor)
    trial.status = "diverged" if diverged else "ok"
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

    def __init__(self, trials, searched, seed=None, n_planned=None, interrupted=False, spaces=()):
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
        return f"<SearchResult {len(self)} / {self.n_planned} trials ({counts}{stop}); best {best_txt}>"

    def by_status(self, status):
        """Trials with ``status`` (``"ok"``, ``"diverged"`` or ``"failed"``)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
        return [t for t in self.trials if t.status == status]

    def sorted(self, key="val_acc", reverse=True):
        """Trials sorted by ``key`` (a Trial attribute, a parameter name, or a callable).

        Trials whose key is missing or NaN go last; with the default key, ``ok`` trials come
        before diverged and failed ones at equal accuracy.
        """
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

    def top(self, k=5):
        """The ``k`` best ``ok`` trials by validation accuracy."""
        return [t for t in self.sorted() if t.status == "ok"][:k]

    @property
    def best(self):
        """The ``ok`` trial with the highest validation accuracy (None if there is none)."""
        top = self.top(1)
        return top[0] if top else None

    @property
    def best_params(self):
        best = self.best
        return None if best is None else dict(best.params)

    def line(self, trial):
        """The notes' line: ``val_acc: 0.412000, lr: 2.512e-04, reg: 1.047e-02, (3 / 100)``."""
        parts = [f"val_acc: {trial.val_acc:f}"]
        parts += [f"{k}: {_format_value(trial.params[k])}" for k in self.searched if k in trial.params]
        parts.append(f"({trial.index + 1} / {self.n_planned})")
        text = ", ".join(parts)
        if trial.status != "ok":
            text += f" [{trial.status}{': ' + trial.error if trial.error else ''}]"
        return text

    def lines(self, order="index"):
        """All lines, in trial order or (``order="val_acc"``) best first."""
        trials = self.trials if order == "index" else self.sorted(order)
        return [self.line(t) for t in trials]

    def print(self, order="index", file=None):
        for text in self.lines(order):
            print(text, file=file if file is not None else sys.stdout)

    # ---- export

    def to_records(self):
        """One flat dict per trial (params as columns), for CSV or a DataFrame."""
        names = []
        for t in self.trials:
            names += [k for k in t.params if k not in names]
        rows = []
        for t in self.trials:
            d = t.to_dict()
            row = {k: d[k] for k in ("index", "round", "status", "val_acc", "train_acc",
                                     "epochs", "seconds", "seed", "error")}
            for k in names:
                v = t.params.get(k)
                row[k] = json.dumps(_jsonable(v)) if isinstance(v, (tuple, list, dict)) else v
            rows.append(row)
        return rows

    def to_csv(self, path_or_buf=None):
        """Write the trials as CSV (one row each); returns the text when no path is given."""
        rows = self.to_records()
        buf = io.StringIO()
        fields = list(rows[0]) if rows else ["index", "round", "status", "val_acc"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return _write(buf.getvalue(), path_or_buf)

    def to_json(self, path_or_buf=None):
        """Write every trial, histories included, as JSON; returns the text when no path is given."""
        doc = {
            "seed": self.seed,
            "n_planned": self.n_planned,
            "interrupted": self.interrupted,
            "searched": self.searched,
            "trials": [t.to_dict() for t in self.trials],
        }
        return _write(json.dumps(doc, indent=1, allow_nan=False), path_or_buf)

    @classmethod
    def from_json(cls, path_or_text):
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

    def plot_scatter(self, x=None, y=None, ax=None, log=None):
        """The lecture's scatter: ``x`` vs ``y`` (default the first two searched parameters),
        coloured by validation accuracy; diverged and failed trials as grey crosses.

        ``log`` (default: for positive values spanning over a decade) sets log axes.
        Returns the matplotlib Axes.
        """
        ax = _axes(ax)
        names = [k for k in self.searched if all(_is_number(t.params.get(k)) for t in self.trials)]
        if x is None or y is None:
            if len(names) < 2:
                raise ValueError("plot_scatter needs two numeric searched parameters; pass x= and y=")
            x = names[0] if x is None else x
            y = next(n for n in names if n != x) if y is None else y
        ok = [t for t in self.trials if t.status == "ok" and not math.isnan(t.val_acc)]
        bad = [t for t in self.trials if t not in ok]
        xs = [t.params[x] for t in self.trials]
        ys = [t.params[y] for t in self.trials]
        if ok:
            points = ax.scatter([t.params[x] for t in ok], [t.params[y] for t in ok],
                                c=[t.val_acc for t in ok], cmap="viridis", s=36)
            ax.figure.colorbar(points, ax=ax, label="validation accuracy")
        if bad:
            ax.scatter([t.params[x] for t in bad], [t.params[y] for t in bad],
                       marker="x", color="0.6", label="diverged / failed")
            ax.legend(loc="best")
        for name, values, set_scale in ((x, xs, ax.set_xscale), (y, ys, ax.set_yscale)):
            if log if log is not None else _spans_decades(values):
                set_scale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(f"{len(self)} trials, best val_acc {self.best.val_acc:.3f}"
                     if self.best else f"{len(self)} trials")
        return ax

    def plot_loss_curves(self, top=5, ax=None):
        """Loss histories of the ``top`` best trials (log-scaled y). Returns the Axes."""
        ax = _axes(ax)
        for t in self.top(top):
            label = ", ".join(f"{k}={_format_value(t.params[k])}" for k in self.searched
                              if k in t.params)
            ax.plot(t.loss_history, label=f"{t.val_acc:.3f}: {label}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        if any(t.loss_history for t in self.top(top)):
            ax.legend(fontsize="small")
        return ax


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _spans_decades(values):
    vals = [v for v in values if _is_number(v)]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 10


def _axes(ax):
    if ax is not None:
        return ax
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'plots need matplotlib: install it with pip install "fastnn[plot]"'
        ) from None
    # A bare Figure (no pyplot): no global state, works without a display.
    return Figure(figsize=(6, 4.5), layout="constrained").add_subplot()


def _write(text, path_or_buf):
    if path_or_buf is None:
        return text
    if hasattr(path_or_buf, "write"):
        path_or_buf.write(text)
    else:
        with open(path_or_buf, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return None


# --------------------------------------------------------------------------- running trials


@dataclass
class _Job:
    index: int
    round: int
    params: dict
    seed: int


def _trial_seed(seed, round_, index):
    ss = np.random.SeedSequence(seed, spawn_key=(round_, 1, index))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _sampling_rng(seed, round_):
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(round_, 0)))


def _check_seed(seed):
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _accepts_seed(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return True
        if p.name == "seed" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            return True
    return False


@contextlib.contextmanager
def _pinned(threads, backend):
    """Run a trial in a worker: fastnn (and BLAS, when threadpoolctl is there) at ``threads``."""
    from fastnn._backend import backend as use
    from fastnn._config import num_threads

    with contextlib.ExitStack() as stack:
        stack.enter_context(use(backend))
        if threads is not None:
            stack.enter_context(num_threads(threads))
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:
                pass
            else:
                stack.enter_context(threadpool_limits(limits=threads))
        yield


def _run_trial(train_fn, job, pass_seed, abort_factor, threads=None, backend="cython"):
    """Train one configuration; never raises except for infrastructure problems.

    Returns a Trial, or None when the trial was interrupted (KeyboardInterrupt).
    """
    trial = Trial(index=job.index, round=job.round, params=dict(job.params), seed=job.seed)
    start = time.perf_counter()
    try:
        with _pinned(threads, backend):
            if pass_seed:
                result = train_fn(dict(job.params), seed=job.seed)
            else:
                result = train_fn(dict(job.params))
            _fill_outcome(trial, result, abort_factor)
    except KeyboardInterrupt:
        return None
    except Exception as exc:
        trial.status = "failed"
        trial.error = f"{type(exc).__name__}: {exc}"
        trial.traceback = _traceback.format_exc()
    trial.seconds = time.perf_counter() - start
    return trial


def _init_worker(threads):
    """loky worker start-up: the environment already limits OpenMP/BLAS; pin fastnn too."""
    from fastnn._config import set_num_threads

    set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


def _process_executor(n_jobs, threads):
    try:
        from joblib.externals.loky import get_reusable_executor
    except ImportError:
        raise ImportError(
            'n_jobs > 1 runs trials in worker processes with joblib\'s loky: install it with '
            'pip install "fastnn[parallel]" (or pass executor=)'
        ) from None
    env = {name: str(threads) for name in _THREAD_ENV_VARS}
    return get_reusable_executor(
        max_workers=n_jobs, env=env, initializer=_init_worker, initargs=(threads,)
    )


def _check_picklable(train_fn):
    try:
        from joblib.externals import cloudpickle as pickler  # what loky and Dask use
    except ImportError:
        try:
            import cloudpickle as pickler
        except ImportError:
            pickler = pickle
    try:
        pickler.dumps(train_fn)
    except Exception as exc:
        raise TypeError(
            "train_fn must be picklable to run in worker processes (define it at module level "
            f"or use make_train_fn): {type(exc).__name__}: {exc}"
        ) from None


def _as_completed(futures):
    """Yield futures as they finish; works for concurrent.futures and Dask futures alike."""
    import concurrent.futures as cf

    if all(isinstance(f, cf.Future) for f in futures):
        yield from cf.as_completed(futures)
        return
    pending = list(futures)
    delay = 0.001
    while pending:
        still = []
        for f in pending:
            if f.done():
                delay = 0.001
                yield f
            else:
                still.append(f)
        pending = still
        if pending:
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


class _Progress:
    """tqdm bar over trials showing the best accuracy so far (only on a terminal)."""

    def __init__(self, total, verbose, desc):
        self.bar = None
        self.best = -math.inf
        if not verbose or not _isatty(sys.stderr):
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError(
                'the progress bar needs tqdm: install it with pip install "fastnn[progress]", '
                "or pass verbose=False"
            ) from None
        self.bar = tqdm(total=total, desc=desc, unit="trial", leave=True)

    def update(self, trial):
        if self.bar is None:
            return
        if trial.status == "ok" and trial.val_acc > self.best:
            self.best = trial.val_acc
        if self.best > -math.inf:
            self.bar.set_postfix_str(f"best val_acc {self.best:.4f}", refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _check_n_jobs(n_jobs, executor):
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)):
        raise TypeError(f"n_jobs must be an integer, got {n_jobs!r}")
    if n_jobs == -1:
        from fastnn._config import _usable_cores

        n_jobs = _usable_cores()
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1 (all cores), got {n_jobs}")
    if executor is not None:
        if n_jobs != 1:
            raise ValueError("give either n_jobs or executor, not both")
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(
                f"executor must have a submit(fn, *args) method, got {type(executor).__name__}"
            )
    return int(n_jobs)


class _Runner:
    """Runs lists of jobs serially, in loky processes, or on a user executor."""

    def __init__(self, train_fn, n_jobs, executor, threads_per_trial, abort_factor, verbose):
        if not callable(train_fn):
            raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
        self.train_fn = train_fn
        self.n_jobs = _check_n_jobs(n_jobs, executor)
        self.executor = executor
        self.threads = threads_per_trial
        self.abort_factor = abort_factor
        self.verbose = verbose
        self.pass_seed = _accepts_seed(train_fn)
        from fastnn._backend import get_backend

        self.backend = get_backend()
        self.parallel = executor is not None or self.n_jobs > 1
        if self.parallel:
            _check_picklable(train_fn)

    def run(self, jobs, desc="search"):
        """Returns (finished trials, interrupted)."""
        progress = _Progress(len(jobs), self.verbose, desc)
        try:
            if not self.parallel:
                return self._serial(jobs, progress)
            return self._parallel(jobs, progress)
        finally:
            progress.close()

    def _serial(self, jobs, progress):
        trials = []
        for job in jobs:
            try:
                trial = _run_trial(self.train_fn, job, self.pass_seed, self.abort_factor,
                                   None, self.backend)
            except KeyboardInterrupt:  # between trials
                trial = None
            if trial is None:
                return trials, True
            trials.append(trial)
            progress.update(trial)
        return trials, False

    def _parallel(self, jobs, progress):
        own = self.executor is None
        if own:
            executor = _process_executor(self.n_jobs, self.threads)
            threads = None  # the worker start-up already pinned everything
        else:
            executor, threads = self.executor, self.threads
        trials, futures, interrupted = [], [], False
        try:
            for job in jobs:
                futures.append(executor.submit(_run_trial, self.train_fn, job, self.pass_seed,
                                               self.abort_factor, threads, self.backend))
            by_future = dict(zip(futures, jobs))
            for future in _as_completed(futures):
                job = by_future[future]
                try:
                    trial = future.result()
                except Exception as exc:  # the worker died, or the result could not travel back
                    trial = Trial(index=job.index, round=job.round, params=dict(job.params),
                                  seed=job.seed, status="failed",
                                  error=f"{type(exc).__name__}: {exc}")
                if trial is None:
                    interrupted = True
                    break
                trials.append(trial)
                progress.update(trial)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if interrupted:
                for f in futures:
                    if not f.done():
                        f.cancel()
                if own:
                    # stop the trials still running instead of letting them finish unseen
                    executor.shutdown(wait=False, kill_workers=True)
        return trials, interrupted


# --------------------------------------------------------------------------- the searches

_RUN_DOC = """
    n_jobs : int, default 1
        Worker processes (``-1``: all cores); each trial's kernels and BLAS run on
        ``threads_per_trial`` threads. Needs the ``parallel`` extra (joblib).
    executor : concurrent.futures.Executor-like, optional
        Run trials with ``executor.submit`` instead (e.g. a ``distributed.Client``).
        ``train_fn`` must be picklable for both.
    threads_per_trial : int, default 1
        Threads per trial in workers (ignored when running serially).
    abort_factor : float or None, default 3.0
        A trial whose loss history exceeds this x its first loss, or holds NaN/inf, is recorded
        as ``"diverged"`` (``None``: only non-finite losses count).
    verbose : bool, default True
        Progress bar (tqdm, the ``progress`` extra) on a terminal; nothing otherwise.
"""


def _make_jobs(params_list, seed, round_, start):
    return [_Job(start + i, round_, p, _trial_seed(seed, round_, start + i))
            for i, p in enumerate(params_list)]


def grid_search(train_fn, space, *, num=None, seed=None, n_jobs=1, executor=None,
                threads_per_trial=1, abort_factor=3.0, verbose=True):
    """Train every combination of the values in ``space``.

    Parameters
    ----------
    train_fn : callable
        ``train_fn(params) -> dict`` with at least ``val_acc`` (see the module docstring).
    space : dict
        Parameter name -> list of values (a grid axis), a distribution (needs ``num``), or a
        fixed value (anything else, tuples included).
    num : int, optional
        Points per range for distributions (log-spaced for :class:`loguniform`).
    seed : int, optional
        Seeds the trials (passed to ``train_fn`` when it takes ``seed``).
    """ + _RUN_DOC + """
    Returns
    -------
    SearchResult
    """
    space = _check_space(space)
    seed = _check_seed(seed)
    runner = _Runner(train_fn, n_jobs, executor, threads_per_trial, abort_factor, verbose)
    jobs = _make_jobs(_grid(space, num), seed, 0, 0)
    trials, interrupted = runner.run(jobs, "grid search")
    return SearchResult(trials, _searched(space), seed, len(jobs), interrupted, [space])


def random_search(train_fn, space, n_trials, *, seed=None, n_jobs=1, executor=None,
                  threads_per_trial=1, abort_factor=3.0, verbose=True):
    """Train ``n_trials`` configurations sampled from ``space``.

    Parameters
    ----------
    train_fn : callable
        ``train_fn(params) -> dict`` with at least ``val_acc`` (see the module docstring).
    space : dict
        Parameter name -> distribution (:class:`loguniform`, :class:`uniform`,
        :class:`choice`, :class:`randint`), list (sampled like ``choice``), or fixed value.
    n_trials : int
    seed : int, optional
        Same seed, same configurations and trial seeds, whatever ``n_jobs``/``executor``.
    """ + _RUN_DOC + """
    Returns
    -------
    SearchResult
    """
    space = _check_space(space)
    n_trials = _check_count(n_trials, "n_trials")
    seed = _check_seed(seed)
    runner = _Runner(train_fn, n_jobs, executor, threads_per_trial, abort_factor, verbose)
    rng = _sampling_rng(seed, 0)
    jobs = _make_jobs([_sample(space, rng) for _ in range(n_trials)], seed, 0, 0)
    trials, interrupted = runner.run(jobs, "random search")
    return SearchResult(trials, _searched(space), seed, n_trials, interrupted, [space])


def _check_count(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)


def _check_rounds(rounds, epochs_key):
    if isinstance(rounds, (Mapping, str)) or not hasattr(rounds, "__iter__"):
        raise TypeError("rounds must be a list of (n_trials, epochs) pairs or dicts")
    checked = []
    for r in rounds:
        if isinstance(r, Mapping):
            r = dict(r)
            if "n_trials" not in r:
                raise ValueError(f"round {r} has no 'n_trials'")
            n = _check_count(r.pop("n_trials"), "n_trials")
            fixed = r
        else:
            try:
                n, epochs = r
            except (TypeError, ValueError):
                raise TypeError(f"a round must be (n_trials, epochs) or a dict, got {r!r}") from None
            n = _check_count(n, "n_trials")
            fixed = {epochs_key: _check_count(epochs, "epochs")}
        checked.append((n, fixed))
    if not checked:
        raise ValueError("rounds is empty")
    return checked


def coarse_to_fine(train_fn, space, rounds=((20, 1), (10, 5)), *, top_k=3, margin=0.1,
                   epochs_key="num_epochs", seed=None, n_jobs=1, executor=None,
                   threads_per_trial=1, abort_factor=3.0, edge_fraction=0.1, verbose=True):
    """Random search in rounds, narrowing the ranges around the best trials each time.

    The notes' recipe: a few epochs over wide (log) ranges, then narrow each range to the span of
    the ``top_k`` best trials (padded by ``margin`` x the range's width, on the log scale for
    :class:`loguniform`, never beyond the previous range) and train longer.

    Parameters
    ----------
    train_fn, space
        As for :func:`random_search`.
    rounds : sequence
        One entry per round: ``(n_trials, epochs)`` (epochs passed as ``params[epochs_key]``) or
        a dict ``{"n_trials": n, **fixed_params}``.
    top_k : int, default 3
        Trials the next round's ranges are fitted around.
    margin : float, default 0.1
    edge_fraction : float, default 0.1
        Warn (:class:`RangeEdgeWarning`) when the best value of a parameter lies within this
        fraction of the width of an end of its original range: the optimum may lie outside.
    """ + _RUN_DOC + """
    Returns
    -------
    SearchResult
        All rounds' trials (``trial.round``); ``spaces`` holds each round's space.
    """
    space = _check_space(space)
    plan = _check_rounds(rounds, epochs_key)
    top_k = _check_count(top_k, "top_k")
    seed = _check_seed(seed)
    runner = _Runner(train_fn, n_jobs, executor, threads_per_trial, abort_factor, verbose)
    n_planned = sum(n for n, _ in plan)
    searched = _searched(space)
    current, spaces, trials = dict(space), [], []
    interrupted = False
    for round_, (n, fixed) in enumerate(plan):
        if round_ > 0:
            previous = [t for t in trials if t.round == round_ - 1]
            top = SearchResult(previous, searched).top(top_k)
            if not top:
                warnings.warn(
                    f"coarse_to_fine: no trial of round {round_} finished without diverging or "
                    "failing; the next round keeps the same ranges",
                    RuntimeWarning,
                    stacklevel=2,
                )
            else:
                current = _narrow(current, top, margin)
        round_space = {**current, **fixed}
        spaces.append(round_space)
        rng = _sampling_rng(seed, round_)
        jobs = _make_jobs([_sample(round_space, rng) for _ in range(n)], seed, round_, len(trials))
        finished, interrupted = runner.run(jobs, f"round {round_ + 1} / {len(plan)}")
        trials += finished
        if interrupted:
            break
    result = SearchResult(trials, searched, seed, n_planned, interrupted, spaces)
    if result.best is not None:
        for name, where, value in _edges(space, result.best.params, edge_fraction):
            warnings.warn(
                f"the best {name} ({_format_value(value)}) lies at the {where} edge of its range "
                f"{space[name]!r}: the optimum may be outside it; widen the range and search again",
                RangeEdgeWarning,
                stacklevel=2,
            )
    return result


def _narrow(space, top, margin):
    narrowed = {}
    for name, spec in space.items():
        values = [t.params[name] for t in top]
        if isinstance(spec, _Distribution):
            narrowed[name] = spec.narrow(values, margin)
        elif isinstance(spec, list):
            narrowed[name] = choice(spec).narrow(values, margin).options
        else:
            narrowed[name] = spec
    return narrowed


def _edges(space, params, fraction):
    for name, spec in space.items():
        if isinstance(spec, (_Interval, randint)) and name in params:
            where = spec.edge(params[name], fraction)
            if where:
                yield name, where, params[name]
