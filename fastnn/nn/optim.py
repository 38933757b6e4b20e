"""The course's update rules (``cs231n/optim.py``) on fastnn's fused update kernels.

The implementation behind the public namespace ``fastnn.optim``, which documents it.
"""

from typing import Any

import numpy as np

from fastnn._config.backend import ops
from fastnn.reference.optim_rules import with_defaults

__all__ = ["UPDATE_RULES", "sgd", "sgd_momentum", "rmsprop", "adam"]

# The rules by name, as the course's Solver looks them up (``update_rule='adam'``).
UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


def _state(config, key, w):
    """config[key] as a writeable array of w's shape and dtype, made once (zeros if absent)."""
    state = config.get(key)
    if state is None:
        state = config[key] = np.zeros_like(w)
    elif (
        not isinstance(state, np.ndarray)
        or state.dtype != w.dtype
        or state.shape != w.shape
        or not state.flags.writeable
    ):
        state = config[key] = np.array(np.broadcast_to(state, w.shape), dtype=w.dtype)
    return state


def sgd(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Vanilla SGD: ``w -= learning_rate * dw``.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: dict with ``learning_rate`` (default 1e-2); None for a new one.
    Returns (next_w, config): next_w is w itself.
    """
    config = with_defaults("sgd", config)
    ops().sgd_update(w, dw, config["learning_rate"])
    return w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: ``learning_rate`` (1e-2), ``momentum`` (0.9), ``velocity`` (zeros like w).
    Returns (next_w, config): next_w is w itself, ``config['velocity']`` updated in place.
    """
    config = with_defaults("sgd_momentum", config)
    v = _state(config, "velocity", w)
    ops().momentum_update(w, dw, v, config["learning_rate"], config["momentum"])
    return w, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """RMSProp: ``cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    w -= learning_rate * dw / (sqrt(cache) + epsilon)`` (the course's form; the trainer's
    ``rmsprop`` update puts epsilon inside the root, as the lecture notes do).

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8), ``cache``
    (zeros like w).  Returns (next_w, config): next_w is w itself.
    """
    config = with_defaults("rmsprop", config)
    cache = _state(config, "cache", w)
    ops().rmsprop_update(
        w,
        dw,
        cache,
        config["learning_rate"],
        config["decay_rate"],
        config["epsilon"],
        eps_in_sqrt=False,
    )
    return w, config


def adam(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Adam with bias correction; ``config['t']`` is incremented before it is used.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-8),
    ``m``, ``v`` (zeros like w), ``t`` (0).  Returns (next_w, config): next_w is w itself.
    """
    config = with_defaults("adam", config)
    m = _state(config, "m", w)
    v = _state(config, "v", w)
    t = config["t"] + 1
    ops().adam_update(
        w, dw, m, v, config["learning_rate"], t, config["beta1"], config["beta2"], config["epsilon"]
    )
    config["t"] = t
    return w, config
