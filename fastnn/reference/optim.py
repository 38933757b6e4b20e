"""NumPy reference minibatch gather and parameter updates (twins of fastnn.core.optim).

The updates are the trainer's formulas written with NumPy's in-place operations, in the
order the compiled kernels follow (so both give the same bits).  They modify ``p`` and the
optimizer state in place and return None.  The argument checks
(fastnn.checks.optim) are shared with the compiled wrappers, so both paths raise the same
errors.
"""

from collections.abc import Callable, Sequence

import numpy as np

from fastnn.checks.optim import (
    adam_args,
    check_take,
    momentum_args,
    rmsprop_args,
    sgd_args,
    update_many_args,
)

__all__ = [
    "take_rows",
    "sgd_update",
    "momentum_update",
    "nesterov_update",
    "rmsprop_update",
    "adam_update",
    "update_many",
]


def take_rows(
    x: np.ndarray, idx: np.ndarray, out: np.ndarray | None = None, *, stream: bool = False
) -> np.ndarray:
    """Rows ``x[idx]``: the minibatch gather.

    x: (N, ...) array of any dtype; idx: (M,) integers of any integer dtype, each in
    [-N, N) (negative indices count from the end, as in NumPy; others raise IndexError).
    stream: the compiled gather's store mode (see fastnn.core.take_rows); the values are the
    same, and this twin ignores it.  Returns an (M, ...) array of x's dtype (``out`` if given).
    """
    x, idx = check_take(x, idx, out)
    return np.take(x, idx, axis=0, out=out, mode="wrap")  # "wrap": indices already checked


def _sgd(p, g, lr):
    p -= np.multiply(g, lr)


def sgd_update(p: np.ndarray, g: np.ndarray, lr: float) -> None:
    """In place: ``p -= lr * g``.

    p: float32/float64 ndarray (writeable); g: gradient of p's shape and dtype; lr: finite.
    Returns None.
    """
    g, lr = sgd_args(p, g, lr)
    _sgd(p, g, lr)


def _momentum(p, g, v, lr, mu):
    v *= mu
    v -= np.multiply(g, lr)
    p += v


def momentum_update(p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float) -> None:
    """In place: ``v = mu * v - lr * g; p += v``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = momentum_args(p, g, v, lr, mu)
    _momentum(p, g, v, lr, mu)


def _nesterov(p, g, v, lr, mu):
    # v_new = mu * v - lr * g;  p += -mu * v + (1 + mu) * v_new = mu**2 * v - (1 + mu) * lr * g
    tmp = np.multiply(v, mu * mu, out=np.empty_like(p))  # out=: stays an array for 0-d p
    p += tmp
    np.multiply(g, (1.0 + mu) * lr, out=tmp)
    p -= tmp
    v *= mu
    np.multiply(g, lr, out=tmp)
    v -= tmp


def nesterov_update(p: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, mu: float) -> None:
    """In place, Nesterov momentum: ``p += mu**2 * v - (1 + mu) * lr * g; v = mu * v - lr * g``.

    p, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, mu = momentum_args(p, g, v, lr, mu)
    _nesterov(p, g, v, lr, mu)


def _rmsprop(p, g, cache, lr, decay, eps_in, eps_out):
    cache *= decay
    tmp = np.multiply(g, g, out=np.empty_like(p))
    tmp *= 1.0 - decay
    cache += tmp
    np.add(cache, eps_in, out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp += eps_out  # one of eps_in, eps_out is 0 (the kernel's order)
    np.divide(g, tmp, out=tmp)
    tmp *= lr
    p -= tmp


def rmsprop_update(
    p: np.ndarray,
    g: np.ndarray,
    cache: np.ndarray,
    lr: float,
    decay: float = 0.99,
    eps: float = 1e-8,
    *,
    eps_in_sqrt: bool = True,
) -> None:
    """In place: ``cache = decay * cache + (1 - decay) * g**2; p -= lr * g / sqrt(cache + eps)``.

    p, cache: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    eps_in_sqrt: False divides by ``sqrt(cache) + eps`` instead (the course's optim.py).
    Returns None.
    """
    g, lr, decay, eps = rmsprop_args(p, g, cache, lr, decay, eps)
    eps_in, eps_out = (eps, 0.0) if eps_in_sqrt else (0.0, eps)
    _rmsprop(p, g, cache, lr, decay, eps_in, eps_out)


def _adam(p, g, m, v, lr, t, beta1, beta2, eps):
    m *= beta1
    tmp = np.multiply(g, 1.0 - beta1, out=np.empty_like(p))
    m += tmp
    v *= beta2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta2
    v += tmp
    # p -= lr * mhat / (sqrt(vhat) + eps), mhat = m / (1 - beta1**t), vhat = v / (1 - beta2**t)
    np.divide(v, 1.0 - beta2**t, out=tmp)
    np.sqrt(tmp, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1.0 - beta1**t)
    p -= tmp


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    t: int,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    """In place, Adam step ``t`` (1 for the first step) with bias correction.

    ``m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g**2;
    p -= lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)``.
    p, m, v: float32/float64 ndarrays of one shape and dtype (writeable); g: gradient like p.
    Returns None.
    """
    g, lr, t, beta1, beta2, eps = adam_args(p, g, m, v, lr, t, beta1, beta2, eps)
    _adam(p, g, m, v, lr, t, beta1, beta2, eps)


def _rmsprop_checked(p, g, cache, lr, decay, eps, eps_in_sqrt):
    eps_in, eps_out = (eps, 0.0) if eps_in_sqrt else (0.0, eps)
    _rmsprop(p, g, cache, lr, decay, eps_in, eps_out)


# Each rule's body on checked arguments, by the rule's name.
_RULE_BODIES: dict[str, Callable[..., None]] = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "rmsprop": _rmsprop_checked,
    "adam": _adam,
}


def update_many(
    rule: str,
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    states: Sequence[Sequence[np.ndarray]],
    *scalars: float,
    eps_in_sqrt: bool = True,
) -> None:
    """In place, ``<rule>_update(p, g, *state, *scalars)`` for every parameter (they must not
    share memory with each other).

    rule: 'sgd', 'momentum', 'nesterov', 'rmsprop' or 'adam'.  params, grads: lists of
    float32/float64 arrays, grads[i] of params[i]'s shape and dtype; states: one tuple per
    parameter of the rule's state arrays (``()``; ``(v,)``; ``(v,)``; ``(cache,)``; ``(m, v)``).
    scalars: the rule's scalars after its arrays, shared by every parameter (adam:
    ``lr, t, beta1=0.9, beta2=0.999, eps=1e-8``).  eps_in_sqrt: rmsprop's option.
    Every argument is checked before any parameter changes.  Returns None.
    """
    groups, checked = update_many_args(rule, params, grads, states, scalars, eps_in_sqrt)
    body = _RULE_BODIES[rule]
    for group in groups:
        body(*group, *checked)
