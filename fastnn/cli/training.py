"""Training for ``train``, ``search`` and ``demo``: the train function, the search, saving."""

import copy
import json
import os
import warnings

import numpy as np

from fastnn.cli.common import say
from fastnn.nn.models import FullyConnectedNet
from fastnn.nn.trainer import ClassifierTrainer
from fastnn.workflow import search
from fastnn.workflow.progress import terminal_tqdm
from fastnn.workflow.report import have_matplotlib


class _ProgressModel:
    """Wraps a model object so that every training step ticks a per-epoch progress bar.

    The trainer keeps deep copies of the best model: those are copies of the wrapped model,
    so the bar never ends up in a result.
    """

    def __init__(self, model, bar):
        self._model = model
        self._bar = bar

    @property
    def params(self):
        return self._model.params

    def loss(self, X, y=None):
        out = self._model.loss(X, y)
        if y is not None:
            if self._bar.n >= self._bar.total:
                self._bar.reset()
            self._bar.update(1)
        return out

    def __deepcopy__(self, memo):
        return copy.deepcopy(self._model, memo)


class TrainFn:
    """``train_fn(params, seed=None)`` for the search: one FullyConnectedNet run.

    params: ``lr``, ``reg`` and ``num_epochs``.  A top-level class (not a closure) so that
    ``n_jobs > 1`` can send it to worker processes.
    """

    def __init__(self, data, hidden, activation="relu", weight_init="he", batchnorm=True,
                 update="momentum", momentum=0.9, batch_size=100, decay=0.95):
        self.X, self.y = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.n_classes = data["n_classes"]
        self.hidden, self.activation, self.weight_init = list(hidden), activation, weight_init
        self.batchnorm, self.update, self.momentum = batchnorm, update, momentum
        self.batch_size, self.decay = batch_size, decay

    @classmethod
    def from_args(cls, args, data):
        """The TrainFn of the model and training options of ``train`` and ``search``."""
        return cls(data, args.hidden, args.activation, args.init, args.batchnorm, args.update,
                   args.momentum, args.batch_size, args.decay)

    def build(self, reg, seed):
        return FullyConnectedNet(self.hidden, self.X.shape[1], self.n_classes,
                                 activation=self.activation, weight_init=self.weight_init,
                                 batchnorm=self.batchnorm, reg=reg, seed=seed)

    def train(self, lr, reg, num_epochs, seed=None, verbose=False, progress=False):
        model = self.build(reg, seed)
        bar = None
        if progress:
            tqdm = terminal_tqdm()
            if tqdm is not None:  # a per-epoch bar, one tick per iteration
                bar = tqdm(total=max(len(self.y) // self.batch_size, 1), desc="epoch", unit="it",
                           leave=False)
        try:
            best, stats = ClassifierTrainer().train(
                self.X, self.y, self.X_val, self.y_val,
                _ProgressModel(model, bar) if bar is not None else model,
                learning_rate=lr, momentum=self.momentum, learning_rate_decay=self.decay,
                update=self.update, num_epochs=num_epochs, batch_size=self.batch_size,
                verbose=verbose, seed=seed, abort_cost_ratio=3.0)
        finally:
            if bar is not None:
                bar.close()
        return best, stats

    def __call__(self, params, seed=None):
        best, stats = self.train(params["lr"], params["reg"], params["num_epochs"], seed=seed)
        val = stats.get("best_val_acc")
        return {"val_acc": float("nan") if val is None else val,
                "loss_history": stats["loss_history"],
                "train_acc_history": stats["train_acc_history"],
                "val_acc_history": stats["val_acc_history"],
                "diverged": stats["diverged"], "model": best}


def save_model(path, model, meta=None, **arrays_to_add):
    """Save a model's parameters, batchnorm running statistics, ``meta`` (a JSON string under
    ``"meta"``) and any extra arrays (the preprocessing mean) to an ``.npz`` file."""
    params = model.params if hasattr(model, "params") else model
    arrays = {name: np.asarray(value) for name, value in params.items()}
    for i, bn in enumerate(getattr(model, "bn_params", []) or []):
        for key in ("running_mean", "running_var"):
            if key in bn:
                arrays[f"bn{i + 1}_{key}"] = np.asarray(bn[key])
    arrays.update({name: np.asarray(value) for name, value in arrays_to_add.items()})
    arrays["meta"] = np.array(json.dumps(meta or {}))
    np.savez(path, **arrays)
    return path


def search_space(lr_range, reg_range):
    """Log-uniform learning rate and regularization over the given ranges."""
    return {"lr": search.loguniform(*lr_range), "reg": search.loguniform(*reg_range)}


def run_search(train_fn, space, rounds, seed, n_jobs=1):
    """coarse_to_fine (one round: a plain random search), its RangeEdgeWarnings printed."""
    verbose = terminal_tqdm() is not None  # the search's progress bar needs tqdm
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", search.RangeEdgeWarning)
        result = search.coarse_to_fine(train_fn, space, rounds=rounds, seed=seed, n_jobs=n_jobs,
                                       verbose=verbose)
    result.print()
    for w in caught:
        if issubclass(w.category, (search.RangeEdgeWarning, RuntimeWarning)):
            say(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def save_search_plots(result, out_dir, prefix="search"):
    """The lecture's scatter (lr vs reg) and the top trials' loss curves; paths or {}."""
    if not have_matplotlib() or result.best is None:
        return {}
    paths = {}
    ax = result.plot_scatter(x="lr", y="reg")
    paths["search"] = f"{prefix}_scatter.png"
    ax.figure.savefig(os.path.join(out_dir, paths["search"]), dpi=100)
    ax = result.plot_loss_curves(top=5)
    paths["search_loss"] = f"{prefix}_loss_curves.png"
    ax.figure.savefig(os.path.join(out_dir, paths["search_loss"]), dpi=100)
    return paths


def trial_records(result):
    """Every trial as a dict without its per-iteration histories (for results.json)."""
    return [{k: v for k, v in t.to_dict().items() if not k.endswith("_history")}
            for t in result.trials]
