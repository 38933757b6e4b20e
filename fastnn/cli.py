"""The ``fastnn`` command line: the lecture's workflow on real data, a benchmark table, config.

    fastnn demo [--out DIR] [--data digits|cifar10:PATH] [--quick]
    fastnn bench [--size ...] [--threads N] [--json FILE] [--markdown]
    fastnn init-stats [--init 0.01|1.0|xavier|he] [--activation tanh|relu|...]
    fastnn train ...      fastnn search ...      fastnn config

Mistakes a user can make (a missing folder, an unknown name, a bad number) end with one line on
stderr and a non-zero exit code: 2 for a bad command line, 1 for anything else the user can fix.
Bugs still show their traceback.
"""

import argparse
import math
import os
import sys
import time

from fastnn.init import INITIALIZERS
from fastnn.init import NAMES as INIT_NAMES  # init-stats' names: "small" and every initializer

__all__ = ["main", "build_parser", "CLIError"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "maxout")
UPDATES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit code ``code``."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------- argument types

def _float(text, what="value"):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what} must be finite, got {text!r}")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def _bounded(name, parse, ok, requirement):
    """An argparse type: ``parse`` the text, then insist on ``ok(value)``."""
    def convert(text):
        value = parse(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value
    convert.__name__ = convert.__qualname__ = name
    return convert


positive_float = _bounded("positive_float", _float, lambda v: v > 0, "a positive number")
nonnegative_float = _bounded("nonnegative_float", _float, lambda v: v >= 0, ">= 0")
unit_float = _bounded("unit_float", _float, lambda v: 0 <= v <= 1, "between 0 and 1")
positive_int = _bounded("positive_int", _int, lambda v: v >= 1, ">= 1")
nonnegative_int = _bounded("nonnegative_int", _int, lambda v: v >= 0, ">= 0")
thread_count = _bounded("thread_count", _int, lambda v: v >= 1 or v == -1,
                        ">= 1 or -1 (all cores)")


def init_spec(text):
    """A weight scale (0.01, 1.0) or one of the init names."""
    name = text.strip().lower()
    if name in INIT_NAMES:
        return name
    try:
        value = float(name)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown init {text!r}: use a scale such as 0.01 or 1.0, or one of "
            f"{', '.join(INIT_NAMES)}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"init scale must be a positive number, got {text!r}")
    return value


def log_range(text):
    """``LOW:HIGH`` with 0 < LOW < HIGH (a log-uniform search range)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"range must look like LOW:HIGH (1e-4:1e-1), got {text!r}")
    low, high = (_float(p, "range bound") for p in parts)
    if not 0 < low < high:
        raise argparse.ArgumentTypeError(f"range needs 0 < LOW < HIGH, got {text!r}")
    return low, high


def hidden_dims(text):
    """Comma-separated hidden layer sizes, e.g. ``100`` or ``256,128``."""
    try:
        dims = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes must look like 100 or 256,128, got {text!r}") from None
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1, got {text!r}")
    return dims


def data_spec(text):
    """``digits`` or ``cifar10:PATH``; the folder is checked when the command runs."""
    if text == "digits":
        return ("digits", None)
    if text.startswith("cifar10:") and len(text) > len("cifar10:"):
        return ("cifar10", text[len("cifar10:"):])
    raise argparse.ArgumentTypeError(f"unknown data {text!r}: use digits or cifar10:PATH")


def size_spec(text):
    from fastnn.bench import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ----------------------------------------------------------------------------- shared helpers

def _say(*parts, file=None):
    print(*parts, file=file if file is not None else sys.stdout, flush=True)


def _use_tqdm():
    """tqdm when installed and stderr is a terminal (progress bars garble logs and pipes)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def _outdir(path):
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"--out {path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output folder {path}: {exc.strerror}") from None
    return path


def _set_threads(threads):
    if threads is not None:
        import fastnn

        fastnn.set_num_threads(threads)


def load_data(spec, seed=0, val_fraction=0.15, test_fraction=0.15, dtype="float32"):
    """Train/val/test arrays for ``("digits", None)`` or ``("cifar10", folder)``, flattened rows.

    Digits: shuffled split (``test_fraction`` test, ``val_fraction`` validation).  CIFAR-10:
    its own test batch, 1000 validation rows taken from the training batches.
    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (``dtype`` rows),
    ``name`` and ``n_classes``.  A missing or unreadable CIFAR-10 folder is a CLIError.
    """
    import numpy as np

    from fastnn import datasets

    kind, path = spec
    if kind == "digits":
        X, y = datasets.load_digits(dtype=dtype)
        X_rest, X_test, y_rest, y_test = datasets.train_val_split(X, y, test_fraction, seed=seed)
        X_train, X_val, y_train, y_val = datasets.train_val_split(
            X_rest, y_rest, val_fraction / (1 - test_fraction), seed=seed + 1)
        name = "digits (8x8 handwritten digits, UCI)"
    else:
        if not os.path.isdir(path):
            raise CLIError(
                f"CIFAR-10 folder not found: {path} (download the python version from "
                "https://www.cs.toronto.edu/~kriz/cifar.html and extract it; the folder must "
                "hold data_batch_1..5 and test_batch)")
        try:
            X_full, y_full, X_test, y_test = datasets.load_cifar10(path, dtype=dtype, flatten=True)
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot read CIFAR-10 from {path}: {exc}") from None
        X_train, X_val, y_train, y_val = datasets.train_val_split(
            X_full, y_full, min(1000, len(y_full) // 10), seed=seed)
        name = f"CIFAR-10 ({path})"
    out = {"name": name}
    for key, value in (("X_train", X_train), ("X_val", X_val), ("X_test", X_test)):
        out[key] = np.ascontiguousarray(value.reshape(value.shape[0], -1), dtype=dtype)
    for key, value in (("y_train", y_train), ("y_val", y_val), ("y_test", y_test)):
        out[key] = np.asarray(value, dtype=np.intp)
    out["n_classes"] = int(max(out["y_train"].max(), out["y_test"].max()) + 1)
    return out


def accuracy(model, X, y):
    import numpy as np

    scores = model.loss(X) if hasattr(model, "loss") else model(X)
    return float(np.mean(np.argmax(scores, axis=1) == y))


# ----------------------------------------------------------------------------- config

def cmd_config(args):
    import fastnn

    _set_threads(args.threads)
    fastnn.show_config()
    return 0


# ----------------------------------------------------------------------------- bench

_TORCH_FIRST_RUN = "FASTNN_BENCH_TORCH_FIRST"


def _rerun_with_torch_first(args):
    """Re-run this bench in a fresh interpreter that imports PyTorch before fastnn, and
    return its exit code; None when this process is fine as it is.

    Here fastnn loaded libgomp with its short spin-wait (GOMP_SPINCOUNT=1000), which PyTorch
    would share: its training loop ran 1.2-1.7x slower than on its own, an unfair peer.
    """
    import importlib.util
    import subprocess

    from fastnn import _config

    if (args.no_torch or "torch" in sys.modules or os.environ.get(_TORCH_FIRST_RUN)
            or not _config.pytorch_would_share_short_spin()
            or importlib.util.find_spec("torch") is None):
        return None
    # `python -c` puts the working directory first on sys.path: put this fastnn there instead,
    # or a source tree in the working directory would be benchmarked in place of it
    root = os.path.dirname(os.path.dirname(os.path.abspath(_config.__file__)))
    code = (f"import sys; sys.path[0] = {root!r}; import torch; "
            "from fastnn.__main__ import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, **{_TORCH_FIRST_RUN: "1"})
    env.pop("GOMP_SPINCOUNT", None)  # fastnn's, not the user's (pytorch_would_share_short_spin)
    if args.threads is None:  # keep this process's default, not the torch-first one
        args.argv += ["--threads", str(_config.get_num_threads())]
    code = subprocess.call([sys.executable, "-c", code, *args.argv], env=env)
    return code if code >= 0 else 128 - code  # killed by signal N: the shell's 128 + N


def cmd_bench(args):
    from fastnn import bench

    rerun = _rerun_with_torch_first(args)
    if rerun is not None:
        return rerun
    _set_threads(args.threads)  # resolves -1 to all usable cores
    head = bench.header()
    progress = None if args.quiet else bench.stderr_progress()
    try:
        cases = bench.run_bench(
            sizes=args.size, dtypes=args.dtype, kernels=args.kernel,
            rounds=args.rounds, min_time=args.min_time, use_torch=not args.no_torch,
            progress=progress)
    except ValueError as exc:  # unknown kernel name
        raise CLIError(str(exc)) from None
    if not args.no_torch and head["torch"] is None:
        _say("PyTorch is not installed: the torch column is empty", file=sys.stderr)
    sys.stdout.write(bench.format_table(cases, head, markdown=args.markdown))
    if args.json:
        settings = {"sizes": [s if not isinstance(s, tuple) else list(s) for s in args.size],
                    "dtypes": list(args.dtype), "rounds": args.rounds, "min_time": args.min_time}
        try:
            bench.write_json(args.json, cases, head, settings)
        except OSError as exc:
            raise CLIError(f"cannot write {args.json}: {exc.strerror}") from None
        _say(f"wrote {os.path.abspath(args.json)}", file=sys.stderr)
    failed = [case for case in cases if case.error]
    return 1 if failed else 0


# ----------------------------------------------------------------------------- init-stats

INIT_STATS_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def _init_label(init):
    return init if isinstance(init, str) else f"{init:g}"


def run_init_experiment(init, activation, out_dir=None, num_layers=10, hidden_size=500,
                        num_samples=1000, seed=0, verbose=True):
    """One run of the notes' initialization experiment; returns (summary dict, figure path or None).

    The summary holds the per-layer means and stds (for results.json and the report); the
    histogram figure is saved to ``out_dir`` when matplotlib is installed.
    """
    from fastnn.diagnostics import activation_statistics, plot_activation_histograms
    from fastnn.report import have_matplotlib

    stats = activation_statistics(init, activation, num_layers=num_layers,
                                  hidden_size=hidden_size, num_samples=num_samples, seed=seed,
                                  verbose=verbose)
    key = f"{_init_label(init)}_{activation}".replace(".", "p")
    layers = [{"name": "input", "mean": stats.input_mean, "std": stats.input_std}]
    layers += [{"name": f"hidden {i + 1}", "mean": float(m), "std": float(s)}
               for i, (m, s) in enumerate(zip(stats.layer_means, stats.layer_stds))]
    summary = {"key": key, "init": _init_label(init), "activation": activation, "layers": layers}
    figure = None
    if out_dir is not None and have_matplotlib():
        figure = os.path.join(out_dir, f"init_{key}.png")
        plot_activation_histograms(stats, path=figure)
    return summary, figure


def cmd_init_stats(args):
    from fastnn.report import PLOT_MISSING

    out_dir = _outdir(args.out)
    _, figure = run_init_experiment(args.init, args.activation, out_dir,
                                    num_layers=args.layers, hidden_size=args.hidden,
                                    num_samples=args.samples, seed=args.seed)
    if figure:
        _say(f"histograms saved to {figure}")
    else:
        _say(f"figure skipped: {PLOT_MISSING}")
    return 0


# ----------------------------------------------------------------------------- training helpers

def _tick_bar(iterations_per_epoch, desc):
    """A per-epoch tqdm bar (``tick()`` per iteration) on a terminal, else None."""
    tqdm = _use_tqdm()
    if tqdm is None:
        return None
    return tqdm(total=iterations_per_epoch, desc=desc, unit="it", leave=False)


class _ProgressModel:
    """Wraps a model object so that every training step ticks a per-epoch progress bar.

    The trainer keeps deep copies of the best model: those are copies of the wrapped model,
    so the bar never ends up in a result.
    """

    def __init__(self, model, bar):
        self._model = model
        self._bar = bar

    @property
    def params(self):
        return self._model.params

    def loss(self, X, y=None):
        out = self._model.loss(X, y)
        if y is not None:
            if self._bar.n >= self._bar.total:
                self._bar.reset()
            self._bar.update(1)
        return out

    def __deepcopy__(self, memo):
        import copy

        return copy.deepcopy(self._model, memo)


class TrainFn:
    """``train_fn(params, seed=None)`` for the search: one FullyConnectedNet run.

    params: ``lr``, ``reg`` and ``num_epochs``.  A top-level class (not a closure) so that
    ``n_jobs > 1`` can send it to worker processes.
    """

    def __init__(self, data, hidden, activation="relu", weight_init="he", batchnorm=True,
                 update="momentum", momentum=0.9, batch_size=100, decay=0.95):
        self.X, self.y = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.n_classes = data["n_classes"]
        self.hidden, self.activation, self.weight_init = list(hidden), activation, weight_init
        self.batchnorm, self.update, self.momentum = batchnorm, update, momentum
        self.batch_size, self.decay = batch_size, decay

    def build(self, reg, seed):
        from fastnn.models import FullyConnectedNet

        return FullyConnectedNet(self.hidden, self.X.shape[1], self.n_classes,
                                 activation=self.activation, weight_init=self.weight_init,
                                 batchnorm=self.batchnorm, reg=reg, seed=seed)

    def train(self, lr, reg, num_epochs, seed=None, verbose=False, progress=False):
        from fastnn.trainer import ClassifierTrainer

        model = self.build(reg, seed)
        bar = None
        if progress:
            bar = _tick_bar(max(len(self.y) // self.batch_size, 1), "epoch")
        try:
            best, stats = ClassifierTrainer().train(
                self.X, self.y, self.X_val, self.y_val,
                _ProgressModel(model, bar) if bar is not None else model,
                learning_rate=lr, momentum=self.momentum, learning_rate_decay=self.decay,
                update=self.update, num_epochs=num_epochs, batch_size=self.batch_size,
                verbose=verbose, seed=seed, abort_cost_ratio=3.0)
        finally:
            if bar is not None:
                bar.close()
        return best, stats

    def __call__(self, params, seed=None):
        best, stats = self.train(params["lr"], params["reg"], params["num_epochs"], seed=seed)
        val = stats.get("best_val_acc")
        return {"val_acc": float("nan") if val is None else val,
                "loss_history": stats["loss_history"],
                "train_acc_history": stats["train_acc_history"],
                "val_acc_history": stats["val_acc_history"],
                "diverged": stats["diverged"], "model": best}


def save_model(path, model, meta=None, **arrays_to_add):
    """Save a model's parameters, batchnorm running statistics, ``meta`` (a JSON string under
    ``"meta"``) and any extra arrays (the preprocessing mean) to an ``.npz`` file."""
    import json

    import numpy as np

    params = model.params if hasattr(model, "params") else model
    arrays = {name: np.asarray(value) for name, value in params.items()}
    for i, bn in enumerate(getattr(model, "bn_params", []) or []):
        for key in ("running_mean", "running_var"):
            if key in bn:
                arrays[f"bn{i + 1}_{key}"] = np.asarray(bn[key])
    arrays.update({name: np.asarray(value) for name, value in arrays_to_add.items()})
    arrays["meta"] = np.array(json.dumps(meta or {}))
    np.savez(path, **arrays)
    return path


def _search_space(lr_range, reg_range):
    from fastnn.search import loguniform

    return {"lr": loguniform(*lr_range), "reg": loguniform(*reg_range)}


def _run_search(train_fn, space, rounds, seed, n_jobs=1):
    """coarse_to_fine (one round: a plain random search), its RangeEdgeWarnings printed."""
    import warnings

    from fastnn import search

    verbose = _use_tqdm() is not None  # the search's progress bar needs tqdm
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", search.RangeEdgeWarning)
        result = search.coarse_to_fine(train_fn, space, rounds=rounds, seed=seed, n_jobs=n_jobs,
                                       verbose=verbose)
    result.print()
    for w in caught:
        if issubclass(w.category, (search.RangeEdgeWarning, RuntimeWarning)):
            _say(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _save_search_plots(result, out_dir, prefix="search"):
    """The lecture's scatter (lr vs reg) and the top trials' loss curves; paths or {}."""
    from fastnn.report import have_matplotlib

    if not have_matplotlib() or result.best is None:
        return {}
    paths = {}
    ax = result.plot_scatter(x="lr", y="reg")
    paths["search"] = f"{prefix}_scatter.png"
    ax.figure.savefig(os.path.join(out_dir, paths["search"]), dpi=100)
    ax = result.plot_loss_curves(top=5)
    paths["search_loss"] = f"{prefix}_loss_curves.png"
    ax.figure.savefig(os.path.join(out_dir, paths["search_loss"]), dpi=100)
    return paths


def _trial_records(result):
    return [{k: v for k, v in t.to_dict().items() if not k.endswith("_history")}
            for t in result.trials]


# ----------------------------------------------------------------------------- train

def cmd_train(args):
    import fastnn
    from fastnn.report import PLOT_MISSING, plot_training_curves, write_json

    _set_threads(args.threads)
    out_dir = _outdir(args.out)
    data = load_data(args.data, seed=args.seed)
    data = _zero_center(data)
    _say(f"data: {data['name']}: {len(data['y_train'])} train / {len(data['y_val'])} val / "
         f"{len(data['y_test'])} test rows, {data['X_train'].shape[1]} features")
    fn = _train_fn(args, data)
    start = time.perf_counter()
    try:
        model, stats = fn.train(args.lr, args.reg, args.epochs, seed=args.seed, verbose=True,
                                progress=True)
    except ValueError as exc:  # a setting the trainer or model rejects
        raise CLIError(str(exc)) from None
    seconds = time.perf_counter() - start
    test_acc = accuracy(model, data["X_test"], data["y_test"])
    _say(f"test accuracy: {test_acc:.4f} ({seconds:.1f} s of training)")
    meta = {"hidden_dims": args.hidden, "activation": args.activation, "batchnorm": args.batchnorm,
            "input_dim": int(data["X_train"].shape[1]), "num_classes": data["n_classes"]}
    model_path = save_model(os.path.join(out_dir, "model.npz"), model, meta,
                            zero_center_mean=data["mean"])
    curves = plot_training_curves(stats, os.path.join(out_dir, "curves.png"))
    write_json(os.path.join(out_dir, "results.json"), {
        "command": "train", "data": data["name"], "settings": _settings(args),
        "test_accuracy": test_acc, "best_val_acc": stats.get("best_val_acc"),
        "diverged": stats["diverged"], "stop_reason": stats.get("stop_reason"),
        "seconds": seconds, "stats": stats, "fastnn": fastnn.__version__})
    _say(f"best model saved to {model_path}")
    _say(f"curves saved to {curves}" if curves else f"figures skipped: {PLOT_MISSING}")
    _say(f"numbers saved to {os.path.join(out_dir, 'results.json')}")
    if stats["diverged"]:
        raise CLIError("training diverged (see the line above): lower --lr")
    return 0


def _train_fn(args, data):
    """The TrainFn of the model and training options of ``train`` and ``search``."""
    return TrainFn(data, args.hidden, args.activation, args.init, args.batchnorm, args.update,
                   args.momentum, args.batch_size, args.decay)


def _settings(args):
    skip = {"func", "command"}
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()
            if k not in skip}


def _zero_center(data):
    """Fit ZeroCenter on the training rows and apply it to all three sets (the notes, §3)."""
    from fastnn.preprocessing import ZeroCenter

    zc = ZeroCenter().fit(data["X_train"])
    data = dict(data)
    for key in ("X_train", "X_val", "X_test"):
        data[key] = zc.transform(data[key])
    data["mean"] = zc.mean_
    return data


# ----------------------------------------------------------------------------- search

def cmd_search(args):
    from fastnn.report import PLOT_MISSING, write_json

    _set_threads(args.threads)
    if args.n_jobs > 1:
        from fastnn.search._runner import require_loky

        try:
            require_loky("--n-jobs > 1", "")
        except ImportError as exc:
            raise CLIError(str(exc)) from None
    out_dir = _outdir(args.out)
    data = _zero_center(load_data(args.data, seed=args.seed))
    fn = _train_fn(args, data)
    rounds = [(args.trials, args.epochs)]
    if args.fine_trials:
        rounds.append((args.fine_trials, args.fine_epochs))
    result = _run_search(fn, _search_space(args.lr_range, args.reg_range), rounds, args.seed,
                         n_jobs=args.n_jobs)
    if result.interrupted:  # Ctrl-C: save what finished, then exit 130
        _say_interrupted(args, result)
    best = result.best
    if best is None:
        if result.interrupted:
            return 130
        raise CLIError("every trial diverged or failed: lower --lr-range")
    _say("best: " + result.line(best))
    result.to_csv(os.path.join(out_dir, "search.csv"))
    result.to_json(os.path.join(out_dir, "search.json"))
    meta = {"hidden_dims": args.hidden, "activation": args.activation,
            "batchnorm": args.batchnorm, "params": best.params}
    model_path = save_model(os.path.join(out_dir, "best_model.npz"), best.extra["model"], meta,
                            zero_center_mean=data["mean"])
    figures = _save_search_plots(result, out_dir)
    write_json(os.path.join(out_dir, "results.json"), {
        "command": "search", "data": data["name"], "settings": _settings(args),
        "best": best.to_dict(), "trials": _trial_records(result),
        "interrupted": result.interrupted})
    _say(f"trials saved to {os.path.join(out_dir, 'search.csv')} and search.json")
    _say(f"best model saved to {model_path}")
    if figures:
        _say("plots saved to " + ", ".join(os.path.join(out_dir, f) for f in figures.values()))
    else:
        _say(f"figures skipped: {PLOT_MISSING}")
    return 130 if result.interrupted else 0


def _say_interrupted(args, result):
    _say(f"fastnn {args.command}: interrupted after {len(result)} / {result.n_planned} trials",
         file=sys.stderr)


# ----------------------------------------------------------------------------- demo

DEMO_SETTINGS = {
    # coarse round, fine round (trials, epochs); final epochs; init experiment width
    "full": {"rounds": [(20, 3), (10, 8)], "final_epochs": 40, "init_hidden": 500},
    "quick": {"rounds": [(8, 2), (4, 4)], "final_epochs": 25, "init_hidden": 200},
}
INIT_RUNS = ((0.01, "tanh"), (1.0, "tanh"), ("xavier", "tanh"), ("he", "relu"))
DEMO_HIDDEN = [100]


def _section(title):
    _say(f"\n== {title}")


def cmd_demo(args):
    import fastnn
    from fastnn.babysit import babysit
    from fastnn.report import (PLOT_MISSING, have_matplotlib, plot_training_curves,
                               write_json, write_report)

    _set_threads(args.threads)
    out_dir = _outdir(args.out)
    settings = DEMO_SETTINGS["quick" if args.quick else "full"]
    start = time.perf_counter()
    results = {"command": "demo", "quick": args.quick, "seed": args.seed,
               "created": time.strftime("%Y-%m-%d %H:%M:%S"), "figures": {}}
    figures = results["figures"]

    _section("data: split train / val / test, zero-center (fitted on train only)")
    data = _zero_center(load_data(args.data, seed=args.seed))
    n_features, n_classes = data["X_train"].shape[1], data["n_classes"]
    results["data"] = {"name": data["name"], "n_train": len(data["y_train"]),
                       "n_val": len(data["y_val"]), "n_test": len(data["y_test"]),
                       "n_features": n_features, "n_classes": n_classes}
    _say(f"{data['name']}: {len(data['y_train'])} train / {len(data['y_val'])} val / "
         f"{len(data['y_test'])} test rows, {n_features} features, {n_classes} classes")

    _section("weight initialization: activation statistics of a 10-layer net (notes §4)")
    results["init_experiment"] = []
    for init, activation in INIT_RUNS:
        summary, figure = run_init_experiment(init, activation, out_dir,
                                              hidden_size=settings["init_hidden"],
                                              num_samples=1000, seed=args.seed, verbose=False)
        results["init_experiment"].append(summary)
        if figure:
            figures[f"init_{summary['key']}"] = os.path.basename(figure)
        layers = summary["layers"]
        _say(f"init {summary['init']:>6}, {activation:<4}: std input {layers[0]['std']:.3f}, "
             f"layer 1 {layers[1]['std']:.6f}, layer {len(layers) - 1} {layers[-1]['std']:.6f}")

    _section("babysitting the learning process (notes §6)")
    fn = TrainFn(data, DEMO_HIDDEN, batchnorm=True, decay=0.9)
    # The notes' small initialization makes the first loss ln(num_classes) exactly.
    from fastnn.models import FullyConnectedNet

    small = FullyConnectedNet(DEMO_HIDDEN, n_features, n_classes, weight_init=1e-4,
                              batchnorm=True, seed=args.seed)
    sitter = babysit(small, None, data["X_train"], data["y_train"], data["X_val"],
                     data["y_val"], num_classes=n_classes, update=fn.update,
                     momentum=fn.momentum, seed=args.seed)
    results["babysit"] = [{"name": r.name, "passed": bool(r.passed), "message": r.explanation}
                          for r in sitter.results]
    if not sitter.passed:
        write_json(os.path.join(out_dir, "results.json"), results)
        raise CLIError(f"the babysitter stopped at '{sitter.failed.name}': see above")
    lr_range = tuple(sitter.learning_rate_range)

    _section(f"coarse-to-fine random search: lr in [{lr_range[0]:.0e}, {lr_range[1]:.0e}] "
             "(the babysitter's range), reg in [1e-6, 1e-1] (notes §7)")
    result = _run_search(fn, _search_space(lr_range, (1e-6, 1e-1)), settings["rounds"],
                         args.seed)
    if result.interrupted:
        _say_interrupted(args, result)
        return 130
    best = result.best
    if best is None:
        raise CLIError("every search trial diverged or failed")
    _say("best: " + result.line(best))
    results["search"] = {"trials": _trial_records(result), "best": best.to_dict(),
                         "rounds": settings["rounds"], "lr_range": lr_range}
    result.to_csv(os.path.join(out_dir, "search.csv"))
    figures.update(_save_search_plots(result, out_dir))

    epochs = settings["final_epochs"]
    _section(f"training the best configuration (batchnorm, He init) for {epochs} epochs")
    t0 = time.perf_counter()
    model, stats = fn.train(best.params["lr"], best.params["reg"], epochs, seed=args.seed,
                            verbose=True, progress=True)
    train_seconds = time.perf_counter() - t0
    if stats["diverged"]:
        results["final"] = {"lr": best.params["lr"], "reg": best.params["reg"], "epochs": epochs,
                            "diverged": True, "stop_reason": stats.get("stop_reason")}
        json_path = write_json(os.path.join(out_dir, "results.json"), results)
        raise CLIError(f"training the best configuration diverged (see the line above); "
                       f"the numbers so far are in {json_path}")
    test_acc = accuracy(model, data["X_test"], data["y_test"])
    results["final"] = {"test_accuracy": test_acc, "val_accuracy": stats.get("best_val_acc"),
                        "lr": best.params["lr"], "reg": best.params["reg"], "epochs": epochs,
                        "hidden_dims": DEMO_HIDDEN, "batchnorm": True,
                        "train_seconds": train_seconds, "diverged": stats["diverged"]}
    results["stats"] = stats
    save_model(os.path.join(out_dir, "model.npz"), model,
               {"hidden_dims": DEMO_HIDDEN, "batchnorm": True, **best.params},
               zero_center_mean=data["mean"])
    if plot_training_curves(stats, os.path.join(out_dir, "curves.png"),
                            title=f"best configuration: lr {best.params['lr']:.2e}, "
                                  f"reg {best.params['reg']:.2e}"):
        figures["curves"] = "curves.png"
    if not have_matplotlib():
        results["figures_skipped"] = PLOT_MISSING
    results["seconds"] = time.perf_counter() - start
    results["config"] = {k: v for k, v in fastnn._config.config_dict().items() if k != "modules"}

    json_path = write_json(os.path.join(out_dir, "results.json"), results)
    html_path = write_report(out_dir, results)
    _section("result")
    _say(f"test accuracy: {test_acc:.4f} (best validation accuracy "
         f"{results['final']['val_accuracy']:.4f}); {results['seconds']:.1f} s in all")
    _say(f"report:  {html_path}")
    _say(f"numbers: {json_path}")
    if figures:
        _say("figures: " + ", ".join(sorted(figures.values())))
    else:
        _say(f"figures skipped: {PLOT_MISSING}")
    return 0


# ----------------------------------------------------------------------------- parser

def build_parser():
    parser = _Parser(
        prog="fastnn",
        description="fastnn: CS231n's 'Training Neural Networks I' on a compiled CPU core.")
    from fastnn import __version__

    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "demo", help="the lecture's workflow on real data, with a report (start here)",
        description="Split and zero-center the data, run the initialization experiment and the "
                    "babysitter, a coarse-to-fine search, train the best configuration with "
                    "batchnorm and report test accuracy; writes figures, results.json and "
                    "report.html to --out.")
    p.add_argument("--out", default="fastnn-demo", metavar="DIR",
                   help="output folder (default ./fastnn-demo)")
    _add_data_args(p)
    p.add_argument("--quick", action="store_true", help="a smaller search (under a minute)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("config", help="show version, compiled modules, OpenMP, threads, CPU, BLAS")
    p.add_argument("--threads", type=thread_count, help="thread count to report (default: current)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "bench", help="benchmark table: every kernel vs NumPy, PyTorch and the memory floor",
        description="Time every registered kernel (forward and backward) in float32 and float64 "
                    "against its NumPy reference, PyTorch (if installed) and a copy of the same "
                    "bytes; print one table.")
    p.add_argument("--size", type=size_spec, nargs="+", default=["all"], metavar="SIZE",
                   help="small, large, all (default), an element count (65536, 64k, 8M) or a "
                        "shape (4096x1000); several allowed")
    p.add_argument("--threads", type=thread_count, help="threads for fastnn and PyTorch "
                   "(default: fastnn.get_num_threads(); -1 = all cores)")
    p.add_argument("--dtype", nargs="+", choices=("float32", "float64"),
                   default=["float32", "float64"])
    p.add_argument("--kernel", nargs="+", metavar="NAME", help="only these kernels")
    p.add_argument("--rounds", type=positive_int, default=15,
                   help="timing rounds per case; the table shows the median (default 15)")
    p.add_argument("--min-time", type=positive_float, default=0.01, metavar="SECONDS",
                   help="minimum duration of one round (loop count auto-ranged; default 0.01)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    p.add_argument("--markdown", action="store_true", help="print a GitHub markdown table")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "init-stats", help="the notes' weight-initialization experiment, with histograms",
        description="Push unit-Gaussian data through a deep stack of fully connected layers and "
                    "print each layer's activation mean and std, as in the lecture notes.")
    p.add_argument("--init", type=init_spec, default=0.01,
                   help="a weight scale (0.01, 1.0) or small, xavier, he (default 0.01)")
    p.add_argument("--activation", choices=INIT_STATS_ACTIVATIONS, default="tanh")
    p.add_argument("--layers", type=positive_int, default=10)
    p.add_argument("--hidden", type=positive_int, default=500, help="layer width (default 500)")
    p.add_argument("--samples", type=positive_int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the histogram figure")
    p.set_defaults(func=cmd_init_stats)

    p = sub.add_parser(
        "train", help="train a fully connected net (epoch lines as in the notes), save it",
        description="Train a FullyConnectedNet with ClassifierTrainer on digits or CIFAR-10 "
                    "(zero-centered), print the notes' epoch lines, save the best model (.npz), "
                    "the loss/accuracy curves and results.json.")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (default 0.05)")
    p.add_argument("--reg", type=nonnegative_float, default=1e-4, help="L2 strength (default 1e-4)")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--out", default="fastnn-train", metavar="DIR",
                   help="output folder (default ./fastnn-train)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "search", help="coarse-to-fine random search over learning rate and regularization",
        description="The notes' recipe: random configurations over wide log ranges for a few "
                    "epochs, then narrowed ranges trained longer; saves every trial (CSV, "
                    "JSON), the best model (.npz) and the lecture's scatter plot.")
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("--lr-range", type=log_range, default=(1e-3, 1.0), metavar="LOW:HIGH",
                   help="log-uniform learning-rate range (default 1e-3:1)")
    p.add_argument("--reg-range", type=log_range, default=(1e-6, 1e-1), metavar="LOW:HIGH",
                   help="log-uniform L2 range (default 1e-6:1e-1)")
    p.add_argument("--trials", type=positive_int, default=20, help="coarse trials (default 20)")
    p.add_argument("--epochs", type=positive_int, default=2, help="epochs per coarse trial")
    p.add_argument("--fine-trials", type=nonnegative_int, default=10,
                   help="trials of the narrowed round (0: a plain random search; default 10)")
    p.add_argument("--fine-epochs", type=positive_int, default=6)
    p.add_argument("--n-jobs", type=positive_int, default=1,
                   help="trials in parallel processes (the parallel extra)")
    p.add_argument("--out", default="fastnn-search", metavar="DIR",
                   help="output folder (default ./fastnn-search)")
    p.set_defaults(func=cmd_search)

    return parser


def _add_data_args(p):
    p.add_argument("--data", type=data_spec, default=("digits", None),
                   metavar="digits|cifar10:PATH",
                   help="the embedded digits (default) or a CIFAR-10 python-batches folder")
    p.add_argument("--seed", type=int, default=0, help="seed for split, weights and batches")
    p.add_argument("--threads", type=thread_count, help="kernel threads (default: all cores)")


def _add_model_args(p):
    p.add_argument("--hidden", type=hidden_dims, default=[100], metavar="H[,H...]",
                   help="hidden layer sizes (default 100)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument("--init", choices=[n for n in INITIALIZERS if n != "zeros"], default="he",
                   help="weight initialization (default he)")
    p.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=True,
                   help="batch normalization after each hidden affine layer (default on)")
    p.add_argument("--update", choices=UPDATES, default="momentum")
    p.add_argument("--momentum", type=unit_float, default=0.9)
    p.add_argument("--batch-size", type=positive_int, default=100)
    p.add_argument("--decay", type=positive_float, default=0.95,
                   help="learning-rate decay per epoch (default 0.95)")


def main(argv=None):
    """Entry point of ``fastnn`` / ``python -m fastnn``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args) or 0
    except CLIError as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fastnn bench | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
