"""The notes' "babysitting the learning process" checklist (section 6), automated.

The implementation behind the public namespace ``fastnn.babysit``, which documents it.
"""

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from fastnn._validation import check_scalar
from fastnn.nn.metrics import accuracy
from fastnn.nn.models import is_object_model
from fastnn.nn.trainer import ClassifierTrainer

__all__ = [
    "CheckResult",
    "LearningRateSweep",
    "BabysitReport",
    "check_initial_loss",
    "check_regularization",
    "overfit_small",
    "find_learning_rate",
    "diagnose",
    "babysit",
]


@dataclass
class CheckResult:
    """Outcome of one check: ``passed`` (the verdict), a one-line ``explanation`` and numbers.

    ``bool(result)`` is ``result.passed``; ``str(result)`` is the line the check prints.
    """

    name: str
    passed: bool
    explanation: str
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        """'PASS' or 'FAIL'."""
        return "PASS" if self.passed else "FAIL"

    def __bool__(self):
        return bool(self.passed)

    def __str__(self):
        return f"{self.verdict} {self.name}: {self.explanation}"


@dataclass
class LearningRateSweep(CheckResult):
    """Result of :func:`find_learning_rate`.

    verdicts : list of (learning_rate, 'too low' | 'too high' | 'good', reason)
    learning_rate_range : (low, high) of the good rates, or None when none was good
    """

    verdicts: list[tuple[float, str, str]] = field(default_factory=list)
    learning_rate_range: tuple[float, float] | None = None


@dataclass
class BabysitReport:
    """Result of :func:`babysit`: every check run, in order, and where it stopped."""

    results: list[CheckResult]
    learning_rate_range: tuple[float, float] | None = None
    best_model: Any = field(default=None, repr=False)
    stats: dict | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> CheckResult | None:
        """The first failed check, or None."""
        return next((r for r in self.results if not r.passed), None)

    def __bool__(self):
        return self.passed

    def __str__(self):
        return "\n".join(str(r) for r in self.results)


def _report(result, verbose):
    if verbose:
        print(result)
    return result


# -- model plumbing -------------------------------------------------------------------------


def _params(model, loss_function):
    return model.params if is_object_model(model, loss_function) else model


def _loss(model, loss_function, X, y, reg):
    """(loss, grads) at regularization ``reg``.  An object model's training loss runs on a
    copy: it may update state (batchnorm running statistics) besides taking ``reg``."""
    if not is_object_model(model, loss_function):
        return loss_function(X, model, y, reg)
    if not hasattr(model, "reg"):
        raise TypeError(f"{type(model).__name__} has no .reg attribute to vary")
    work = copy.deepcopy(model)
    work.reg = reg
    return work.loss(X, y)


def _scores(model, loss_function, X):
    if is_object_model(model, loss_function):
        return copy.deepcopy(model).loss(X)  # even test mode sets batchnorm state
    return loss_function(X, model)


def _accuracy(model, loss_function, X, y):
    return accuracy(_scores(model, loss_function, X), y)


def _copy_with_reg(model, loss_function, reg):
    """A deep copy to train, plus the ``reg`` argument for the trainer."""
    model = copy.deepcopy(model)
    if is_object_model(model, loss_function):
        model.reg = reg
        return model, 0.0
    return model, reg


def _train(model, loss_function, X, y, X_val, y_val, reg, trainer, **kwargs):
    if trainer is None:
        trainer = ClassifierTrainer()
    work, reg_arg = _copy_with_reg(model, loss_function, reg)
    args = (X, y, X_val, y_val, work) + ((loss_function,) if loss_function is not None else ())
    best_model, stats = trainer.train(*args, reg=reg_arg, **kwargs)
    return work, best_model, stats


def _as_labels(y):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-d (N,), got shape {y.shape}")
    return y


# -- the checks -----------------------------------------------------------------------------


def check_initial_loss(
    model: Any,
    loss_function: Callable[..., Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    *,
    num_classes: int | None = None,
    tol: float | None = None,
    verbose: bool = True,
) -> CheckResult:
    """The loss with reg=0 at initialization should be about ln(num_classes).

    Parameters
    ----------
    model, loss_function : see the module docstring (``loss_function=None`` for an object).
    X : (N, D) data, y : (N,) integer labels.
    num_classes : int, optional
        Read from the scores' width when omitted.
    tol : float, optional
        Allowed ``|loss - ln(num_classes)|``; default ``0.25 * ln(num_classes)``.

    Returns
    -------
    CheckResult
        Fails when the loss is far from ln(C), not finite, or the scores are the same for
        every example (the model ignores its input); details hold ``loss`` and ``expected``.
    """
    name = "initial loss"
    y = _as_labels(y)
    scores = np.asarray(_scores(model, loss_function, X))
    C = int(num_classes) if num_classes is not None else scores.shape[1]
    if C < 2:
        raise ValueError(f"need at least 2 classes, got {C}")
    expected = math.log(C)
    tol = 0.25 * expected if tol is None else float(tol)
    loss, grads = _loss(model, loss_function, X, y, 0.0)
    loss = float(loss)
    details = {"loss": loss, "expected": expected, "tol": tol, "num_classes": C}
    X2 = np.asarray(X).reshape(len(X), -1)
    inputs_vary = len(X2) > 1 and np.ptp(X2, axis=0).max() > 0
    if not math.isfinite(loss):
        passed, why = False, f"loss is {loss} at initialization: the loss function is broken"
    elif inputs_vary and np.ptp(scores, axis=0).max() == 0:
        passed, why = (
            False,
            ("the scores are identical for every example: the model ignores its input data"),
        )
    elif abs(loss - expected) > tol:
        direction = "above" if loss > expected else "below"
        passed, why = (
            False,
            (
                f"loss {loss:f} is {direction} ln({C}) = {expected:f} by more than {tol:g}: the "
                "initialization or the loss is wrong"
                + (" (weights too large?)" if loss > expected else "")
            ),
        )
    else:
        bad = [k for k, g in grads.items() if not np.all(np.isfinite(g))]
        if bad:
            passed, why = False, f"gradients of {', '.join(bad)} are not finite"
        else:
            passed, why = (
                True,
                (
                    f"loss {loss:f} ~ ln({C}) = {expected:f} with reg=0, "
                    "as expected for a freshly initialized classifier"
                ),
            )
    return _report(CheckResult(name, passed, why, details), verbose)


def check_regularization(
    model: Any,
    loss_function: Callable[..., Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    *,
    reg: float = 1e3,
    verbose: bool = True,
) -> CheckResult:
    """Raising the regularization (1e3 in the notes) must raise the loss and change the gradient.

    Returns
    -------
    CheckResult
        Details hold ``loss`` (reg=0), ``loss_reg`` and ``reg``.
    """
    name = "regularization"
    y = _as_labels(y)
    reg = float(reg)
    if not reg > 0:
        raise ValueError(f"reg must be > 0 to test the regularization, got {reg}")
    loss0, grads0 = _loss(model, loss_function, X, y, 0.0)
    loss1, grads1 = _loss(model, loss_function, X, y, reg)
    loss0, loss1 = float(loss0), float(loss1)
    details = {"loss": loss0, "loss_reg": loss1, "reg": reg}
    # The penalty of tiny weights can be small, but it is far above rounding of the loss.
    margin = 1e-7 * max(1.0, abs(loss0))
    if not (math.isfinite(loss0) and math.isfinite(loss1)):
        passed, why = False, f"loss is not finite (reg=0: {loss0}, reg={reg:g}: {loss1})"
    elif loss1 <= loss0 + margin:
        passed, why = (
            False,
            (
                f"loss did not go up when reg went from 0 to {reg:g} "
                f"({loss0:f} -> {loss1:f}): the regularization is not applied"
            ),
        )
    elif all(np.array_equal(grads0[k], grads1[k]) for k in grads0):
        passed, why = (
            False,
            (
                f"loss went up ({loss0:f} -> {loss1:f}) but no gradient changed: "
                "the regularization is missing from the backward pass"
            ),
        )
    else:
        passed, why = True, f"loss went up from {loss0:f} to {loss1:f} with reg={reg:g}, good"
    return _report(CheckResult(name, passed, why, details), verbose)


def overfit_small(
    model: Any,
    loss_function: Callable[..., Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    n: int = 20,
    *,
    num_epochs: int = 200,
    learning_rate: float = 1e-3,
    max_learning_rate: float | None = 1.0,
    ladder_factor: float = 10.0,
    update: str = "sgd",
    target_accuracy: float = 1.0,
    trainer: ClassifierTrainer | None = None,
    verbose: bool = True,
    **train_kwargs: Any,
) -> CheckResult:
    """Train on the first ``n`` examples without regularization until train accuracy 1.0.

    The notes' run: ``sample_batches=False`` (full-batch steps), ``learning_rate_decay=1``,
    ``update='sgd'``, 200 epochs, lr 1e-3.  The notes' 1e-3 suits 0..255 pixels; when a run
    neither overfits nor diverges and its loss does not even halve, the check climbs a ladder
    of larger rates, ``learning_rate`` times ``ladder_factor`` per rung up to ``max_learning_rate``
    (None: no ladder), and reports the first rate that overfits.  Extra keyword arguments go
    to ``ClassifierTrainer.train`` (``seed=``, ``momentum=``...).

    Returns
    -------
    CheckResult
        Details hold ``accuracy`` (best train accuracy on the subset), ``final_loss``,
        ``stats``, ``best_model``, ``learning_rate`` (the last rate tried: the one that
        overfit when the check passed) and ``tried`` (every rate tried, in order).
    """
    name = f"overfit {n} examples"
    y = _as_labels(y)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    learning_rate = check_scalar(learning_rate, "learning_rate", minimum=0)
    ladder_factor = check_scalar(ladder_factor, "ladder_factor")
    if not ladder_factor > 1:
        raise ValueError(f"ladder_factor must be > 1, got {ladder_factor}")
    # no ladder when the cap is None or not above the first rate
    top = (
        learning_rate
        if max_learning_rate is None
        else check_scalar(max_learning_rate, "max_learning_rate", minimum=0)
    )
    X_tiny, y_tiny = X[:n], y[:n]
    train_kwargs.setdefault("learning_rate_decay", 1.0)
    tried: list[float] = []
    lr = learning_rate
    while True:
        tried.append(lr)
        _, best_model, stats = _train(
            model,
            loss_function,
            X_tiny,
            y_tiny,
            X_tiny,
            y_tiny,
            0.0,
            trainer,
            num_epochs=num_epochs,
            update=update,
            sample_batches=False,
            learning_rate=lr,
            **train_kwargs,
        )
        losses = stats["loss_history"]
        acc = _accuracy(best_model, loss_function, X_tiny, y_tiny)
        final = losses[-1] if losses else float("nan")
        diverged = bool(stats.get("diverged")) or not math.isfinite(final)
        too_slow = not diverged and acc < target_accuracy and final > 0.5 * losses[0]
        barely_moved = too_slow and final > 0.9 * losses[0]
        # a rate above the cap by rounding (1e-3 * 10**3) still counts as the cap
        if not too_slow or lr * ladder_factor > top * (1 + 1e-9):
            break
        lr *= ladder_factor
    lower = tried[:-1]
    climbed = f" ({_fmt_rates(lower)} did not halve the loss)" if lower else ""
    details = {
        "accuracy": acc,
        "final_loss": final,
        "stats": stats,
        "best_model": best_model,
        "learning_rate": lr,
        "tried": tried,
    }
    if diverged:
        passed, why = (
            False,
            (
                f"cost became {final} while fitting {len(y_tiny)} examples: "
                f"learning rate {lr:g} is too high{climbed}"
            ),
        )
    elif acc >= target_accuracy:
        passed, why = (
            True,
            (
                f"train accuracy {acc:f} on {len(y_tiny)} examples at learning rate {lr:g}, "
                f"loss {losses[0]:f} -> {final:f}: the model can learn, good{climbed}"
            ),
        )
    else:
        hint = (
            "the loss barely moved: the learning rate may be too low"
            if barely_moved
            else "the loss or its gradient may be wrong (or train longer)"
        )
        passed, why = (
            False,
            (
                f"could not overfit {len(y_tiny)} examples: train accuracy "
                f"{acc:f} after {num_epochs} epochs at learning rate {lr:g}, loss "
                f"{losses[0]:f} -> {final:f}; {hint}{climbed}"
            ),
        )
    return _report(CheckResult(name, passed, why, details), verbose)


SWEEP_RATES = tuple(10.0 ** np.arange(-7, 2.25, 0.5))


def _fmt_rate(rate):
    """1e-01 for a power of ten, 3.2e-01 between them."""
    short = f"{rate:.0e}"
    return short if math.isclose(float(short), rate, rel_tol=1e-9) else f"{rate:.1e}"


def _fmt_rates(rates):
    return ", ".join(_fmt_rate(r) for r in rates)


def find_learning_rate(
    model: Any,
    loss_function: Callable[..., Any] | None,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    learning_rates: Sequence[float] | None = None,
    *,
    num_epochs: int = 3,
    reg: float = 1e-6,
    batch_size: int = 100,
    update: str = "sgd",
    min_decrease: float = 0.01,
    explode_factor: float = 3.0,
    eval_rows: int = 1000,
    trainer: ClassifierTrainer | None = None,
    verbose: bool = True,
    **train_kwargs: Any,
) -> LearningRateSweep:
    """Short runs over log-spaced learning rates, each classified as too low, too high or good.

    Every rate trains a fresh copy of the model for ``num_epochs`` of minibatch SGD (small
    ``reg``, the notes' 1e-6).  ``L0`` and ``L1`` are the data losses (reg=0) of the initial
    and the trained model on the same first ``eval_rows`` training rows (so minibatch noise
    does not blur the comparison).  A rate is

    - "too high" when the cost becomes NaN/inf or exceeds ``explode_factor`` x the first cost
      (the trainer aborts the run there), or when ``L1 > L0 * (1 + min_decrease)``;
    - "too low" when ``L1 > L0 * (1 - min_decrease)`` (the loss is not going down);
    - "good" otherwise.

    Parameters
    ----------
    learning_rates : sequence of float, optional
        Default :data:`SWEEP_RATES`, half-decades 1e-7, 3.2e-7, ..., 1e2 (a good range of
        one decade's width, not a single point).
    X_val, y_val : validation data for the trainer; default X, y.
    Extra keyword arguments go to ``ClassifierTrainer.train`` (``seed=``...).

    Returns
    -------
    LearningRateSweep
        Passes when some rate is good; ``learning_rate_range`` is (smallest, largest) good
        rate, the range worth cross-validating.
    """
    name = "learning rate sweep"
    y = _as_labels(y)
    if X_val is None:
        X_val, y_val = X, y
    rates = SWEEP_RATES if learning_rates is None else learning_rates
    rates = sorted(float(r) for r in np.atleast_1d(rates))
    if not rates or any(not (math.isfinite(r) and r > 0) for r in rates):
        raise ValueError(f"learning_rates must be finite positive numbers, got {learning_rates!r}")
    train_kwargs.setdefault("learning_rate_decay", 1.0)
    X_eval, y_eval = X[:eval_rows], y[:eval_rows]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        start = float(_loss(model, loss_function, X_eval, y_eval, 0.0)[0])
    if not math.isfinite(start):
        raise ValueError(f"the initial loss is {start}: run check_initial_loss first")
    verdicts, curves = [], {}
    for lr in rates:
        work, _, stats = _train(
            model,
            loss_function,
            X,
            y,
            X_val,
            y_val,
            reg,
            trainer,
            num_epochs=num_epochs,
            batch_size=batch_size,
            update=update,
            learning_rate=lr,
            sample_batches=True,
            abort_cost_ratio=explode_factor,
            **train_kwargs,
        )
        curves[lr] = np.asarray(stats["loss_history"], dtype=np.float64)
        last = curves[lr][-1]
        if stats.get("diverged") or not math.isfinite(last):
            verdict = (
                "too high",
                f"explodes / NaN (cost {last:g})"
                if not math.isfinite(last)
                else f"explodes (cost {last:f} > {explode_factor:g} x the first cost)",
            )
        else:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                end = float(_loss(work, loss_function, X_eval, y_eval, 0.0)[0])
            if not math.isfinite(end) or end > start * (1 + min_decrease):
                verdict = ("too high", f"loss going up ({start:f} -> {end:f})")
            elif end > start * (1 - min_decrease):
                verdict = ("too low", f"loss not going down ({start:f} -> {end:f})")
            else:
                verdict = ("good", f"loss going down ({start:f} -> {end:f})")
        verdicts.append((lr,) + verdict)

    good = [lr for lr, v, _ in verdicts if v == "good"]
    low = [lr for lr, v, _ in verdicts if v == "too low"]
    high = [lr for lr, v, _ in verdicts if v == "too high"]
    summary = "; ".join(
        f"{label}: {_fmt_rates(group)}"
        for label, group in (("too low", low), ("too high", high))
        if group
    )
    if good:
        lr_range = (min(good), max(good))
        why = f"cross-validate learning rates in [{_fmt_rates(lr_range)}]" + (
            f" ({summary})" if summary else ""
        )
    else:
        lr_range = None
        why = f"no learning rate made the loss go down ({summary})"
    result = LearningRateSweep(
        name,
        bool(good),
        why,
        {"initial_loss": start, "loss_histories": curves},
        verdicts=verdicts,
        learning_rate_range=lr_range,
    )
    return _report(result, verbose)


def diagnose(
    stats: Mapping[str, Any],
    *,
    gap: float = 0.1,
    low_accuracy: float = 0.6,
    flat_tol: float = 0.01,
    explode_factor: float = 3.0,
    verbose: bool = True,
) -> CheckResult:
    """Name the problem in a finished run from its histories (``stats`` of the trainer).

    Looks for, in this order:

    - a NaN/inf cost (or ``stats['diverged']``), or a cost that rises above
      ``explode_factor`` x its first value: learning rate too high;
    - a loss that is flat for the first tenth of the run and then drops: bad initialization;
      a loss that never goes down: learning rate too low;
    - final train accuracy above validation accuracy by more than ``gap``: overfitting,
      increase the regularization;
    - no such gap but train accuracy below ``low_accuracy``: increase the model capacity.

    Returns
    -------
    CheckResult
        Passes when no problem is found; ``details['problems']`` lists (code, message) with
        codes 'nan', 'exploding', 'flat_start', 'not_decreasing', 'overfitting',
        'underfitting'.
    """
    name = "diagnosis"
    if not isinstance(stats, dict) or not len(stats.get("loss_history", ())):
        raise ValueError(
            "diagnose needs the stats dict of a run (ClassifierTrainer.train's "
            "second result) with a non-empty 'loss_history'"
        )
    losses = np.asarray(stats["loss_history"], dtype=np.float64)
    train = list(stats.get("train_acc_history", []))
    val = list(stats.get("val_acc_history", []))
    problems = []
    if stats.get("diverged") or not np.all(np.isfinite(losses)):
        problems.append(("nan", "cost became NaN/inf: the learning rate is too high"))
    elif len(losses) >= 2:
        chunks = np.array_split(losses, min(10, len(losses)))
        means = np.array([c.mean() for c in chunks])
        first, rest_min, last = means[0], means[1:].min(), means[-1]
        if losses.max() > explode_factor * abs(losses[0]) and last > first:
            problems.append(
                (
                    "exploding",
                    f"loss exploding ({losses[0]:f} -> {losses[-1]:g}): the learning "
                    "rate is too high",
                )
            )
        elif last > first * (1 - flat_tol):
            problems.append(
                (
                    "not_decreasing",
                    f"loss not going down ({first:f} -> {last:f}): the learning rate is too low",
                )
            )
        elif (
            len(means) >= 3
            and abs(means[1] - first) <= flat_tol * abs(first)
            and rest_min < 0.9 * first
        ):
            problems.append(
                (
                    "flat_start",
                    f"loss flat at the start ({first:f} -> {means[1]:f}) before it "
                    "drops: bad initialization",
                )
            )
    if not problems or problems[0][0] not in ("nan", "exploding"):
        if train and val:
            tr, va = float(train[-1]), float(val[-1])
            if tr - va > gap:
                problems.append(
                    (
                        "overfitting",
                        f"big train/val gap (train {tr:f}, val {va:f}): overfitting, "
                        "increase the regularization",
                    )
                )
            elif tr < low_accuracy:
                problems.append(
                    (
                        "underfitting",
                        f"no train/val gap but low accuracy (train {tr:f}, val "
                        f"{va:f}): increase the model capacity",
                    )
                )
    if problems:
        why = "; ".join(msg for _, msg in problems)
    else:
        acc = f", train {train[-1]:f}, val {val[-1]:f}" if train and val else ""
        why = f"no problem found (loss {losses[0]:f} -> {losses[-1]:f}{acc})"
    return _report(CheckResult(name, not problems, why, {"problems": problems}), verbose)


def babysit(
    model: Any,
    loss_function: Callable[..., Any] | None,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    num_classes: int | None = None,
    check_rows: int = 1000,
    check_reg: float = 1e3,
    overfit_n: int = 20,
    overfit_epochs: int = 200,
    overfit_learning_rate: float = 1e-3,
    overfit_max_learning_rate: float | None = 1.0,
    learning_rates: Sequence[float] | None = None,
    sweep_epochs: int = 3,
    reg: float = 1e-6,
    num_epochs: int = 10,
    batch_size: int = 100,
    update: str = "sgd",
    trainer: ClassifierTrainer | None = None,
    verbose: bool = True,
    diagnose_kwargs: Mapping[str, Any] | None = None,
    **train_kwargs: Any,
) -> BabysitReport:
    """Run the checklist in order and stop at the first failure.

    The checks: (1) :func:`check_initial_loss` and (2) :func:`check_regularization` on the
    first ``check_rows`` training rows; (3) :func:`overfit_small` on ``overfit_n`` examples
    (climbing from ``overfit_learning_rate`` up to ``overfit_max_learning_rate`` when the loss
    barely moves);
    (4) :func:`find_learning_rate`; (5) a ``num_epochs`` run at the geometric middle of the
    good range, then :func:`diagnose` of its stats.

    Extra keyword arguments (``seed=``...) go to every ``ClassifierTrainer.train`` call.

    Returns
    -------
    BabysitReport
        ``results`` holds the checks run (the last one failed if any did),
        ``learning_rate_range`` the sweep's range, ``best_model``/``stats`` the final run.
    """
    y_train = _as_labels(y_train)
    Xc, yc = X_train[:check_rows], y_train[:check_rows]
    report = BabysitReport([])

    def done(result):
        report.results.append(result)
        if not result.passed and verbose:
            print(f"babysit stopped at '{result.name}': {result.explanation}")
        return not result.passed

    if done(
        check_initial_loss(model, loss_function, Xc, yc, num_classes=num_classes, verbose=verbose)
    ):
        return report
    if done(check_regularization(model, loss_function, Xc, yc, reg=check_reg, verbose=verbose)):
        return report
    if done(
        overfit_small(
            model,
            loss_function,
            X_train,
            y_train,
            n=overfit_n,
            num_epochs=overfit_epochs,
            learning_rate=overfit_learning_rate,
            max_learning_rate=overfit_max_learning_rate,
            update=update,
            trainer=trainer,
            verbose=verbose,
            **train_kwargs,
        )
    ):
        return report
    sweep = find_learning_rate(
        model,
        loss_function,
        X_train,
        y_train,
        X_val,
        y_val,
        learning_rates,
        num_epochs=sweep_epochs,
        reg=reg,
        batch_size=batch_size,
        update=update,
        trainer=trainer,
        verbose=verbose,
        **train_kwargs,
    )
    report.learning_rate_range = sweep.learning_rate_range
    if done(sweep):
        return report
    # a sweep that passed found a range
    low, high = cast("tuple[float, float]", sweep.learning_rate_range)
    lr = math.sqrt(low * high)
    train_kwargs.setdefault("learning_rate_decay", 1.0)
    _, report.best_model, report.stats = _train(
        model,
        loss_function,
        X_train,
        y_train,
        X_val,
        y_val,
        reg,
        trainer,
        num_epochs=num_epochs,
        batch_size=batch_size,
        update=update,
        learning_rate=lr,
        **train_kwargs,
    )
    diagnosis = diagnose(report.stats, verbose=verbose, **(diagnose_kwargs or {}))
    diagnosis.details["learning_rate"] = lr
    if done(diagnosis):
        return report
    if verbose:
        print(
            f"babysit: every check passed; cross-validate learning rates in "
            f"[{_fmt_rates((low, high))}]"
        )
    return report
