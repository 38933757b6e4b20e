"""Numerical gradient checks with CS231n's semantics (``cs231n/gradient_check.py``).

The implementation behind the public namespace ``fastnn.gradcheck``, which documents it.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastnn.nn.init import as_generator

__all__ = [
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "eval_numerical_gradient_blobs",
    "eval_numerical_gradient_net",
    "grad_check_sparse",
    "rel_error",
]


def _check_x(x):
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError("x must be a float ndarray (it is perturbed in place)")
    if not x.flags.writeable:
        raise ValueError("x is read-only; it must be perturbed in place")


def _central(f, x, ix, h):
    """(f(x + h e_ix), f(x - h e_ix)), restoring x[ix] afterwards."""
    old = x[ix]
    try:
        x[ix] = old + h
        plus = f(x)
        plus = plus.copy() if isinstance(plus, np.ndarray) else plus
        x[ix] = old - h
        minus = f(x)
        minus = minus.copy() if isinstance(minus, np.ndarray) else minus
    finally:
        x[ix] = old
    return plus, minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    verbose: bool = True,
    h: float = 1e-5,
) -> np.ndarray:
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    f: callable taking x and returning a scalar.  x: float ndarray (perturbed in place and
    restored).  verbose: print each index and its partial derivative.
    Returns an array like x.
    """
    _check_x(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        plus, minus = _central(f, x, ix, h)
        grad[ix] = (plus - minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    df: np.ndarray,
    h: float = 1e-5,
) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * df)`` at ``x`` for an array-valued ``f``.

    df: upstream gradient, shaped like f(x).  Returns an array like x.
    """
    _check_x(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        plus, minus = _central(f, x, ix, h)
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_blobs(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    output: Any,
    h: float = 1e-5,
) -> list[np.ndarray]:
    """Numerical gradients for a function of "blobs" (objects with ``.vals`` and ``.diffs``).

    ``f(*inputs, output)`` reads each input blob's ``vals`` and writes ``output.vals``;
    ``output.diffs`` is the upstream gradient.  Returns, per input blob, the gradient of
    ``sum(output.vals * output.diffs)`` with respect to its ``vals`` (an array like them).
    """
    inputs = tuple(inputs)

    def output_values(_):
        f(*inputs, output)
        return output.vals

    return [
        eval_numerical_gradient_array(output_values, blob.vals, output.diffs, h) for blob in inputs
    ]


def eval_numerical_gradient_net(
    net: Any,
    inputs: Sequence[Any],
    output: Any,
    h: float = 1e-5,
) -> list[np.ndarray]:
    """:func:`eval_numerical_gradient_blobs` for a net whose ``forward()`` reads the input blobs
    and writes the output blob."""
    return eval_numerical_gradient_blobs(lambda *args: net.forward(), inputs, output, h=h)


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    rng: np.random.Generator | np.random.RandomState | np.random.SeedSequence | int | None = None,
    verbose: bool = True,
) -> list[float]:
    """Compare ``analytic_grad`` with central differences of scalar ``f`` at ``num_checks``
    random elements of x, printing ``numerical: %f analytic: %f, relative error: %e``.

    rng: int or Generator choosing the elements (NumPy's global state is not used).
    Returns the list of relative errors (0 where both gradients are exactly 0).
    """
    _check_x(x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape}, expected {x.shape}")
    if x.size == 0:
        raise ValueError("x is empty: there is nothing to check")
    gen = as_generator(rng)
    errors = []
    for _ in range(int(num_checks)):
        ix = tuple(int(gen.integers(m)) for m in x.shape)
        plus, minus = _central(f, x, ix, h)
        numerical = float((plus - minus) / (2 * h))
        analytic = float(analytic_grad[ix])
        denom = abs(numerical) + abs(analytic)
        err = abs(numerical - analytic) / denom if denom else 0.0
        errors.append(err)
        if verbose:
            # the course's own format string, kept verbatim
            print("numerical: %f analytic: %f, relative error: %e" % (numerical, analytic, err))  # noqa: UP031
    return errors


def rel_error(x: ArrayLike, y: ArrayLike) -> float:
    """Maximum relative error ``max(|x - y| / max(1e-8, |x| + |y|))``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
