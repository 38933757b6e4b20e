"""Weight initializers from the lecture notes (section 4): zeros, small random, Xavier, He.

The implementation behind the public namespace ``fastnn.init``, which documents it.
"""

import functools
import math
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from fastnn._validation import check_float_dtype, check_int, check_scalar, warn_caller

__all__ = [
    "zeros",
    "small_random",
    "xavier",
    "he",
    "as_generator",
    "INITIALIZERS",
    "ALIASES",
    "NAMES",
]

# What the ``rng`` arguments accept (see :func:`as_generator`).
RandomSource = np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None


def as_generator(
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
    seed: np.random.Generator | np.random.SeedSequence | int | None = None,
) -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``rng`` or ``seed`` (give at most one).

    Accepts None (fresh OS entropy), an int or ``SeedSequence`` seed, a ``Generator`` (used
    as is) or a legacy ``RandomState`` (a Generator is seeded from it).  Never touches
    NumPy's global random state.
    """
    if rng is not None and seed is not None:
        raise TypeError("give either rng= or seed=, not both")
    source = seed if rng is None else rng
    if isinstance(source, np.random.Generator):
        return source
    if isinstance(source, np.random.RandomState):
        return np.random.default_rng(source.randint(0, 2**31 - 1, size=4))
    if source is None or isinstance(source, (int, np.integer, np.random.SeedSequence)):
        if isinstance(source, bool):
            raise TypeError("a random seed must be an int, not a bool")
        return np.random.default_rng(source)
    raise TypeError(
        "rng/seed must be None, an int, a numpy.random.SeedSequence, Generator or RandomState, "
        f"got {type(source).__name__}"
    )


def from_global_state() -> np.random.Generator:
    """A ``numpy.random.Generator`` seeded from NumPy's global random state (which it
    advances), so that ``np.random.seed`` repeats its draws, as it does the course's code."""
    return np.random.default_rng(np.random.randint(0, 2**31 - 1, size=4))  # noqa: NPY002


def _normal(rng, shape, std, dtype):
    w = as_generator(rng).standard_normal(shape, dtype=np.float64)
    w *= std
    return w.astype(dtype, copy=False)


def zeros(
    fan_in: int,
    fan_out: int | None = None,
    dtype: DTypeLike = np.float32,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
) -> np.ndarray:
    """All-zero weights (fan_in, fan_out), or a bias vector (fan_in,) when fan_out is None.

    Warns (UserWarning) for a weight matrix: every neuron of the layer would compute the
    same output and receive the same gradient, so they never become different.
    ``rng`` is accepted for a uniform signature and ignored.
    """
    dt = check_float_dtype(dtype)
    if fan_out is None:
        return np.zeros(check_int(fan_in, "fan_in"), dtype=dt)
    shape = (check_int(fan_in, "fan_in"), check_int(fan_out, "fan_out"))
    warn_caller(
        "zero-initialized weight matrix: every neuron computes the same output and gets the "
        "same gradient, so the layer cannot learn different features; use he() or xavier()",
        UserWarning,
    )
    return np.zeros(shape, dtype=dt)


def small_random(
    fan_in: int,
    fan_out: int,
    scale: float = 0.01,
    dtype: DTypeLike = np.float32,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
) -> np.ndarray:
    """``scale * randn(fan_in, fan_out)``: fine for shallow nets, but in deep nets the
    activations shrink towards zero layer after layer (the notes' first experiment)."""
    scale = check_scalar(scale, "scale", minimum=0)
    shape = (check_int(fan_in, "fan_in"), check_int(fan_out, "fan_out"))
    return _normal(rng, shape, scale, check_float_dtype(dtype))


def xavier(
    fan_in: int,
    fan_out: int,
    glorot: bool = False,
    uniform: bool = False,
    dtype: DTypeLike = np.float32,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
) -> np.ndarray:
    """Xavier initialization: variance 1 / fan_in, i.e. ``randn(fan_in, fan_out) / sqrt(fan_in)``.

    glorot: use variance 2 / (fan_in + fan_out) (Glorot & Bengio 2010) instead.
    uniform: draw from U(-a, a) with the same variance, a = sqrt(3 * variance)
    (with glorot=True this is the paper's sqrt(6 / (fan_in + fan_out))).
    Meant for tanh-like activations; for ReLU use :func:`he`.
    """
    fan_in, fan_out = check_int(fan_in, "fan_in"), check_int(fan_out, "fan_out")
    var = 2.0 / (fan_in + fan_out) if glorot else 1.0 / fan_in
    dt = check_float_dtype(dtype)
    if uniform:
        limit = math.sqrt(3.0 * var)
        return as_generator(rng).uniform(-limit, limit, (fan_in, fan_out)).astype(dt, copy=False)
    return _normal(rng, (fan_in, fan_out), math.sqrt(var), dt)


def he(
    fan_in: int,
    fan_out: int,
    dtype: DTypeLike = np.float32,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
) -> np.ndarray:
    """He initialization for ReLU nets: ``randn(fan_in, fan_out) * sqrt(2 / fan_in)``
    (ReLU halves the variance, so Xavier's 1 / fan_in is doubled)."""
    fan_in, fan_out = check_int(fan_in, "fan_in"), check_int(fan_out, "fan_out")
    return _normal(rng, (fan_in, fan_out), math.sqrt(2.0 / fan_in), check_float_dtype(dtype))


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he": he,
    "xavier": xavier,
    "glorot": functools.partial(xavier, glorot=True),
    "small_random": small_random,
    "zeros": zeros,
}
"""The initializers by name, each called as ``f(fan_in, fan_out, dtype=..., rng=...)``."""

ALIASES = {"small": "small_random"}
"""Other accepted names of initializers: the lecture notes' "small" (0.01 * randn)."""

NAMES = (*ALIASES, *INITIALIZERS)
"""Every initializer name the command line and ``fastnn.workflow.diagnostics`` accept."""
