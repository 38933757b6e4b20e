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

__all__ = ["main", "build_parser", "CLIError"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "maxout")
INIT_NAMES = ("small", "xavier", "he")
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


def positive_float(text):
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def nonnegative_float(text):
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def unit_float(text):
    value = _float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def thread_count(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be >= 1 or -1 (all cores), got {text!r}")
    return value


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

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (float32 rows) and
    ``name``.  A missing CIFAR-10 folder is a :class:`CLIError`.
    """
    import numpy as np

    from fastnn import datasets

    kind, path = spec
    if kind == "digits":
        X, y = _xy(datasets.load_digits())
        X_rest, y_rest, X_test, y_test = _split(X, y, test_fraction, seed)
        X_train, y_train, X_val, y_val = _split(X_rest, y_rest,
                                                val_fraction / (1 - test_fraction), seed + 1)
        name = "digits (8x8 handwritten digits, UCI)"
    else:
        if not os.path.isdir(path):
            raise CLIError(
                f"CIFAR-10 folder not found: {path} (download the python version from "
                "https://www.cs.toronto.edu/~kriz/cifar.html and extract it; the folder must "
                "hold data_batch_1..5 and test_batch)")
        try:
            loaded = datasets.load_cifar10(path)
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot read CIFAR-10 from {path}: {exc}") from None
        X_full, y_full, X_test, y_test = _cifar_parts(loaded)
        n_val = min(1000, max(1, len(y_full) // 10))
        X_train, y_train, X_val, y_val = _split(X_full, y_full, n_val / len(y_full), seed)
        name = f"CIFAR-10 ({path})"
    out = {"name": name}
    for key, value in (("X_train", X_train), ("X_val", X_val), ("X_test", X_test)):
        value = np.asarray(value)
        out[key] = np.ascontiguousarray(value.reshape(value.shape[0], -1), dtype=dtype)
    for key, value in (("y_train", y_train), ("y_val", y_val), ("y_test", y_test)):
        out[key] = np.asarray(value, dtype=np.intp)
    out["n_classes"] = int(max(out["y_train"].max(), out["y_test"].max()) + 1)
    return out


def _xy(loaded):
    if isinstance(loaded, tuple):
        return loaded[0], loaded[1]
    if isinstance(loaded, dict):
        return loaded["data"], loaded["target"]
    return loaded.data, loaded.target


def _cifar_parts(loaded):
    if isinstance(loaded, dict):
        return loaded["X_train"], loaded["y_train"], loaded["X_test"], loaded["y_test"]
    return loaded


def _split(X, y, fraction, seed):
    """Seeded shuffle split: (X_a, y_a, X_b, y_b) with ``fraction`` of the rows in b."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(y))
    n_b = max(1, int(round(fraction * len(y))))
    a, b = order[n_b:], order[:n_b]
    return X[a], y[a], X[b], y[b]


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

def cmd_bench(args):
    from fastnn import bench

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


# ----------------------------------------------------------------------------- parser

def build_parser():
    parser = _Parser(
        prog="fastnn",
        description="fastnn: CS231n's 'Training Neural Networks I' on a compiled CPU core.")
    from fastnn import __version__

    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

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

    return parser


def main(argv=None):
    """Entry point of ``fastnn`` / ``python -m fastnn``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
