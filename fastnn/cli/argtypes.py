"""argparse types and choices shared by the commands; each raises ArgumentTypeError."""

import argparse
import math

from fastnn.bench import parse_size
from fastnn.nn.init import NAMES as INIT_NAMES
from fastnn.nn.trainer import (  # init-stats' names: "small" and every initializer
    check_learning_rate_decay,
    check_momentum,
)


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


def _checked(name, check):
    """An argparse type from a library check (one rule for the API and the command line)."""

    def convert(text):
        try:
            return check(_float(text), "value")
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = convert.__qualname__ = name
    return convert


momentum_float = _checked("momentum_float", check_momentum)
decay_float = _checked("decay_float", check_learning_rate_decay)
positive_int = _bounded("positive_int", _int, lambda v: v >= 1, ">= 1")
nonnegative_int = _bounded("nonnegative_int", _int, lambda v: v >= 0, ">= 0")
halving_eta = _bounded("halving_eta", _int, lambda v: v >= 2, ">= 2")
thread_count = _bounded("thread_count", _int, lambda v: v >= 1 or v == -1, ">= 1 or -1 (all cores)")


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
            f"{', '.join(INIT_NAMES)}"
        ) from None
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
        dims = [int(p) for p in text.split(",")]  # an empty part ("10,,20") is a mistake
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must look like 100 or 256,128, got {text!r}"
        ) from None
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1, got {text!r}")
    return dims


def data_spec(text):
    """``digits`` or ``cifar10:PATH``; the folder is checked when the command runs."""
    if text == "digits":
        return ("digits", None)
    if text.startswith("cifar10:") and len(text) > len("cifar10:"):
        return ("cifar10", text[len("cifar10:") :])
    raise argparse.ArgumentTypeError(f"unknown data {text!r}: use digits or cifar10:PATH")


def size_spec(text):
    """A ``fastnn bench --size``: a preset name, an element count or a shape."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
