"""train_fn builder for FullyConnectedNet trained by the course's Solver (resumable trials)."""

import copy
import inspect
import math

import numpy as np

from fastnn.nn.models import FullyConnectedNet
from fastnn.reference.optim_rules import RULE_DEFAULTS
from fastnn.workflow.search._train_fn_base import ALIASES, TrainFnBase, check_epochs
from fastnn.workflow.solver import Solver

# Solver keywords a search may set
_SOLVER_KEYS = (
    "update_rule",
    "lr_decay",
    "batch_size",
    "num_epochs",
    "num_train_samples",
    "num_val_samples",
)
# the update rules' optim_config keys (each rule takes those of RULE_DEFAULTS[rule])
_OPTIM_KEYS = ("learning_rate", "momentum", "decay_rate", "beta1", "beta2", "epsilon")
# FullyConnectedNet keywords: the course's, and fastnn's activation / weight_init
_MODEL_KEYS = (
    "hidden_dims",
    "activation",
    "weight_init",
    "weight_scale",
    "normalization",
    "dropout_keep_ratio",
    "maxout_pieces",
    "reg",
    "dtype",
)


class DropoutFromGenerator:
    """A FullyConnectedNet whose training forward passes take their dropout masks' seeds from
    ``rng`` (the trial's generator, which also draws the minibatches), so a trial with dropout
    is reproducible and a resumed one draws the masks one long run would."""

    def __init__(self, net, rng):
        self.net, self.rng = net, rng

    @property
    def params(self):
        return self.net.params

    @params.setter
    def params(self, value):
        self.net.params = value

    def loss(self, X, y=None):
        if y is not None:
            self.net.dropout_param["seed"] = int(self.rng.integers(2**63))
        return self.net.loss(X, y)


class BestEpochModel:
    """An ``on_epoch`` hook that keeps a copy of ``net`` (params and batchnorm running
    statistics) as it was at the best epoch-end validation check, then calls ``on_epoch``.

    The Solver's own ``best_params`` may come from its check after the first iteration, which
    no epoch history holds, and leave the running statistics of the last iteration: the copy
    kept here is the model whose accuracy the result reports.
    """

    def __init__(self, net, on_epoch=None):
        self.net, self.on_epoch = net, on_epoch
        self.model = None  # the copy, once an epoch has ended
        self.best = -math.inf

    def __call__(self, epoch, stats):
        # first best wins, as in the Solver (NaN never replaces a copy)
        if self.model is None or stats["val_acc"] > self.best:
            self.best, self.model = stats["val_acc"], copy.deepcopy(self.net)
            self.model.dropout_param.pop("seed", None)  # the trial's mask seed, not the model's
        return bool(self.on_epoch(epoch, stats)) if self.on_epoch is not None else False


class SolverTrainFn(TrainFnBase):
    """A picklable ``train_fn(params, seed=None, *, epochs=None, state=None, on_epoch=None)``:
    one :class:`fastnn.Solver` run of a :class:`fastnn.FullyConnectedNet` per call.

    Built by :func:`make_train_fn` with ``trainer='solver'``; ``params`` override the fixed
    settings given there.  The training data travel with the object to worker processes.
    """

    def __init__(self, X, y, X_val, y_val, model, abort_cost_ratio, keep_model, fixed):
        if model == "two_layer":
            raise ValueError(
                "trainer='solver' trains a model object (params and loss()); the notes' "
                "two-layer net is a function pair (init_two_layer_model, two_layer_net): use "
                "model='fc', or trainer='classifier' for the two-layer net"
            )
        if model != "fc":
            raise ValueError(f"unknown model {model!r} for trainer='solver'; choose 'fc'")
        super().__init__(X, y, X_val, y_val, model, abort_cost_ratio, keep_model, fixed)

    @property
    def valid_params(self):
        """The parameter names this train_fn understands (``lr`` is an alias of learning_rate)."""
        return (*_SOLVER_KEYS, *_OPTIM_KEYS, *_MODEL_KEYS, *ALIASES)

    def _new_model(self, s, rng):
        """A fresh trial's FullyConnectedNet, its weights drawn from ``rng``."""
        model_kw = {k: s[k] for k in _MODEL_KEYS if k in s}
        model_kw.setdefault("hidden_dims", (100,))
        model_kw.setdefault("dtype", self.default_dtype())
        return FullyConnectedNet(
            input_dim=self.X.shape[1], num_classes=self.num_classes, seed=rng, **model_kw
        )

    def _solver_settings(self, s):
        """(update_rule, optim_config, the other Solver keywords) from the settings."""
        rule = s.get("update_rule", _solver_default("update_rule"))
        optim_config = {k: s[k] for k in _OPTIM_KEYS if k in s}
        if isinstance(rule, str) and rule in RULE_DEFAULTS:
            unused = [k for k in optim_config if k not in RULE_DEFAULTS[rule]]
            if unused:
                raise ValueError(
                    f"update_rule {rule!r} takes no {', '.join(unused)}; its settings are "
                    f"{', '.join(k for k in RULE_DEFAULTS[rule] if k != 't')}"
                )
        solver_kw = {k: s[k] for k in _SOLVER_KEYS if k in s and k != "update_rule"}
        return rule, optim_config, solver_kw

    def __call__(self, params, seed=None, *, epochs=None, state=None, on_epoch=None):
        """Train ``params``; the search's ``train_fn`` contract (see ``fastnn.search``).

        Parameters
        ----------
        params : dict
            Settings for this trial (override the fixed ones).
        seed : int, optional
            Seeds the weights, the minibatches, the accuracy samples and the dropout masks.
        epochs : int, optional
            Epochs the trial has trained in total when the call returns (overrides
            ``num_epochs``).  When given, the result holds ``"state"`` to continue from.
        state : dict, optional
            The ``"state"`` an earlier call on the same ``params`` returned (the model with its
            last params, the Solver's ``optim_configs``, the random generator,
            ``epochs_done`` and ``first_loss``, the reference of ``abort_cost_ratio``):
            training continues from it, exactly as one longer run would have.  It is used up
            (updated in place).
        on_epoch : callable, optional
            ``on_epoch(epoch, stats) -> bool`` after every epoch (the Solver's stats),
            ``epoch`` counted over the whole trial; True stops the run.

        Returns
        -------
        dict
            ``val_acc`` (best epoch of this call), ``loss_history`` (this call's iterations),
            ``train_acc_history`` and ``val_acc_history`` (one entry per epoch of this call:
            the Solver's check after the first iteration is left out), ``epochs`` (the
            trial's total), ``diverged``, ``stop_reason``; ``model`` with ``keep_model``: a
            copy of the model at this call's best epoch (its params and batchnorm statistics),
            whose validation accuracy is ``val_acc``; ``state`` when ``epochs`` was given.
        """
        s = self.settings(params)
        rule, optim_config, solver_kw = self._solver_settings(s)
        done = 0
        if state is not None:
            net, rng, done = state["model"], state["rng"], int(state["epochs_done"])
        else:
            rng = np.random.default_rng(seed)
            net = self._new_model(s, rng)
        if epochs is None:
            total = done + solver_kw.get("num_epochs", _solver_default("num_epochs"))
        else:
            total = done + check_epochs(epochs, done)
        solver_kw["num_epochs"] = total
        data = {"X_train": self.X, "y_train": self.y, "X_val": self.X_val, "y_val": self.y_val}
        best_epoch = BestEpochModel(net, on_epoch) if self.keep_model else None
        solver = Solver(
            DropoutFromGenerator(net, rng) if net.use_dropout else net,
            data,
            update_rule=rule,
            optim_config=optim_config,
            verbose=False,
            seed=rng,
            on_epoch=on_epoch if best_epoch is None else best_epoch,
            abort_cost_ratio=self.abort_cost_ratio,
            **solver_kw,
        )
        if state is not None:
            solver.epoch = done
            solver.optim_configs = state["optim_configs"]
            solver.first_loss = state["first_loss"]
        try:
            solver.train()
        finally:
            net.dropout_param.pop("seed", None)
        # the state continues from the last params (the Solver left the best check's in net)
        net.params = solver.final_params
        epochs_run = solver.epoch - done  # one accuracy check at the end of each

        def this_call(history):
            return history[len(history) - epochs_run :]

        val_acc_history = this_call(solver.val_acc_history)
        iterations_per_epoch = max(self.X.shape[0] // solver.batch_size, 1)
        result = {
            # the best epoch of this call, the one keep_model's model is a copy of
            "val_acc": max(val_acc_history) if val_acc_history else float("nan"),
            "loss_history": solver.loss_history,
            "train_acc_history": this_call(solver.train_acc_history),
            "val_acc_history": val_acc_history,
            "epochs": done + math.ceil(len(solver.loss_history) / iterations_per_epoch),
            "diverged": solver.diverged,
            "stop_reason": solver.stop_reason,
        }
        if best_epoch is not None:
            result["model"] = best_epoch.model
        if epochs is not None:
            result["state"] = {
                "model": net,
                "optim_configs": solver.optim_configs,
                "rng": rng,
                "epochs_done": solver.epoch,
                "first_loss": solver.first_loss,
            }
        return result

    def __repr__(self):
        return (
            f"SolverTrainFn(model={self.model!r}, X={self.X.shape}, X_val={self.X_val.shape}, "
            f"fixed={self.fixed})"
        )


def _solver_default(name):
    return inspect.signature(Solver).parameters[name].default
