"""train_fn builder for the lecture's two-layer net and FullyConnectedNet (ClassifierTrainer),
and :func:`make_train_fn`, which also builds the Solver's (:class:`SolverTrainFn`)."""

import inspect
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastnn.nn.models import FullyConnectedNet, init_two_layer_model, two_layer_net
from fastnn.nn.trainer import ClassifierTrainer
from fastnn.workflow.progress import TickingModel, epoch_bar
from fastnn.workflow.search._solver_fn import SolverTrainFn
from fastnn.workflow.search._train_fn_base import ALIASES, TrainFnBase, check_epochs

# ClassifierTrainer.train keywords a search may set
_TRAINER_KEYS = (
    "learning_rate",
    "momentum",
    "learning_rate_decay",
    "update",
    "sample_batches",
    "num_epochs",
    "batch_size",
    "acc_frequency",
)
_MODEL_KEYS = {
    "two_layer": ("hidden_size", "reg", "dtype"),
    "fc": (
        "hidden_dims",
        "activation",
        "weight_init",
        "batchnorm",
        "reg",
        "dtype",
        "maxout_pieces",
    ),
}
MODELS = tuple(_MODEL_KEYS)
TRAINERS = ("classifier", "solver")


class ModelTrainFn(TrainFnBase):
    """A picklable ``train_fn(params, seed=None)``: one ClassifierTrainer run per call.

    Built by :func:`make_train_fn`; ``params`` override the fixed settings given there.
    The training data travel with the object to worker processes (fine for data sets of a
    few MB; for big ones keep a copy on every worker and load it inside your own train_fn).
    """

    def __init__(self, X, y, X_val, y_val, model, abort_cost_ratio, keep_model, fixed):
        if model not in _MODEL_KEYS:
            raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        super().__init__(X, y, X_val, y_val, model, abort_cost_ratio, keep_model, fixed)

    @property
    def valid_params(self):
        """The parameter names this train_fn understands (``lr`` is an alias of learning_rate)."""
        return (*_TRAINER_KEYS, *_MODEL_KEYS[self.model], *ALIASES)

    def fit(
        self,
        params,
        seed=None,
        *,
        verbose=False,
        progress=False,
        epochs=None,
        state=None,
        on_epoch=None,
    ):
        """Train one configuration; returns ``(best_model, stats)`` as the trainer does.

        ``verbose`` prints the trainer's epoch lines; ``progress`` shows a per-epoch bar on a
        terminal (model ``'fc'``, tqdm installed).  ``epochs`` (total epochs, overrides
        ``num_epochs``), ``state`` and ``on_epoch`` as in :meth:`__call__`; ``stats["state"]``
        holds the state to continue from.
        """
        s = self.settings(params)
        train_kw = {k: s[k] for k in _TRAINER_KEYS if k in s}
        done = 0
        if state is not None:
            net, rng, done = state["model"], state["rng"], int(state["epochs_done"])
            loss_function, reg = self._loss_function(s)
            train_kw["learning_rate"] = _decayed_rate(train_kw, done)
            train_kw["optimizer_state"] = state["optimizer"]
            train_kw["first_cost"] = state["first_cost"]
        else:
            rng = np.random.default_rng(seed)
            net, loss_function, reg = self._new_model(s, rng)
        if epochs is not None:
            train_kw["num_epochs"] = check_epochs(epochs, done)
        if on_epoch is not None:
            train_kw["on_epoch"] = lambda epoch, stats: on_epoch(done + epoch, stats)
        bar = None
        if progress and loss_function is None:
            bar = epoch_bar(self._iterations_per_epoch(train_kw))
        try:
            best, stats = ClassifierTrainer().train(
                self.X,
                self.y,
                self.X_val,
                self.y_val,
                TickingModel(net, bar) if bar is not None else net,
                loss_function,
                reg=reg,
                rng=rng,
                abort_cost_ratio=self.abort_cost_ratio,
                verbose=verbose,
                **train_kw,
            )
        finally:
            if bar is not None:
                bar.close()
        stats["state"] = {
            "model": net,
            "optimizer": stats.pop("optimizer_state"),
            "rng": rng,
            "epochs_done": done + stats["epochs"],
            "first_cost": stats["first_cost"],
        }
        return best, stats

    def _new_model(self, s, rng):
        """(model, loss_function, reg) of a fresh trial, initialised from ``rng``."""
        dtype = s.get("dtype", self.default_dtype())
        D, C = self.X.shape[1], self.num_classes
        net: Any
        if self.model == "two_layer":
            net = init_two_layer_model(D, int(s.get("hidden_size", 50)), C, dtype=dtype, rng=rng)
        else:
            net = FullyConnectedNet(
                s.get("hidden_dims", (100,)),
                input_dim=D,
                num_classes=C,
                activation=s.get("activation", "relu"),
                weight_init=s.get("weight_init", "he"),
                batchnorm=s.get("batchnorm", False),
                reg=s.get("reg", 0.0),
                dtype=dtype,
                seed=rng,
                maxout_pieces=s.get("maxout_pieces", 2),
            )
        return (net, *self._loss_function(s))

    def _loss_function(self, s):
        """(loss_function, reg) for the trainer: the notes' function for the two-layer net,
        none for FullyConnectedNet (it holds its own reg)."""
        if self.model == "two_layer":
            return two_layer_net, s.get("reg", 0.0)
        return None, 0.0

    def _iterations_per_epoch(self, train_kw):
        batch = int(train_kw.get("batch_size", 100))
        return max(self.X.shape[0] // batch, 1) if train_kw.get("sample_batches", True) else 1

    def __call__(self, params, seed=None, *, epochs=None, state=None, on_epoch=None):
        """Train ``params``; the search's ``train_fn`` contract (see ``fastnn.search``).

        Parameters
        ----------
        params : dict
            Settings for this trial (override the fixed ones).
        seed : int, optional
            Seeds the weights, the minibatches and the train-accuracy samples.
        epochs : int, optional
            Epochs the trial has trained in total when the call returns (overrides
            ``num_epochs``).  When given, the result holds ``"state"`` to continue from.
        state : dict, optional
            The ``"state"`` an earlier call on the same ``params`` returned (the model, the
            optimizer's arrays, the random generator, ``epochs_done`` and ``first_cost``, the
            reference of ``abort_cost_ratio``): training continues from it, exactly as one
            longer run would have.  It is used up (updated in place).
        on_epoch : callable, optional
            ``on_epoch(epoch, stats) -> bool`` after every epoch, ``epoch`` counted over the
            whole trial; True stops the run.

        Returns
        -------
        dict
            ``val_acc`` (best of this call), the histories of this call's iterations and
            epochs, ``epochs`` (the trial's total), ``diverged``, ``stop_reason``; ``model``
            with ``keep_model``; ``state`` when ``epochs`` was given.
        """
        resume = {"epochs": epochs, "state": state, "on_epoch": on_epoch}
        # only the keywords in use: a fit() wrapped with the older signature still works
        best, stats = self.fit(params, seed, **{k: v for k, v in resume.items() if v is not None})
        train_kw = {k: v for k, v in self.settings(params).items() if k in _TRAINER_KEYS}
        best_val = stats.get("best_val_acc")
        done = 0 if state is None else stats["state"]["epochs_done"] - stats["epochs"]
        result = {
            "val_acc": float("nan") if best_val is None else float(best_val),
            "loss_history": stats["loss_history"],
            "train_acc_history": stats["train_acc_history"],
            "val_acc_history": stats["val_acc_history"],
            "epochs": done
            + math.ceil(len(stats["loss_history"]) / self._iterations_per_epoch(train_kw)),
            "diverged": bool(stats["diverged"]),
            "stop_reason": stats.get("stop_reason"),
        }
        if self.keep_model:
            result["model"] = best
        if epochs is not None:
            result["state"] = stats["state"]
        return result

    def __repr__(self):
        return (
            f"ModelTrainFn(model={self.model!r}, X={self.X.shape}, X_val={self.X_val.shape}, "
            f"fixed={self.fixed})"
        )


def _trainer_default(name):
    return inspect.signature(ClassifierTrainer.train).parameters[name].default


def _decayed_rate(train_kw, epochs_done):
    """The learning rate the trainer uses in epoch ``epochs_done + 1`` of one long run (decayed
    by the same repeated multiplication, so a resumed run matches it bit for bit)."""
    rate = train_kw.get("learning_rate", _trainer_default("learning_rate"))
    decay = train_kw.get("learning_rate_decay", _trainer_default("learning_rate_decay"))
    for _ in range(epochs_done):
        rate *= decay
    return rate


def make_train_fn(
    X: ArrayLike,
    y: ArrayLike,
    X_val: ArrayLike,
    y_val: ArrayLike,
    model: str | None = None,
    *,
    trainer: str = "classifier",
    abort_cost_ratio: float | None = 3.0,
    keep_model: bool = False,
    **fixed: Any,
) -> ModelTrainFn | SolverTrainFn:
    """Build a ``train_fn`` that trains the two-layer net or a FullyConnectedNet per trial.

    Parameters
    ----------
    X, y : (N, D) array and (N,) int labels
        Training data (preprocess it first, e.g. zero-centre it).
    X_val, y_val : (M, D) array and (M,) int labels
        Validation data; a trial's ``val_acc`` is its best validation accuracy.
    model : {'two_layer', 'fc'}, optional
        ``'two_layer'`` (the default with ``trainer='classifier'``): the notes'
        ``init_two_layer_model`` + ``two_layer_net`` (settings ``hidden_size``, ``reg``);
        ``'fc'`` (the default and only model with ``trainer='solver'``):
        :class:`fastnn.FullyConnectedNet` (``hidden_dims``, ``activation``, ``weight_init``,
        ``batchnorm``, ``reg``, ``maxout_pieces``; with the Solver the course's
        ``weight_scale``, ``normalization`` and ``dropout_keep_ratio`` instead of
        ``batchnorm``).
    trainer : {'classifier', 'solver'}, default 'classifier'
        ``'classifier'``: :class:`fastnn.ClassifierTrainer`; ``'solver'``: the course's
        :class:`fastnn.Solver` (a :class:`SolverTrainFn`).
    abort_cost_ratio : float or None, default 3.0
        Passed to the trainer: a run whose cost exceeds this x its first cost (or becomes
        NaN/inf) stops at once and is recorded as diverged.
    keep_model : bool, default False
        Return each trial's best model in ``trial.extra["model"]`` (costs memory and transfer).
    **fixed
        Fixed settings, the model settings above and ``dtype`` and the trainer's: with
        ``'classifier'`` any ``ClassifierTrainer.train`` keyword (``learning_rate`` or ``lr``,
        ``momentum``, ``learning_rate_decay``, ``update``, ``num_epochs``, ``batch_size``, ...);
        with ``'solver'`` the Solver's ``update_rule``, ``lr_decay``, ``batch_size``,
        ``num_epochs``, ``num_train_samples``, ``num_val_samples`` and its ``optim_config``
        keys ``learning_rate`` (or ``lr``), ``momentum``, ``decay_rate``, ``beta1``,
        ``beta2``, ``epsilon`` (only those of the update rule). Search parameters override
        them; an unknown name is a ValueError.

    Returns
    -------
    ModelTrainFn or SolverTrainFn
        ``train_fn(params, seed=None, *, epochs=None, state=None, on_epoch=None) -> dict``,
        picklable for ``n_jobs``/``executor``; with ``epochs`` it follows the contract of
        :func:`successive_halving` (a trial continues from its ``state``, exactly as one
        longer run would have).
    """
    if trainer == "solver":
        return SolverTrainFn(
            X,
            y,
            X_val,
            y_val,
            "fc" if model is None else model,
            abort_cost_ratio,
            keep_model,
            fixed,
        )
    if trainer != "classifier":
        raise ValueError(f"unknown trainer {trainer!r}; choose one of {', '.join(TRAINERS)}")
    return ModelTrainFn(
        X,
        y,
        X_val,
        y_val,
        "two_layer" if model is None else model,
        abort_cost_ratio,
        keep_model,
        fixed,
    )
