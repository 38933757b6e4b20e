"""Search spaces: ranges to sample from, grids, narrowing for coarse-to-fine."""

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastnn._validation import check_scalar


class RangeEdgeWarning(UserWarning):
    """The best value of a parameter lies at the edge of its search range."""


# --------------------------------------------------------------------------- search spaces


class _Distribution:
    """A range to sample from; subclasses define the scale the range is measured on."""

    def sample(self, rng):
        """One value drawn with the ``numpy.random.Generator`` ``rng``."""
        raise NotImplementedError

    def grid(self, num):
        """``num`` values spread over the range (a grid axis)."""
        raise NotImplementedError

    def narrow(self, values, margin):
        """The distribution around ``values``, padded by ``margin``, never wider than this."""
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, repr(self)))


class _Interval(_Distribution):
    log = False

    def __init__(self, low: float, high: float) -> None:
        low, high = check_scalar(low, "low"), check_scalar(high, "high")
        if self.log and low <= 0:
            raise ValueError(f"loguniform needs 0 < low, got low={low}")
        if not low < high:
            raise ValueError(f"{type(self).__name__} needs low < high, got low={low}, high={high}")
        self.low, self.high = low, high

    def _to(self, v):
        return np.log(v) if self.log else np.asarray(v, dtype=float)

    def _from(self, t):
        return float(np.exp(t)) if self.log else float(t)

    def sample(self, rng: np.random.Generator) -> float:
        return self._from(rng.uniform(self._to(self.low), self._to(self.high)))

    def grid(self, num: int) -> list[float]:
        space = np.geomspace if self.log else np.linspace
        return [float(v) for v in space(self.low, self.high, num)]

    def narrow(self, values: Sequence[Any], margin: float) -> "_Interval":
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

    def edge(self, value: float, fraction: float = 0.1) -> str | None:
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

    def __init__(self, low: int, high: int) -> None:
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"randint {name} must be an integer, got {v!r}")
        if not low < high:
            raise ValueError(f"randint needs low < high, got low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng: np.random.Generator) -> Any:
        return int(rng.integers(self.low, self.high))

    def grid(self, num: int) -> list[Any]:
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high - 1, num)})

    def narrow(self, values: Sequence[Any], margin: float) -> "randint":
        pad = int(round(margin * (self.high - self.low)))
        low = max(self.low, int(min(values)) - pad)
        high = min(self.high, int(max(values)) + pad + 1)
        return randint(low, high)

    def edge(self, value: Any, fraction: float = 0.1) -> str | None:
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

    def __init__(self, options: Sequence[Any]) -> None:
        options = list(options)
        if not options:
            raise ValueError("choice needs at least one option")
        self.options = [_plain(o) for o in options]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def grid(self, num: int | None = None) -> list[Any]:
        return list(self.options)

    def narrow(self, values: Sequence[Any], margin: float) -> "choice":
        kept = [o for o in self.options if any(_same(o, v) for v in values)]
        return choice(kept or self.options)

    def edge(self, value: Any, fraction: float = 0.1) -> str | None:
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
    """Validate ``space``; returns {name: spec}, spec a distribution, a list or a fixed value."""
    if not isinstance(space, Mapping):
        raise TypeError(
            f"space must be a dict of parameter name -> range, got {type(space).__name__}"
        )
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
