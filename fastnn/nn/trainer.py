"""ClassifierTrainer: the lecture notes' training loop (section 6, "babysitting the learning
process").

The implementation behind the public namespace ``fastnn.trainer``, which documents it.

Threads: during training fastnn's own kernels run on one thread and the BLAS GEMMs use
BLAS's threads.  The kernels sit between GEMMs, and an OpenMP parallel region leaves its
worker spinning for a while after it ends (libgomp's default wait policy), taking a core
from OpenBLAS's threads, so the serial kernels train faster (measurements:
docs/perf/layout.md).
"""

import copy
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from fastnn._config.backend import ops
from fastnn._config.threads import num_threads
from fastnn._validation import check_int, check_labels, check_param, check_scalar
from fastnn.core.optim import UPDATE_RULES
from fastnn.nn.divergence import divergence_reason
from fastnn.nn.init import RandomSource, as_generator
from fastnn.nn.metrics import correct_count
from fastnn.nn.minibatch import RowGather
from fastnn.nn.models import TwoLayerSGDStep, is_object_model

__all__ = ["ClassifierTrainer", "UPDATES"]

UPDATES = UPDATE_RULES  # the kernels' list (fastnn.core.optim)

RMSPROP_DECAY = 0.99
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
EPS = 1e-8
TRAIN_ACC_ROWS = 1000
EVAL_CHUNK = 4096  # rows per forward pass when measuring accuracy (bounds peak memory)


def check_momentum(momentum, name="momentum"):
    """The momentum mu as a float in [0, 1] (ValueError otherwise; the CLI's rule too)."""
    return check_scalar(momentum, name, minimum=0, maximum=1)


def check_learning_rate_decay(decay, name="learning_rate_decay"):
    """The per-epoch learning-rate factor as a float > 0 (ValueError otherwise)."""
    decay = check_scalar(decay, name)
    if not decay > 0:
        raise ValueError(f"{name} must be > 0, got {decay}")
    return decay


class _Optimizer:
    """Per-run optimizer state (velocity, caches, step count); the update rules are the
    backend's fused in-place kernels (fastnn.core.optim, or their NumPy twins)."""

    def __init__(self, rule, momentum):
        self.rule = rule
        self.mu = momentum
        self.t = 0
        self.state = {}
        self.cast_buffers = {}  # for gradients whose dtype differs from the parameter's

    def _slots(self, name, p, n):
        slots = self.state.get(name)
        if slots is None:
            slots = [np.zeros_like(p) for _ in range(n)]
            self.state[name] = slots
        return slots

    def _rule_args(self, lr):
        """(number of state arrays, the scalars after them) of this step's update kernel."""
        if self.rule == "sgd":
            return 0, (lr,)
        if self.rule in ("momentum", "nesterov"):
            return 1, (lr, self.mu)
        if self.rule == "rmsprop":
            return 1, (lr, RMSPROP_DECAY, EPS)
        return 2, (lr, self.t, ADAM_BETA1, ADAM_BETA2, EPS)

    def _gradient(self, name, p, grads):
        """grads[name] as an array of p's shape and dtype (cast into a per-run buffer)."""
        try:
            g = grads[name]
        except KeyError:
            raise KeyError(
                f"the loss function returned no gradient for parameter {name!r}"
            ) from None
        if type(g) is np.ndarray and g.dtype == p.dtype and g.shape == p.shape:
            return g
        g = np.asarray(g)
        if g.shape != p.shape:
            raise ValueError(
                f"the gradient of parameter {name!r} has shape {g.shape}, expected {p.shape}"
            )
        if g.dtype.kind not in "biuf":
            raise TypeError(
                f"the gradient of parameter {name!r} has dtype {g.dtype}, "
                f"expected a real number dtype"
            )
        buffer = self.cast_buffers.get(name)
        if buffer is None:
            buffer = self.cast_buffers[name] = np.empty_like(p)
        np.copyto(buffer, g, casting="unsafe")
        return buffer

    def step(self, params, grads, lr):
        """One update of every parameter, in one kernel call."""
        if self.rule == "adam":
            self.t += 1
        n_state, scalars = self._rule_args(lr)
        names = list(params)
        ops().update_many(
            self.rule,
            [params[name] for name in names],
            [self._gradient(name, params[name], grads) for name in names],
            [self._slots(name, params[name], n_state) for name in names],
            *scalars,
        )


class _GradientStep:
    """A training step in two calls, like fastnn.nn.models.TwoLayerSGDStep: ``loss`` (the
    loss function's loss and gradients), then ``apply`` (the update rule on them)."""

    def __init__(self, batch_loss, optimizer, params):
        self.batch_loss = batch_loss
        self.optimizer = optimizer
        self.params = params
        self.grads = None

    def loss(self, X_batch, y_batch):
        cost, self.grads = self.batch_loss(X_batch, y_batch)
        return cost

    def apply(self, learning_rate):
        self.optimizer.step(self.params, self.grads, learning_rate)
        self.grads = None


def _rows(X, y, what):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2:
        raise ValueError(f"{what} data must be at least 2-d (N, D), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"{what} labels have shape {y.shape}, expected ({X.shape[0]},) to match the data"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{what} data has no rows")
    return X, y


def _num_classes(scores):
    """C from the (1, C) scores of one row."""
    shape = np.shape(scores)
    if len(shape) != 2 or shape[0] != 1 or shape[1] < 1:
        raise ValueError(f"the model's scores for one row have shape {shape}, expected (1, C)")
    return shape[1]


class ClassifierTrainer:
    """The lecture notes' trainer for classifiers (CS231n's ``ClassifierTrainer``)."""

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        model: Any,
        loss_function: Callable[..., Any] | None = None,
        reg: float = 0.0,
        learning_rate: float = 1e-2,
        momentum: float = 0.0,
        learning_rate_decay: float = 0.95,
        update: str = "momentum",
        sample_batches: bool = True,
        num_epochs: int = 30,
        batch_size: int = 100,
        acc_frequency: int | None = None,
        verbose: bool = False,
        *,
        seed: np.random.Generator | np.random.SeedSequence | int | None = None,
        rng: RandomSource = None,
        abort_cost_ratio: float | None = None,
        on_epoch: Callable[[int, dict[str, float]], bool] | None = None,
        optimizer_state: dict[str, Any] | None = None,
        first_cost: float | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Optimize ``model`` on (X, y); returns ``(best_model, stats)``.

        Parameters
        ----------
        X, y : (N, D) data and (N,) integer labels; X_val, y_val : validation set.  Labels
            must lie in [0, C) for the model's C classes (checked before training).
        model : dict of parameter arrays (updated in place), or an object with ``params``
            and ``loss(X, y=None)`` such as :class:`fastnn.FullyConnectedNet` (then omit
            ``loss_function``; the model's own ``reg`` applies).
        loss_function : ``loss_function(X_batch, model, y_batch, reg) -> (loss, grads)``
            and ``loss_function(X, model) -> scores``, e.g. :func:`fastnn.two_layer_net`.
        reg : L2 strength passed to ``loss_function``.
        learning_rate : initial step size, multiplied by ``learning_rate_decay`` after every epoch.
        momentum : mu for 'momentum' and 'nesterov'.
        update : one of 'sgd', 'momentum', 'nesterov', 'rmsprop', 'adam'.
        sample_batches : if True each iteration uses ``batch_size`` rows drawn with
            replacement and an epoch is ``max(N // batch_size, 1)`` iterations; if False each
            iteration is one full-batch step and an epoch is one iteration.
        num_epochs : number of epochs.
        acc_frequency : also measure accuracies every this many iterations (besides every
            epoch end); those checks are recorded and can pick the best model, not printed.
        verbose : print ``Finished epoch %d / %d: cost %f, train: %f, val %f, lr %e`` after
            each epoch, a line when the run stops early, and the best validation accuracy.
        seed, rng : int or ``numpy.random.Generator`` for reproducible minibatches and
            train-accuracy samples (NumPy's global random state is never used).
        abort_cost_ratio : stop when the cost exceeds this multiple of the first cost
            (the notes' rule for searches is 3.0); None never stops for that.
        on_epoch : ``on_epoch(epoch, stats) -> bool`` called after every epoch (``epoch``
            counts from 1; ``stats`` has ``loss``, ``train_acc``, ``val_acc`` and ``lr``, the
            learning rate of that epoch); returning True stops the run there.
        optimizer_state : what ``stats["optimizer_state"]`` of an earlier run on the same model
            and update rule held (momentum/cache arrays and Adam's step count): the run
            continues with it instead of starting from zero.  Pass the decayed learning rate
            and the same ``rng`` too, and it goes on exactly where that run stopped.
        first_cost : the reference of ``abort_cost_ratio``; a continued run passes the
            ``stats["first_cost"]`` of the run it continues (None: this run's first cost).

        Returns
        -------
        best_model : deep copy of the model with the best validation accuracy (the initial
            model if no accuracy was measured before an early stop).
        stats : dict with ``loss_history`` (every iteration), ``train_acc_history``,
            ``val_acc_history``, ``lr_history`` (learning rate in use at each accuracy
            check), ``diverged`` (bool), ``stop_reason`` (None or the message),
            ``best_val_acc`` (None if the run stopped before any accuracy check),
            ``epochs`` (epochs completed), ``optimizer_state`` and ``first_cost`` (to continue
            the run later).

        Train accuracy is measured on at most 1000 sampled training rows, validation
        accuracy on all of X_val.  A NaN or infinite cost stops the run at once: the
        learning rate is almost surely too high.
        """
        X, y = _rows(X, y, "training")
        X_val, y_val = _rows(X_val, y_val, "validation")
        if update not in UPDATES:
            raise ValueError(f"unknown update {update!r}; valid updates are {', '.join(UPDATES)}")
        num_epochs = check_int(num_epochs, "num_epochs")
        batch_size = check_int(batch_size, "batch_size")
        if acc_frequency is not None:
            acc_frequency = check_int(acc_frequency, "acc_frequency")
        learning_rate = check_scalar(learning_rate, "learning_rate", minimum=0)
        learning_rate_decay = check_learning_rate_decay(learning_rate_decay)
        momentum = check_momentum(momentum)
        reg = check_scalar(reg, "reg", minimum=0)
        if abort_cost_ratio is not None:
            abort_cost_ratio = check_scalar(abort_cost_ratio, "abort_cost_ratio", minimum=0)
        gen = as_generator(rng, seed)

        if is_object_model(model, loss_function):
            if reg:
                raise ValueError(
                    "reg applies to loss_function; a model object uses its own reg "
                    "(e.g. FullyConnectedNet(..., reg=...))"
                )
            params = model.params
            batch_loss = model.loss
            scores_of = model.loss
        else:
            params = model if isinstance(model, dict) else getattr(model, "params", None)
            if not isinstance(params, dict):
                raise TypeError(
                    f"model must be a dict of parameter arrays, got {type(model).__name__}"
                )
            dict_loss = cast("Callable[..., Any]", loss_function)  # not an object model: given
            batch_loss = lambda Xb, yb: dict_loss(Xb, model, yb, reg)  # noqa: E731
            scores_of = lambda Xb: dict_loss(Xb, model)  # noqa: E731
        for name, p in params.items():
            check_param(p, f"model parameter {name!r}")
        # Labels the scores cannot match would only lower the accuracies: check them now,
        # with one row's scores computed as in the loop below.
        with np.errstate(all="ignore"), num_threads(1):
            num_classes = _num_classes(scores_of(X[:1]))
        y = check_labels(y, X.shape[0], num_classes, "training labels")
        y_val = check_labels(y_val, X_val.shape[0], num_classes, "validation labels")

        n = X.shape[0]
        iters_per_epoch = max(n // batch_size, 1) if sample_batches else 1
        num_iters = num_epochs * iters_per_epoch
        kernels = ops()
        gather = RowGather()
        if sample_batches:
            X_batch = np.empty((batch_size,) + X.shape[1:], dtype=X.dtype)
            y_batch = np.empty(batch_size, dtype=y.dtype)
        else:
            X_batch, y_batch = X, y
        sub_rows = min(n, TRAIN_ACC_ROWS)
        X_sub = np.empty((sub_rows,) + X.shape[1:], dtype=X.dtype) if n > sub_rows else X
        y_sub = np.empty(sub_rows, dtype=y.dtype) if n > sub_rows else y

        def accuracy(Xa, ya):
            correct = 0
            for start in range(0, Xa.shape[0], EVAL_CHUNK):
                scores = scores_of(Xa[start : start + EVAL_CHUNK])
                correct += correct_count(scores, ya[start : start + EVAL_CHUNK])
            return correct / Xa.shape[0]

        optimizer = _Optimizer(update, momentum)
        # the notes' net with 'sgd' folds the update into its weight-gradient GEMMs; any other
        # model takes the loss function's gradients and then the update rule
        step = TwoLayerSGDStep.for_training(loss_function, model, update, reg) or _GradientStep(
            batch_loss, optimizer, params
        )
        if optimizer_state is not None:
            optimizer.t = int(optimizer_state["t"])
            optimizer.state = dict(optimizer_state["slots"])
        best_model = copy.deepcopy(model)
        best_val_acc = -1.0
        stats: dict[str, Any] = {
            "loss_history": [],
            "train_acc_history": [],
            "val_acc_history": [],
            "lr_history": [],
            "diverged": False,
            "stop_reason": None,
        }
        epoch = 0
        # Overflow/invalid warnings are expected when a run diverges; the cost check below
        # reports it once, clearly.  Kernels run on one thread (see "Threads" above).
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
            num_threads(1),
        ):
            for it in range(num_iters):
                if sample_batches:
                    idx = gen.integers(0, n, size=batch_size)
                    gather(X, idx, X_batch)
                    np.take(y, idx, out=y_batch, mode="clip")
                cost = float(step.loss(X_batch, y_batch))
                stats["loss_history"].append(cost)
                if first_cost is None:
                    first_cost = cost
                reason = divergence_reason(
                    cost, first_cost, it + 1, epoch + 1, num_epochs, learning_rate, abort_cost_ratio
                )
                if reason is not None:
                    stats["diverged"] = True
                    stats["stop_reason"] = reason
                    if verbose:
                        print(reason)
                    break
                step.apply(learning_rate)

                epoch_end = (it + 1) % iters_per_epoch == 0
                acc_check = acc_frequency is not None and (it + 1) % acc_frequency == 0
                if not (epoch_end or acc_check):
                    continue
                if n > sub_rows:
                    rows = np.sort(gen.choice(n, sub_rows, replace=False))
                    kernels.take_rows(X, rows, out=X_sub)
                    np.take(y, rows, out=y_sub, mode="clip")
                train_acc = accuracy(X_sub, y_sub)
                val_acc = accuracy(X_val, y_val)
                stats["train_acc_history"].append(train_acc)
                stats["val_acc_history"].append(val_acc)
                stats["lr_history"].append(learning_rate)
                if val_acc > best_val_acc:
                    best_val_acc = val_acc
                    best_model = copy.deepcopy(model)
                if epoch_end:
                    epoch += 1
                    if verbose:
                        print(
                            "Finished epoch %d / %d: cost %f, train: %f, val %f, lr %e"  # noqa: UP031 (the notes' line)
                            % (epoch, num_epochs, cost, train_acc, val_acc, learning_rate)
                        )
                    if on_epoch is not None and on_epoch(
                        epoch,
                        {
                            "loss": cost,
                            "train_acc": train_acc,
                            "val_acc": val_acc,
                            "lr": learning_rate,
                        },
                    ):
                        stats["stop_reason"] = f"stopped by on_epoch after epoch {epoch}"
                        if verbose:
                            print(stats["stop_reason"])
                        break
                    learning_rate *= learning_rate_decay
        stats["epochs"] = epoch
        stats["optimizer_state"] = {"t": optimizer.t, "slots": optimizer.state}
        stats["first_cost"] = first_cost
        stats["best_val_acc"] = best_val_acc if best_val_acc >= 0 else None
        if verbose:
            print("finished optimization, best validation accuracy: %f" % max(best_val_acc, 0.0))  # noqa: UP031
        return best_model, stats
