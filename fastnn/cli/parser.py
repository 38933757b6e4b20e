"""The ``fastnn`` argument parser: every sub-command, its options and its function."""

import argparse

from fastnn._kernels._runtime import ISA_NAMES
from fastnn._version import __version__
from fastnn.cli.argtypes import (
    data_spec,
    decay_float,
    halving_eta,
    hidden_dims,
    init_spec,
    log_range,
    momentum_float,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    size_spec,
    thread_count,
)
from fastnn.cli.bench import cmd_bench
from fastnn.cli.config import cmd_config
from fastnn.cli.demo import cmd_demo
from fastnn.cli.init_stats import INIT_STATS_ACTIVATIONS, cmd_init_stats
from fastnn.cli.predict import cmd_predict
from fastnn.cli.search import STRATEGY_OPTIONS, cmd_search
from fastnn.cli.train import cmd_train
from fastnn.core.activations import ACTIVATIONS
from fastnn.core.optim import UPDATE_RULES as UPDATES
from fastnn.nn.init import INITIALIZERS


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _search_default(name):
    """The default of a search option only some strategies read (filled in by cmd_search)."""
    return STRATEGY_OPTIONS[name][0]


def build_parser():
    """The ``fastnn`` argument parser; each sub-command sets ``func`` to its ``cmd_*``."""
    parser = _Parser(
        prog="fastnn",
        description="fastnn: CS231n's 'Training Neural Networks I' on a compiled CPU core.",
    )
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "demo",
        help="the lecture's workflow on real data, with a report (start here)",
        description="Split and zero-center the data, run the initialization experiment and the "
        "babysitter, a coarse-to-fine search, train the best configuration with "
        "batchnorm and report test accuracy; writes figures, results.json and "
        "report.html to --out.",
    )
    p.add_argument(
        "--out", default="fastnn-demo", metavar="DIR", help="output folder (default ./fastnn-demo)"
    )
    _add_force(p)
    _add_data_args(p)
    p.add_argument("--quick", action="store_true", help="a smaller search (under a minute)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("config", help="show version, compiled modules, OpenMP, threads, CPU, BLAS")
    p.add_argument("--threads", type=thread_count, help="thread count to report (default: current)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "bench",
        help="benchmark table: every kernel vs NumPy, PyTorch and the memory floor",
        description="Time every registered kernel (forward and backward) in float32 and float64 "
        "against its NumPy reference, PyTorch (if installed) and a copy of the same "
        "bytes; print one table.",
    )
    p.add_argument(
        "--size",
        type=size_spec,
        nargs="+",
        default=["all"],
        metavar="SIZE",
        help="small, large, all (default), an element count (65536, 64k, 8M) or a "
        "shape (4096x1000); several allowed",
    )
    p.add_argument(
        "--threads",
        type=thread_count,
        help="threads for fastnn and PyTorch (default: fastnn.get_num_threads(); -1 = all cores)",
    )
    p.add_argument(
        "--dtype", nargs="+", choices=("float32", "float64"), default=["float32", "float64"]
    )
    p.add_argument("--kernel", nargs="+", metavar="NAME", help="only these kernels")
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=15,
        help="timing rounds per case; the table shows the median (default 15)",
    )
    p.add_argument(
        "--min-time",
        type=positive_float,
        default=0.01,
        metavar="SECONDS",
        help="minimum duration of one round (loop count auto-ranged; default 0.01)",
    )
    p.add_argument(
        "--isa",
        choices=ISA_NAMES,
        help="cap the CPU path the kernels run (FASTNN_MAX_CPU_ISA; re-runs in a fresh "
        "interpreter; a path above the CPU's runs its best)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    p.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    p.add_argument("--markdown", action="store_true", help="print a GitHub markdown table")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "init-stats",
        help="the notes' weight-initialization experiment, with histograms",
        description="Push unit-Gaussian data through a deep stack of fully connected layers and "
        "print each layer's activation mean and std, as in the lecture notes.",
    )
    p.add_argument(
        "--init",
        type=init_spec,
        default=0.01,
        help="a weight scale (0.01, 1.0) or small, xavier, he (default 0.01)",
    )
    p.add_argument("--activation", choices=INIT_STATS_ACTIVATIONS, default="tanh")
    p.add_argument("--layers", type=positive_int, default=10)
    p.add_argument("--hidden", type=positive_int, default=500, help="layer width (default 500)")
    p.add_argument("--samples", type=positive_int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the histogram figure")
    p.set_defaults(func=cmd_init_stats)

    p = sub.add_parser(
        "train",
        help="train a fully connected net (epoch lines as in the notes), save it",
        description="Train a FullyConnectedNet with ClassifierTrainer on digits or CIFAR-10 "
        "(zero-centered), print the notes' epoch lines, save the best model (.npz), "
        "the loss/accuracy curves and results.json.",
    )
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument("--lr", type=positive_float, default=0.05, help="learning rate (default 0.05)")
    p.add_argument("--reg", type=nonnegative_float, default=1e-4, help="L2 strength (default 1e-4)")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument(
        "--out",
        default="fastnn-train",
        metavar="DIR",
        help="output folder (default ./fastnn-train)",
    )
    _add_force(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "search",
        help="coarse-to-fine random search over learning rate and regularization",
        description="The notes' recipe: random configurations over wide log ranges for a few "
        "epochs, then narrowed ranges trained longer; saves every trial (CSV, "
        "JSON), the best model (.npz) and the lecture's scatter plot.",
    )
    _add_data_args(p)
    _add_model_args(p)
    p.add_argument(
        "--lr-range",
        type=log_range,
        default=(1e-3, 1.0),
        metavar="LOW:HIGH",
        help="log-uniform learning-rate range (default 1e-3:1)",
    )
    p.add_argument(
        "--reg-range",
        type=log_range,
        default=(1e-6, 1e-1),
        metavar="LOW:HIGH",
        help="log-uniform L2 range (default 1e-6:1e-1)",
    )
    p.add_argument(
        "--trials",
        type=positive_int,
        help=f"coarse trials, or asha's first rung (default {_search_default('trials')}; "
        "hyperband's brackets set theirs)",
    )
    p.add_argument("--epochs", type=positive_int, default=2, help="epochs per coarse trial")
    p.add_argument(
        "--fine-trials",
        type=nonnegative_int,
        help="coarse-to-fine: trials of the narrowed round (0: a plain random search; "
        f"default {_search_default('fine_trials')})",
    )
    p.add_argument(
        "--fine-epochs",
        type=positive_int,
        help="coarse-to-fine: epochs per narrowed trial "
        f"(default {_search_default('fine_epochs')})",
    )
    p.add_argument(
        "--strategy",
        choices=("coarse-to-fine", "random", "asha", "hyperband"),
        default="coarse-to-fine",
        help="coarse-to-fine (default; --fine-trials 0 makes it random), random (--trials x "
        "--epochs), asha (successive halving of --trials from --epochs to --max-epochs; "
        "asynchronous with --n-jobs > 1) or hyperband (brackets over the same epochs)",
    )
    p.add_argument(
        "--max-epochs",
        type=positive_int,
        help=f"asha/hyperband: last rung (default {_search_default('max_epochs')})",
    )
    p.add_argument(
        "--eta",
        type=halving_eta,
        help=f"asha/hyperband: keep 1/eta (default {_search_default('eta')})",
    )
    p.add_argument(
        "--promotion",
        choices=("lazy", "eager"),
        help="asha/hyperband with --n-jobs > 1: lazy (promote from a rung still filling only "
        "when a worker would wait) or eager (Li et al.'s ASHA); default "
        f"{_search_default('promotion')}",
    )
    p.add_argument(
        "--median-stop",
        action="store_true",
        help="also stop a trial after an epoch whose best validation accuracy is below the "
        "median of the other trials' at that epoch (any strategy)",
    )
    p.add_argument(
        "--n-jobs",
        type=positive_int,
        default=1,
        help="trials in parallel processes (the parallel extra)",
    )
    p.add_argument(
        "--out",
        default="fastnn-search",
        metavar="DIR",
        help="output folder (default ./fastnn-search)",
    )
    _add_force(p)
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the search saved in DIR (its search.db) with its own settings",
    )
    p.add_argument(
        "--trial-timeout",
        type=positive_float,
        metavar="SECONDS",
        help="stop a trial running longer than this (status timeout; its worker is replaced)",
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "predict",
        help="labels of a saved model (.npz of train, search, demo) for new rows",
        description="Load a model saved by fastnn (fastnn.save_model, or model.npz of train, "
        "search and demo), apply its saved preprocessing to the raw rows of DATA (.npy, or "
        ".csv without header) and print one label per line, or save them with --out.",
    )
    p.add_argument("model", metavar="MODEL", help="the saved model (.npz)")
    p.add_argument("data", metavar="DATA", help="raw input rows (N, D): .npy or .csv")
    p.add_argument("--proba", action="store_true", help="class probabilities (N, C) instead")
    p.add_argument("--out", metavar="FILE", help="save to FILE (.npy or .csv) instead of printing")
    p.set_defaults(func=cmd_predict)

    return parser


def _add_force(p):
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the earlier run a non-empty --out holds (default: refuse)",
    )


def _add_data_args(p):
    p.add_argument(
        "--data",
        type=data_spec,
        default=("digits", None),
        metavar="digits|cifar10:PATH",
        help="the embedded digits (default) or a CIFAR-10 python-batches folder",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for split, weights and batches")
    p.add_argument("--threads", type=thread_count, help="kernel threads (default: all cores)")


def _add_model_args(p):
    p.add_argument(
        "--hidden",
        type=hidden_dims,
        default=[100],
        metavar="H[,H...]",
        help="hidden layer sizes (default 100)",
    )
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument(
        "--init",
        choices=[n for n in INITIALIZERS if n != "zeros"],
        default="he",
        help="weight initialization (default he)",
    )
    p.add_argument(
        "--batchnorm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="batch normalization after each hidden affine layer (default on)",
    )
    p.add_argument("--update", choices=UPDATES, default="momentum")
    p.add_argument("--momentum", type=momentum_float, default=0.9)
    p.add_argument("--batch-size", type=positive_int, default=100)
    p.add_argument(
        "--decay",
        type=decay_float,
        default=0.95,
        help="learning-rate decay per epoch (default 0.95)",
    )
