"""The weight-initialization experiment of the lecture notes (section 4), as a function.

The implementation behind the public namespace ``fastnn.diagnostics``, which documents it.
"""

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn._config.backend import ops
from fastnn._validation import check_float_dtype, check_int
from fastnn.nn import init as _init
from fastnn.workflow.plotting import figure_class

__all__ = ["ActivationStatistics", "activation_statistics", "plot_activation_histograms"]

_PLOT_EXTRA = 'matplotlib is needed for this plot: pip install "fastnn[plot]"'


def _named(function, **fixed):
    def init(fan_in, fan_out, rng, dtype):
        return function(fan_in, fan_out, dtype=dtype, rng=rng, **fixed)

    return init


ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "elu", "linear")


def _resolve_init(init):
    """A function (fan_in, fan_out, rng, dtype) -> (fan_in, fan_out) weights."""
    if isinstance(init, str):
        name = init.lower()
        try:
            return _named(_init.INITIALIZERS[_init.ALIASES.get(name, name)])
        except KeyError:
            raise ValueError(
                f"unknown init {init!r}; use a scale (e.g. 0.01), one of "
                f"{', '.join(map(repr, _init.NAMES))}, or a callable(fan_in, fan_out)"
            ) from None
    if callable(init):
        try:
            accepted = set(inspect.signature(init).parameters)
        except (TypeError, ValueError):
            accepted = set()

        def call(fan_in, fan_out, rng, dtype):
            kwargs = {k: v for k, v in (("rng", rng), ("dtype", dtype)) if k in accepted}
            w = init(fan_in, fan_out, **kwargs)
            w = np.asarray(w, dtype=dtype)
            if w.shape != (fan_in, fan_out):
                raise ValueError(
                    f"init returned shape {w.shape}, expected (fan_in, fan_out) = "
                    f"{(fan_in, fan_out)}"
                )
            return w

        return call
    if isinstance(init, (bool, np.bool_)) or not np.isscalar(init) or not np.isreal(init):
        raise TypeError(f"init must be a scale, a name or a callable, got {init!r}")
    scale = float(cast(float, init))
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"an init scale must be a finite number > 0, got {init!r}")
    return _named(_init.small_random, scale=scale)


def _resolve_activation(activation):
    if callable(activation):
        return activation
    if activation is None or activation == "linear":
        return lambda x: x
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)} "
            "or pass a callable"
        )
    return getattr(ops(), activation)


@dataclass
class ActivationStatistics:
    """Result of :func:`activation_statistics`.

    input_mean, input_std : float
        Statistics of the unit-Gaussian input (num_samples, hidden_size).
    layer_means, layer_stds : (num_layers,) float64 arrays
        Statistics of each hidden layer's activations.
    activations : list of (num_samples, hidden_size) arrays, or None
        Every hidden layer's activations (for histograms); None with ``keep_activations=False``.
    """

    init: Any
    activation: Any
    input_mean: float
    input_std: float
    layer_means: np.ndarray
    layer_stds: np.ndarray
    inputs: np.ndarray | None = field(default=None, repr=False)
    activations: list[np.ndarray] | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """The notes' printout, one string per line."""
        # the notes' format strings, kept verbatim
        out = ["input layer had mean %f and std %f" % (self.input_mean, self.input_std)]  # noqa: UP031
        out += [
            "hidden layer %d had mean %f and std %f" % (i + 1, m, s)  # noqa: UP031
            for i, (m, s) in enumerate(zip(self.layer_means, self.layer_stds))
        ]
        return out

    def __str__(self):
        return "\n".join(self.lines())

    def plot(self, path: str | os.PathLike[str] | None = None, bins: int = 30) -> Any:
        """Histogram per layer; see :func:`plot_activation_histograms`."""
        return plot_activation_histograms(self, path=path, bins=bins)


def activation_statistics(
    init: float | str | Callable[..., ArrayLike],
    activation: str = "tanh",
    num_layers: int = 10,
    hidden_size: int = 500,
    num_samples: int = 1000,
    seed: np.random.Generator | np.random.SeedSequence | int | None = None,
    *,
    dtype: DTypeLike = np.float64,
    keep_activations: bool = True,
    verbose: bool = True,
) -> ActivationStatistics:
    """Run the notes' initialization experiment and return per-layer activation statistics.

    Parameters
    ----------
    init : float, a name in ``fastnn.nn.init.INITIALIZERS`` or 'small', or callable
        A float is the scale of ``randn(fan_in, fan_out) * scale`` (0.01 and 1.0 in the notes);
        'small' (or 'small_random') is 0.01, 'xavier' ``randn / sqrt(fan_in)``, 'glorot' Xavier
        with 2 / (fan_in + fan_out), 'he' ``randn * sqrt(2 / fan_in)``, 'zeros' all zero;
        a callable is called as ``init(fan_in, fan_out)`` plus ``rng=`` and ``dtype=`` if it
        accepts them (like the ``fastnn.nn.init`` functions) and must return a
        (fan_in, fan_out) array.
    activation : {'tanh', 'relu', 'sigmoid', 'leaky_relu', 'elu', 'linear'} or callable
        The kernels of the active backend (leaky_relu and elu with their default alpha).
    num_layers, hidden_size, num_samples : int
        The data is (num_samples, hidden_size) and every layer is hidden_size wide.
    seed : int, numpy Generator or None
        Makes the run reproducible; NumPy's global RNG is never used.
    dtype : float32 or float64
    keep_activations : bool
        Keep every layer's activations in the result (for plots).
    verbose : bool
        Print the result in the notes' format (``input layer had mean %f and std %f`` then
        ``hidden layer %d had mean %f and std %f``).

    Returns
    -------
    ActivationStatistics
    """
    weights = _resolve_init(init)
    act = _resolve_activation(activation)
    num_layers = check_int(num_layers, "num_layers")
    hidden_size = check_int(hidden_size, "hidden_size")
    num_samples = check_int(num_samples, "num_samples")
    dtype = check_float_dtype(dtype)
    rng = _init.as_generator(seed=seed)

    D = rng.standard_normal((num_samples, hidden_size)).astype(dtype, copy=False)
    means, stds, kept = [], [], []
    X = D
    for _ in range(num_layers):
        W = weights(hidden_size, hidden_size, rng, dtype)
        H = np.asarray(act(X @ W))
        means.append(float(np.mean(H, dtype=np.float64)))
        stds.append(float(np.std(H, dtype=np.float64)))
        if keep_activations:
            kept.append(H)
        X = H
    result = ActivationStatistics(
        init=init,
        activation=activation,
        input_mean=float(np.mean(D, dtype=np.float64)),
        input_std=float(np.std(D, dtype=np.float64)),
        layer_means=np.array(means),
        layer_stds=np.array(stds),
        inputs=D if keep_activations else None,
        activations=kept if keep_activations else None,
    )
    if verbose:
        print(result)
    return result


def plot_activation_histograms(
    stats: ActivationStatistics,
    path: str | os.PathLike[str] | None = None,
    bins: int = 30,
) -> Any:
    """The lecture's figure: mean and std per layer, then one histogram per layer.

    Parameters
    ----------
    stats : ActivationStatistics
        From ``activation_statistics(..., keep_activations=True)``.
    path : str or path-like, optional
        Save the figure there (format from the extension, e.g. ``.png``).
    bins : int

    Returns
    -------
    matplotlib.figure.Figure
        Axes 0 and 1 are the mean and std curves, axes 2.. the per-layer histograms.
    """
    if stats.activations is None:
        raise ValueError(
            "these statistics were computed with keep_activations=False; "
            "rerun with keep_activations=True to plot histograms"
        )
    Figure = figure_class(missing=_PLOT_EXTRA)
    layers = len(stats.activations)
    fig = Figure(figsize=(max(6.0, 1.6 * layers), 5.0), layout="constrained")
    grid = fig.add_gridspec(2, max(layers, 2))
    half = max(layers, 2) // 2
    ax_mean = fig.add_subplot(grid[0, :half])
    ax_std = fig.add_subplot(grid[0, half:])
    xs = np.arange(1, layers + 1)
    ax_mean.plot(xs, stats.layer_means, "ob-")
    ax_mean.set_title("layer mean")
    ax_std.plot(xs, stats.layer_stds, "or-")
    ax_std.set_title("layer std")
    for i, H in enumerate(stats.activations):
        ax = fig.add_subplot(grid[1, i])
        ax.hist(np.ravel(H), bins=bins, range=(-1, 1) if stats.activation == "tanh" else None)
        ax.set_title(f"layer {i + 1}", fontsize="small")
        ax.tick_params(labelsize="x-small")
    if path is not None:
        fig.savefig(path)
    return fig
