"""Solver: the course's training loop (``cs231n/solver.py``) on fastnn's kernels.

The implementation behind the public namespace ``fastnn.solver``, which documents it.

Threads: as in :class:`fastnn.ClassifierTrainer`, fastnn's kernels run on one thread during
training and the BLAS matrix products keep BLAS's threads.
"""

import os
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fastnn._config.backend import ops
from fastnn._config.threads import num_threads
from fastnn._validation import check_int, check_scalar
from fastnn.nn import optim
from fastnn.nn.divergence import divergence_reason
from fastnn.nn.init import as_generator
from fastnn.nn.metrics import correct_count
from fastnn.nn.minibatch import RowGather
from fastnn.workflow.atomic import replacing
from fastnn.workflow.progress import terminal_tqdm

__all__ = ["Solver"]

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
UpdateRule = Callable[[np.ndarray, np.ndarray, dict[str, Any]], tuple[np.ndarray, dict[str, Any]]]
EpochCallback = Callable[[int, dict[str, Any]], bool]


def _update_rule(rule):
    if callable(rule):
        return rule
    if isinstance(rule, str):
        if rule not in optim.UPDATE_RULES:
            raise ValueError(
                f"unknown update_rule {rule!r}; choose one of {', '.join(optim.UPDATE_RULES)} "
                f"or pass a function rule(w, dw, config) -> (next_w, config)"
            )
        return getattr(optim, rule)
    raise TypeError(f"update_rule must be a rule's name or a function, got {type(rule).__name__}")


def _data(data):
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict with keys {', '.join(DATA_KEYS)}")
    for key in DATA_KEYS:
        if key not in data:
            raise KeyError(f"data has no {key!r}: the Solver needs {', '.join(DATA_KEYS)}")
    arrays = [np.asarray(data[key]) for key in DATA_KEYS]
    for X, y, what in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "val")):
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X_{what} must have shape (N, ...) with N >= 1, got {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y_{what} has shape {y.shape}, expected ({X.shape[0]},)")
    return arrays


# Bytes of X per forward pass of an accuracy check (when no batch_size is given): big enough
# for the first matrix product to run near its speed, small enough to bound the activations.
CHECK_BATCH_BYTES = 8 << 20


class Solver:
    """The course's Solver: minibatch training of a classification model.

    Parameters
    ----------
    model : object with ``params`` (dict of name -> ndarray) and ``loss(X, y=None)``
        ``loss(X)`` returns scores (N, C); ``loss(X, y)`` returns ``(loss, grads)`` with grads
        keyed like params.  :class:`fastnn.FullyConnectedNet` or a model of your own.
    data : dict with ``X_train`` (N, ...), ``y_train`` (N,), ``X_val``, ``y_val``.
    update_rule : ``'sgd'``, ``'sgd_momentum'``, ``'rmsprop'``, ``'adam'`` (:mod:`fastnn.optim`)
        or a function ``rule(w, dw, config) -> (next_w, config)``.
    optim_config : the update rule's hyper-parameters; every parameter gets its own copy.
    lr_decay : ``learning_rate`` is multiplied by it after every epoch.
    batch_size, num_epochs : minibatch rows (drawn with replacement) and epochs in all (a
        continued :meth:`train` stops there too); an epoch is ``max(N // batch_size, 1)``
        iterations.
    num_train_samples, num_val_samples : rows sampled to measure the accuracies (None: all).
    checkpoint_name : if set, ``'<name>_epoch_<e>.pkl'`` is pickled at every accuracy check,
        with the course's keys.
    print_every : print ``(Iteration %d / %d) loss: %f`` every this many iterations.
    verbose : print the iteration and epoch lines (and why training stopped early).
    seed : int or ``numpy.random.Generator`` for the minibatches and accuracy samples; None
        uses NumPy's global random state, as the course does (``np.random.seed(231)``).
    progress : a tqdm bar over the iterations when stderr is a terminal (needs tqdm).
    on_epoch : ``on_epoch(epoch, stats) -> bool`` after every epoch's accuracy check, with
        stats keys ``'loss'`` (the last iteration's), ``'train_acc'``, ``'val_acc'``,
        ``'lr'`` (the epoch's learning rate, None if the rule has none); True stops training.
    abort_cost_ratio : also stop when the loss exceeds this multiple of the first loss.

    Attributes
    ----------
    loss_history, train_acc_history, val_acc_history : lists of floats.
    best_val_acc, best_params : the best validation accuracy and copies of the params then;
        ``train()`` ends by setting ``model.params = best_params``.
    final_params : the params after the last iteration (before that swap); a continued
        ``train()`` starts from them.
    epoch : epochs done.  optim_configs : each parameter's config (and optimizer state).
    first_loss : the run's first loss, the reference of ``abort_cost_ratio`` (None before
        training); to continue a run in a new Solver, set it with ``epoch`` and
        ``optim_configs``.
    stop_reason : None, or the line saying why training stopped early (a NaN or infinite
        loss always stops it: the learning rate is too high).  diverged : whether it did.
    """

    def __init__(
        self,
        model: Any,
        data: Mapping[str, Any],
        update_rule: str | UpdateRule = "sgd",
        optim_config: dict[str, Any] | None = None,
        lr_decay: float = 1.0,
        batch_size: int = 100,
        num_epochs: int = 10,
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        checkpoint_name: str | os.PathLike[str] | None = None,
        print_every: int = 10,
        verbose: bool = True,
        *,
        seed: np.random.Generator | np.random.SeedSequence | int | None = None,
        progress: bool = False,
        on_epoch: EpochCallback | None = None,
        abort_cost_ratio: float | None = None,
    ) -> None:
        if not (isinstance(getattr(model, "params", None), dict) and callable(model.loss)):
            raise TypeError("model must have a params dict and a loss(X, y=None) method")
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val = _data(data)
        self.update_rule = _update_rule(update_rule)
        if optim_config is not None and not isinstance(optim_config, dict):
            raise TypeError(f"optim_config must be a dict, got {type(optim_config).__name__}")
        self.optim_config = {} if optim_config is None else optim_config
        self.lr_decay = check_scalar(lr_decay, "lr_decay", minimum=0)
        self.batch_size = check_int(batch_size, "batch_size")
        self.num_epochs = check_int(num_epochs, "num_epochs")
        self.num_train_samples = (
            None if num_train_samples is None else check_int(num_train_samples, "num_train_samples")
        )
        self.num_val_samples = (
            None if num_val_samples is None else check_int(num_val_samples, "num_val_samples")
        )
        self.checkpoint_name = checkpoint_name
        self.print_every = check_int(print_every, "print_every")
        self.verbose = bool(verbose)
        self.progress = bool(progress)
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError("on_epoch must be a function on_epoch(epoch, stats) -> bool")
        self.on_epoch = on_epoch
        self.abort_cost_ratio = (
            None
            if abort_cost_ratio is None
            else check_scalar(abort_cost_ratio, "abort_cost_ratio", minimum=0)
        )
        # The course draws from NumPy's global state; a seed gives the run its own generator.
        self._random = np.random if seed is None else as_generator(seed)
        self._gather = RowGather()
        self._reset()

    def _reset(self) -> None:
        """The bookkeeping variables; :meth:`train` continues from them."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self.final_params: dict[str, np.ndarray] = {}
        self.first_loss: float | None = None
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.stop_reason: str | None = None
        self.diverged = False
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def __getstate__(self) -> dict[str, Any]:
        # without a seed the Solver draws from NumPy's global state, a module: a pickled or
        # deep-copied Solver draws from it again
        state = self.__dict__.copy()
        if state["_random"] is np.random:
            state["_random"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._random is None:
            self._random = np.random

    def _learning_rate(self) -> float | None:
        for config in self.optim_configs.values():
            return config.get("learning_rate")
        return None

    def _step(self, X_batch: np.ndarray, y_batch: np.ndarray, iteration: int) -> float:
        """One minibatch gradient step (``iteration`` counted over the run from 1); returns its
        loss."""
        idx = np.asarray(self._random.choice(self.X_train.shape[0], self.batch_size), np.intp)
        self._gather(self.X_train, idx, X_batch)
        np.take(self.y_train, idx, out=y_batch)
        loss, grads = self.model.loss(X_batch, y_batch)
        loss = float(loss)
        self.loss_history.append(loss)
        if self._stop_for(loss, iteration):
            return loss
        params = self.model.params
        for name in params:
            if name not in grads:
                raise KeyError(f"the model's loss returned no gradient for {name!r}")
        # fastnn.optim's rules update every parameter in one kernel call, the same values
        if not optim.update_all(self.update_rule, params, grads, self.optim_configs):
            for name, w in params.items():
                params[name], self.optim_configs[name] = self.update_rule(
                    w, grads[name], self.optim_configs[name]
                )
        return loss

    def _stop_for(self, loss: float, iteration: int) -> bool:
        if self.first_loss is None:
            self.first_loss = loss
        reason = divergence_reason(
            loss,
            self.first_loss,
            iteration,
            self.epoch + 1,
            self.num_epochs,
            self._learning_rate(),
            self.abort_cost_ratio,
        )
        if reason is not None:
            self.diverged = True
            self.stop_reason = reason
            if self.verbose:
                print(reason)
        return reason is not None

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (os.fspath(self.checkpoint_name), self.epoch)  # noqa: UP031 (the course's name)
        if self.verbose:
            print('Saving checkpoint to "%s"' % filename)  # noqa: UP031
        with replacing(filename) as tmp, open(tmp, "wb") as f:  # whole or not at all
            pickle.dump(checkpoint, f)

    def check_accuracy(
        self,
        X: np.ndarray,
        y: np.ndarray,
        num_samples: int | None = None,
        batch_size: int | None = None,
    ) -> float:
        """Accuracy of the model on (X, y): the fraction of rows whose top score is the label.

        num_samples: if given and X has more rows, that many rows drawn with replacement.
        batch_size: rows per forward pass; None (the default) takes as many rows as fit in
        8 MiB of X, at least 100 (the course's fixed 100 makes the first layer's matrix
        product too small to run at its speed).  Returns a float in [0, 1].
        """
        X, y = np.asarray(X), np.asarray(y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("check_accuracy needs at least one row, got X with none")
        if batch_size is None:
            row_bytes = max(X[:1].nbytes, 1)
            batch_size = max(CHECK_BATCH_BYTES // row_bytes, 100)
        batch_size = check_int(batch_size, "batch_size")
        if num_samples is not None and n > num_samples:
            idx = np.asarray(self._random.choice(n, num_samples), np.intp)
            X, y, n = ops().take_rows(X, idx), y[idx], num_samples
        correct = 0
        for start in range(0, n, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            correct += correct_count(scores, y[start : start + batch_size])
        return correct / n

    def train(self) -> None:
        """Run the optimization up to ``num_epochs`` epochs in all; the model ends with the
        best validation params.

        A Solver that has trained (``epoch > 0``) continues where it stopped: from
        ``final_params``, the decayed learning rate and optimizer state in ``optim_configs``
        and the same random generator, without the accuracy check after its first iteration,
        so training to ``num_epochs=1`` and then, with ``num_epochs=3``, on to 3 draws the
        same minibatches and gives the same histories and params as one run of 3 epochs.
        One that has reached ``num_epochs`` trains ``num_epochs`` more, as the course's
        Solver does when ``train()`` is called again.
        """
        target = self.num_epochs
        if self.epoch >= target:
            target = self.epoch + self.num_epochs
        continuing = self.epoch > 0
        if continuing and self.final_params:
            self.model.params = self.final_params
        self.stop_reason, self.diverged = None, False
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = (target - self.epoch) * iterations_per_epoch
        X_batch = np.empty((self.batch_size,) + self.X_train.shape[1:], self.X_train.dtype)
        y_batch = np.empty(self.batch_size, self.y_train.dtype)
        tqdm = terminal_tqdm(required=True) if self.progress else None
        bar = None if tqdm is None else tqdm(total=num_iterations, unit="it", leave=False)
        try:
            # Overflow warnings are expected when a run diverges; the loss check reports it.
            with np.errstate(all="ignore"), num_threads(1):
                self._train(X_batch, y_batch, num_iterations, iterations_per_epoch, bar, continuing)
        finally:
            if bar is not None:
                bar.close()
        self.final_params = self.model.params
        if self.best_params:
            self.model.params = self.best_params

    def _train(self, X_batch, y_batch, num_iterations, iterations_per_epoch, bar, continuing):
        iterations_done = self.epoch * iterations_per_epoch
        for t in range(num_iterations):
            loss = self._step(X_batch, y_batch, iterations_done + t + 1)
            if bar is not None:
                bar.update(1)
            if self.stop_reason is not None:
                return
            if self.verbose and t % self.print_every == 0:
                print("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, loss))  # noqa: UP031 (the course's line)

            epoch_end = (t + 1) % iterations_per_epoch == 0
            lr = self._learning_rate()
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
            # the course checks after the first iteration too; a continued run had its check
            first_check = t == 0 and not continuing
            if not (first_check or t == num_iterations - 1 or epoch_end):
                continue
            train_acc = self.check_accuracy(
                self.X_train, self.y_train, num_samples=self.num_train_samples
            )
            val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
            self.train_acc_history.append(train_acc)
            self.val_acc_history.append(val_acc)
            self._save_checkpoint()
            if self.verbose:
                print(
                    "(Epoch %d / %d) train acc: %f; val_acc: %f"  # noqa: UP031 (the course's line)
                    % (self.epoch, self.num_epochs, train_acc, val_acc)
                )
            if val_acc > self.best_val_acc:
                self.best_val_acc = val_acc
                self.best_params = {k: v.copy() for k, v in self.model.params.items()}
            if epoch_end and self.on_epoch is not None:
                stats = {"loss": loss, "train_acc": train_acc, "val_acc": val_acc, "lr": lr}
                if self.on_epoch(self.epoch, stats):
                    self.stop_reason = (
                        f"on_epoch stopped training after epoch {self.epoch} / {self.num_epochs}"
                    )
                    if self.verbose:
                        print(self.stop_reason)
                    return
