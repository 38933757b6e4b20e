"""The course's update rules (``cs231n/optim.py``) on fastnn's fused update kernels.

The implementation behind the public namespace ``fastnn.optim``, which documents it.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastnn._config.backend import ops
from fastnn._validation import check_int, check_param, check_scalar
from fastnn.reference.optim_rules import with_defaults

__all__ = ["UPDATE_RULES", "sgd", "sgd_momentum", "rmsprop", "adam", "update_all"]

# The rules by name, as the course's Solver looks them up (``update_rule='adam'``).
UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


# Errors name the course's arguments (w, dw, config['learning_rate']...), not the kernels'
# (p, g, lr...).  The kernels check every array and scalar on each call; a call they refuse
# is checked again here (_explain) only to name what was wrong.  The one thing checked here on
# every call is what the kernels do not know: the course's bounds on learning_rate and
# momentum (_BOUNDS).


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
        check_param(w, "w")  # w's shape and dtype are needed
        try:
            state = np.array(np.broadcast_to(state, w.shape), dtype=w.dtype)
        except (TypeError, ValueError):
            shape = np.shape(state) if not isinstance(state, (str, bytes)) else "(a string)"
            raise ValueError(
                f"config[{key!r}] must be an array of w's shape {w.shape}, got shape {shape}"
            ) from None
        config[key] = state
    return state


# The course's bounds on each config value, as check_scalar's keywords: momentum and
# decay_rate are averaging weights in [0, 1]; Adam's bias correction divides by 1 - beta**t,
# so its betas stay below 1.  The kernels check all but learning_rate's and momentum's.
_BOUNDS = {
    "learning_rate": {"minimum": 0},
    "momentum": {"minimum": 0, "maximum": 1},
    "decay_rate": {"minimum": 0, "maximum": 1},
    "epsilon": {"minimum": 0},
    "beta1": {"minimum": 0, "below": 1},
    "beta2": {"minimum": 0, "below": 1},
}


def _bounded(config, key):
    """config[key] when it is within the course's bounds; else check_scalar's error, in the
    course's name (the comparison is the per-call cost; the kernel checks type and finiteness)."""
    value = config[key]
    bounds = _BOUNDS[key]
    try:
        if value >= bounds["minimum"] and value <= bounds.get("maximum", value):
            return value
    except (TypeError, ValueError):  # text, None, an array
        pass
    return check_scalar(value, f"config[{key!r}]", **bounds)


def _sgd_plan(w, config):
    config = with_defaults("sgd", config)
    return config, (), (_bounded(config, "learning_rate"),), {}


def _sgd_momentum_plan(w, config):
    config = with_defaults("sgd_momentum", config)
    scalars = (_bounded(config, "learning_rate"), _bounded(config, "momentum"))
    return config, (_state(config, "velocity", w),), scalars, {}


def _rmsprop_plan(w, config):
    config = with_defaults("rmsprop", config)
    scalars = (_bounded(config, "learning_rate"), config["decay_rate"], config["epsilon"])
    return config, (_state(config, "cache", w),), scalars, {"eps_in_sqrt": False}


def _adam_plan(w, config):
    """t is incremented before it is used; the caller stores it after the step."""
    config = with_defaults("adam", config)
    t = config["t"]
    t = t + 1 if type(t) is int else check_int(t, "config['t']", minimum=0) + 1
    scalars = (
        _bounded(config, "learning_rate"),
        t,
        config["beta1"],
        config["beta2"],
        config["epsilon"],
    )
    states = (_state(config, "m", w), _state(config, "v", w))
    return config, states, scalars, {}


# Each rule's config keys for its scalars (adam's t is checked with check_int).
_SCALAR_KEYS = {
    "sgd": ("learning_rate",),
    "sgd_momentum": ("learning_rate", "momentum"),
    "rmsprop": ("learning_rate", "decay_rate", "epsilon"),
    "adam": ("learning_rate", "beta1", "beta2", "epsilon"),
}


def _explain(rule_name, config, w, dw, config_name="config", w_name="w", dw_name="dw"):
    """Raise the error of a call the kernel refused, in the course's names; nothing if the
    course's checks find none (the caller then re-raises the kernel's own error)."""
    for key in _SCALAR_KEYS[rule_name]:
        check_scalar(config[key], f"{config_name}[{key!r}]", **_BOUNDS[key])
    if rule_name == "adam":
        check_int(config["t"], f"{config_name}['t']", minimum=0)
    _check_arrays(w, dw, w_name, dw_name)


def _check_arrays(w, dw, w_name="w", dw_name="dw"):
    """Raise the error of a bad (w, dw) pair in the course's names; nothing if it is good."""
    check_param(w, w_name)
    dw = np.asarray(dw)
    if dw.shape != w.shape:
        raise ValueError(f"{dw_name} has shape {dw.shape} but {w_name} has shape {w.shape}")
    if dw.dtype != w.dtype:
        raise TypeError(f"{dw_name} has dtype {dw.dtype} but {w_name} has dtype {w.dtype}")


def _after_step(rule_name, config, scalars):
    if rule_name == "adam":
        config["t"] = scalars[1]


def _step(rule_name, w, dw, config):
    """One parameter's step of the named rule; returns its config."""
    kernel, plan = _RULES[rule_name]
    config, states, scalars, options = plan(w, config)
    try:
        getattr(ops(), f"{kernel}_update")(w, dw, *states, *scalars, **options)
    except (TypeError, ValueError):
        _explain(rule_name, config, w, dw)
        raise
    _after_step(rule_name, config, scalars)
    return config


def sgd(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Vanilla SGD: ``w -= learning_rate * dw``.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: dict with ``learning_rate`` (default 1e-2); None for a new one.
    Returns (next_w, config): next_w is w itself.
    """
    return w, _step("sgd", w, dw, config)


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w += v``.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: ``learning_rate`` (1e-2), ``momentum`` (0.9), ``velocity`` (zeros like w).
    Returns (next_w, config): next_w is w itself, ``config['velocity']`` updated in place.
    """
    return w, _step("sgd_momentum", w, dw, config)


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
    return w, _step("rmsprop", w, dw, config)


def adam(
    w: np.ndarray, dw: np.ndarray, config: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Adam with bias correction; ``config['t']`` is incremented before it is used.

    w: float32/float64 ndarray, updated in place; dw: its gradient (same shape and dtype).
    config: ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon`` (1e-8),
    ``m``, ``v`` (zeros like w), ``t`` (0).  Returns (next_w, config): next_w is w itself.
    """
    return w, _step("adam", w, dw, config)


# Each rule's update kernel (``<kernel>_update``) and the function giving, from (w, config),
# the config with its defaults, the state arrays, the kernel's scalars and its options.
_RULES = {
    "sgd": ("sgd", _sgd_plan),
    "sgd_momentum": ("momentum", _sgd_momentum_plan),
    "rmsprop": ("rmsprop", _rmsprop_plan),
    "adam": ("adam", _adam_plan),
}
_RULE_FUNCTIONS = (
    (sgd, "sgd"),
    (sgd_momentum, "sgd_momentum"),
    (rmsprop, "rmsprop"),
    (adam, "adam"),
)


def update_all(
    rule: Any,
    params: dict[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    configs: dict[str, Any],
) -> bool:
    """``params[k], configs[k] = rule(params[k], grads[k], configs[k])`` for every k of params,
    with one kernel call for the parameters whose configs give the same scalars (usually all).

    rule: one of this module's rules (the function or its name); anything else returns False
    without doing anything, so that the caller loops over its own rule.  grads must have
    every key of params (KeyError naming the first missing one).  The values are those of
    the loop.  Within one kernel call every parameter's arrays are checked before any is
    updated; configs whose scalars differ (a call each) are updated group by group.
    Returns True.
    """
    rule_name: str | None
    if isinstance(rule, str):
        rule_name = rule
    else:  # by identity: a caller's rule need not be hashable
        rule_name = next((name for function, name in _RULE_FUNCTIONS if function is rule), None)
    if rule_name not in _RULES:
        return False
    kernel, plan = _RULES[rule_name]
    batches: dict[tuple, list] = {}  # scalars and options -> [(w, dw, states, config, name)]
    for name, w in params.items():
        try:
            dw = grads[name]
        except KeyError:
            raise KeyError(name) from None
        config, states, scalars, options = plan(w, configs[name])
        key = (scalars, tuple(options.items()))
        batches.setdefault(key, []).append((w, dw, states, config, name))
    for (scalars, options), batch in batches.items():
        try:
            ops().update_many(
                kernel,
                [entry[0] for entry in batch],
                [entry[1] for entry in batch],
                [entry[2] for entry in batch],
                *scalars,
                **dict(options),
            )
        except (TypeError, ValueError):
            for w, dw, _, config, name in batch:
                _explain(
                    rule_name,
                    config,
                    w,
                    dw,
                    f"configs[{name!r}]",
                    f"params[{name!r}]",
                    f"grads[{name!r}]",
                )
            raise
        for _, _, _, config, name in batch:
            _after_step(rule_name, config, scalars)
            configs[name] = config
    return True
