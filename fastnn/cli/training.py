"""Training for ``train``, ``search`` and ``demo``: the train function, the search, saving."""

import os
import warnings

from fastnn.cli.common import CLIError, say
from fastnn.workflow import search
from fastnn.workflow.atomic import replacing
from fastnn.workflow.persistence import save_model
from fastnn.workflow.plotting import have_matplotlib
from fastnn.workflow.progress import terminal_tqdm


def train_fn(
    data,
    hidden,
    activation="relu",
    weight_init="he",
    batchnorm=True,
    update="momentum",
    momentum=0.9,
    batch_size=100,
    decay=0.95,
):
    """The commands' train function: :func:`fastnn.search.make_train_fn` for a
    FullyConnectedNet on ``data`` that keeps each trial's best model."""
    return search.make_train_fn(
        data["X_train"],
        data["y_train"],
        data["X_val"],
        data["y_val"],
        model="fc",
        keep_model=True,
        hidden_dims=list(hidden),
        activation=activation,
        weight_init=weight_init,
        batchnorm=batchnorm,
        update=update,
        momentum=momentum,
        batch_size=batch_size,
        learning_rate_decay=decay,
    )


def train_fn_from_args(args, data):
    """:func:`train_fn` with the model and training options of ``train`` and ``search``."""
    return train_fn(
        data,
        args.hidden,
        args.activation,
        args.init,
        args.batchnorm,
        args.update,
        args.momentum,
        args.batch_size,
        args.decay,
    )


def train_once(fn, lr, reg, num_epochs, seed):
    """The final run of ``train`` and ``demo``: epoch lines and a progress bar on a terminal;
    returns ``(best_model, stats)``."""
    return fn.fit(
        {"lr": lr, "reg": reg, "num_epochs": num_epochs}, seed, verbose=True, progress=True
    )


def save_trained_model(path, model, data, *, epochs, lr, reg, accuracy, accuracy_on, **facts):
    """Save ``model`` with the data's zero-centering (:func:`fastnn.save_model`) and the meta
    every command writes: the training settings, the architecture, the data and the accuracy
    (``accuracy_on``: "test" or "validation").  ``facts`` adds command-specific entries."""
    meta = {
        "epochs": int(epochs),
        "lr": float(lr),
        "reg": float(reg),
        "hidden_dims": [int(model.params[f"b{i}"].shape[0]) for i in range(1, model.num_layers)],
        "activation": model.activation,
        "batchnorm": model.batchnorm,
        "input_dim": int(data["X_train"].shape[1]),
        "classes": list(range(data["n_classes"])),
        "accuracy": None if accuracy is None else float(accuracy),
        "accuracy_on": accuracy_on,
        "dataset": data["name"],
        **facts,
    }
    return save_model(path, model, preprocess=data["center"], meta=meta)


def search_space(lr_range, reg_range):
    """Log-uniform learning rate and regularization over the given ranges."""
    return {"lr": search.loguniform(*lr_range), "reg": search.loguniform(*reg_range)}


def run_search(train_fn, space, rounds, seed, n_jobs=1, **options):
    """coarse_to_fine (one round: a plain random search), its RangeEdgeWarnings printed;
    ``options``: coarse_to_fine's (storage, resume, trial_timeout, median_stop)."""
    verbose = terminal_tqdm() is not None  # the search's progress bar needs tqdm
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", search.RangeEdgeWarning)
        result = search.coarse_to_fine(
            train_fn, space, rounds=rounds, seed=seed, n_jobs=n_jobs, verbose=verbose, **options
        )
    result.print()
    for w in caught:
        if issubclass(w.category, (search.RangeEdgeWarning, RuntimeWarning)):
            say(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def run_halving_search(train_fn, space, args, **options):
    """``--strategy asha`` (successive halving; ASHA with --n-jobs > 1) or ``hyperband``, from
    ``--epochs`` to ``--max-epochs``; a bad combination is a CLIError.  ``options``: the
    search's (storage, resume, trial_timeout, median_stop)."""
    verbose = terminal_tqdm() is not None
    common = {
        "min_epochs": args.epochs,
        "max_epochs": args.max_epochs,
        "eta": args.eta,
        "promotion": args.promotion,
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "verbose": verbose,
        **options,
    }
    try:
        if args.strategy == "hyperband":
            result = search.hyperband(train_fn, space, **common)
        else:
            result = search.successive_halving(train_fn, space, args.trials, **common)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    result.print()
    return result


def save_search_plots(result, out_dir, prefix="search", saved=None):
    """The lecture's scatter (lr vs reg) and the top trials' loss curves; paths or {}.
    ``saved``: a list that gets each file's name as soon as it is written."""
    if not have_matplotlib() or result.best is None:
        return {}
    paths = {}

    def save(key, name, ax):
        with replacing(os.path.join(out_dir, name)) as tmp:
            ax.figure.savefig(tmp, dpi=100)
        paths[key] = name
        if saved is not None:
            saved.append(name)

    save("search", f"{prefix}_scatter.png", result.plot_scatter(x="lr", y="reg"))
    save("search_loss", f"{prefix}_loss_curves.png", result.plot_loss_curves(top=5))
    if any(t.rung is not None for t in result.trials):
        save("search_rungs", f"{prefix}_rungs.png", result.plot_rungs())
    return paths


def trial_records(result):
    """Every trial as a dict without its per-iteration histories (for results.json)."""
    return [
        {k: v for k, v in t.to_dict().items() if not k.endswith("_history")} for t in result.trials
    ]
