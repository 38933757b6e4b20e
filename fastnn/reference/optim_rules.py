"""NumPy twins of ``fastnn.optim``: the course's ``optim.py`` update rules, as textbook code.

``next_w, config = rule(w, dw, config=None)``.  Each rule fills the keys missing from
``config`` with the course's defaults (:data:`RULE_DEFAULTS`), updates the caller's dict as the
course does and returns a new ``next_w``.  They are the oracle of the compiled rules, which
give the same values but update ``w`` and the state arrays in place.
"""

from typing import Any

import numpy as np

__all__ = ["RULE_DEFAULTS", "with_defaults", "sgd", "sgd_momentum", "rmsprop", "adam"]

# The course's defaults per rule; the state arrays (velocity, cache, m, v) start at zero.
RULE_DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}


def with_defaults(rule: str, config: dict[str, Any] | None) -> dict[str, Any]:
    """``config`` (a new dict when None) with the missing keys of ``rule``'s defaults set.

    The caller's dict is updated in place, as the course's ``config.setdefault`` does.
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
    for key, value in RULE_DEFAULTS[rule].items():
        config.setdefault(key, value)
    return config


def _state(config, key, w):
    state = config.get(key)
    return np.zeros_like(w) if state is None else state


def sgd(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Vanilla SGD: ``next_w = w - learning_rate * dw``.

    w: parameter array; dw: its gradient, same shape.  config: ``learning_rate``.
    Returns (next_w, config).
    """
    config = with_defaults("sgd", config)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; next_w = w + v``.

    config: ``learning_rate``, ``momentum``, ``velocity`` (w's shape; zeros if absent).
    Returns (next_w, config).
    """
    config = with_defaults("sgd_momentum", config)
    v = config["momentum"] * _state(config, "velocity", w) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """RMSProp: ``cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)`` (the course's form).

    config: ``learning_rate``, ``decay_rate``, ``epsilon``, ``cache`` (zeros if absent).
    Returns (next_w, config).
    """
    config = with_defaults("rmsprop", config)
    decay = config["decay_rate"]
    cache = decay * _state(config, "cache", w) + (1 - decay) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Adam with bias correction; ``t`` is incremented before it is used (the 2017+ course).

    ``m = beta1 * m + (1 - beta1) * dw; v = beta2 * v + (1 - beta2) * dw**2;
    next_w = w - learning_rate * mt / (sqrt(vt) + epsilon)`` with ``mt = m / (1 - beta1**t)``,
    ``vt = v / (1 - beta2**t)``.
    config: ``learning_rate``, ``beta1``, ``beta2``, ``epsilon``, ``m``, ``v`` (zeros if
    absent), ``t`` (0 if absent).  Returns (next_w, config).
    """
    config = with_defaults("adam", config)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m = beta1 * _state(config, "m", w) + (1 - beta1) * dw
    v = beta2 * _state(config, "v", w) + (1 - beta2) * dw**2
    config["m"], config["v"] = m, v
    mt = m / (1 - beta1**t)
    vt = v / (1 - beta2**t)
    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"]), config
