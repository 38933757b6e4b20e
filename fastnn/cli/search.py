"""``fastnn search``: the notes' coarse-to-fine random search over lr and regularization.

Every trial goes to ``--out``/search.db as it finishes (the search journal); ``--resume DIR``
continues the search saved there with the settings it was started with (saved in
search_command.json), running only the trials that had not finished.
"""

import json
import os
import sys

from fastnn.cli.common import (
    EXIT_TERMINATED,
    CLIError,
    interrupted_code,
    prepare_output,
    say,
    say_interrupted,
    set_threads,
    settings_record,
    signals_deferred,
)
from fastnn.cli.data import load_data, zero_center
from fastnn.cli.training import (
    run_halving_search,
    run_search,
    save_search_plots,
    save_trained_model,
    search_space,
    train_fn_from_args,
    trial_records,
)
from fastnn.workflow.persistence import load_model
from fastnn.workflow.plotting import PLOT_MISSING
from fastnn.workflow.report import write_json
from fastnn.workflow.search import SearchStopped, hyperband_brackets, require_loky

JOURNAL_FILE = "search.db"
COMMAND_FILE = "search_command.json"
# Options that may change when a search is resumed: they do not change its trials.
RESUME_OPTIONS = ("--resume", "--out", "--n-jobs", "--threads", "--trial-timeout")


# Options only some strategies read: (their default, the strategies that read them).  The
# parser leaves them None when not given (its help shows these defaults).
STRATEGY_OPTIONS = {
    "trials": (20, ("coarse-to-fine", "random", "asha")),
    "fine_trials": (10, ("coarse-to-fine",)),
    "fine_epochs": (6, ("coarse-to-fine",)),
    "max_epochs": (9, ("asha", "hyperband")),
    "eta": (3, ("asha", "hyperband")),
    "promotion": ("lazy", ("asha", "hyperband")),
}


def _strategy_options(args):
    """Fill in the defaults of the strategy options not given; a CLIError (exit 2) for one
    given that ``--strategy`` ignores (``--fine-trials 0`` with random says what random does,
    and passes)."""
    given = {name for name in STRATEGY_OPTIONS if getattr(args, name) is not None}
    for name, (default, _) in STRATEGY_OPTIONS.items():
        if name not in given:
            setattr(args, name, default)
    for name in sorted(given):
        strategies = STRATEGY_OPTIONS[name][1]
        if args.strategy in strategies or (name == "fine_trials" and args.fine_trials == 0):
            continue
        option = "--" + name.replace("_", "-")
        hint = ""
        if args.strategy == "hyperband" and name == "trials" and args.epochs <= args.max_epochs:
            brackets = hyperband_brackets(args.epochs, args.max_epochs, args.eta)
            hint = (
                f"; hyperband's brackets set the trials ({sum(n for n, _ in brackets)} from "
                f"--epochs {args.epochs} to --max-epochs {args.max_epochs}, --eta {args.eta}), "
                "--strategy asha takes a count"
            )
        raise CLIError(
            f"{option} does not apply to --strategy {args.strategy} (only to "
            f"{_listed(strategies)}){hint}",
            code=2,
        )


def _listed(names):
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def cmd_search(args):
    if args.resume is not None:
        args = _resumed(args)
    _strategy_options(args)
    set_threads(args.threads)
    if args.n_jobs > 1:
        try:
            require_loky("--n-jobs > 1", "")
        except ImportError as exc:
            raise CLIError(str(exc)) from None
    if args.strategy in ("asha", "hyperband") and args.epochs > args.max_epochs:
        raise CLIError(
            f"--epochs ({args.epochs}) must not exceed --max-epochs ({args.max_epochs}): "
            "the first rung trains --epochs, the last --max-epochs",
            code=2,
        )
    resume = args.resume is not None
    out_dir = prepare_output(args.out, force=args.force, resume=resume, command="search")
    if not resume:
        # argv as typed, and the folder its relative paths start from (a resume may run
        # elsewhere)
        command = [a for a in args.argv if a != "--force"]
        write_json(os.path.join(out_dir, COMMAND_FILE), {"argv": command, "cwd": os.getcwd()})
    data = zero_center(load_data(args.data, seed=args.seed))
    fn = train_fn_from_args(args, data)
    space = search_space(args.lr_range, args.reg_range)
    try:
        if args.strategy in ("asha", "hyperband"):
            result = run_halving_search(
                fn,
                space,
                args,
                storage=os.path.join(out_dir, JOURNAL_FILE),
                resume=resume,
                trial_timeout=args.trial_timeout,
                median_stop=args.median_stop,
            )
        else:
            rounds = [(args.trials, args.epochs)]
            if args.fine_trials and args.strategy == "coarse-to-fine":
                rounds.append((args.fine_trials, args.fine_epochs))
            result = run_search(
                fn,
                space,
                rounds,
                args.seed,
                n_jobs=args.n_jobs,
                storage=os.path.join(out_dir, JOURNAL_FILE),
                resume=resume,
                trial_timeout=args.trial_timeout,
                median_stop=args.median_stop,
            )
    except SearchStopped as exc:  # workers kept dying: save what finished, then say why
        with signals_deferred():
            _save_trials(exc.result, out_dir)
        raise CLIError(f"{exc} (the finished trials are in {out_dir})") from None
    except ValueError as exc:  # the journal does not hold this search
        raise CLIError(str(exc)) from None
    if result.interrupted:  # Ctrl-C or SIGTERM: save what finished, then exit 130 / 143
        say_interrupted(args, result)
    saved: list[str] = []
    try:
        return _save(args, result, data, fn, out_dir, saved)
    except KeyboardInterrupt:  # a signal while saving: what was saved is whole
        how = "terminated (SIGTERM)" if interrupted_code() == EXIT_TERMINATED else "interrupted"
        kept = f"saved {', '.join(saved)} in {out_dir}" if saved else "saved nothing"
        rest = f"; fastnn search --resume {out_dir} saves the rest"
        if "results.json" in saved:  # the last file: nothing is left to save
            rest = ""
        say(f"fastnn search: {how} while saving the results: {kept}{rest}", file=sys.stderr)
        return interrupted_code()


def _save(args, result, data, fn, out_dir, saved):
    """Write the search's files, the trials first; ``saved`` lists those written.

    A signal waits while a file is written and stops the command before the next one: raised
    inside NumPy's or matplotlib's code, a KeyboardInterrupt can come out as another error
    (matplotlib's "Invalid affine transformation matrix") or be lost.  Only training the
    best trial again (when it came from the journal) is interrupted at once."""
    best = result.best
    if best is None:
        with signals_deferred():
            _save_trials(result, out_dir, saved)
        if result.interrupted:
            return interrupted_code()
        raise CLIError("every trial diverged or failed: lower --lr-range")
    say("best: " + result.line(best))
    with signals_deferred():
        _save_trials(result, out_dir, saved)
    model = best.extra.get("model")
    model_path = os.path.join(out_dir, "best_model.npz")
    facts = _best_model_facts(best, data)
    if model is None and _saved_model_matches(model_path, facts):
        saved.append(os.path.basename(model_path))  # an earlier run saved it whole: keep it
    else:
        if model is None:  # the best trial was read back from the journal: train it again
            say(f"training the best trial (#{best.index}) again to save its model")
            model = fn(dict(best.params), seed=best.seed)["model"]
        with signals_deferred():
            model_path = save_trained_model(
                model_path,
                model,
                data,
                epochs=best.epochs,
                lr=best.params["lr"],
                reg=best.params["reg"],
                accuracy=best.val_acc,
                accuracy_on="validation",
                command="search",
                trial=facts["trial"],
            )
            saved.append(os.path.basename(model_path))
    with signals_deferred():
        figures = save_search_plots(result, out_dir, saved=saved)
    with signals_deferred():
        write_json(
            os.path.join(out_dir, "results.json"),
            {
                "command": "search",
                "data": data["name"],
                "settings": settings_record(args),
                "best": best.to_dict(),
                "trials": trial_records(result),
                "interrupted": result.interrupted,
            },
        )
        saved.append("results.json")
    say(f"trials saved to {os.path.join(out_dir, 'search.csv')} and search.json")
    say(f"best model saved to {model_path}")
    if figures:
        say("plots saved to " + ", ".join(os.path.join(out_dir, f) for f in figures.values()))
    else:
        say(f"figures skipped: {PLOT_MISSING}")
    return interrupted_code() if result.interrupted else 0


def _best_model_facts(best, data):
    """The meta entries of best_model.npz that say which trial of which search it holds."""
    return {
        "command": "search",
        "dataset": data["name"],
        "trial": {"round": best.round, "index": best.index, "rung": best.rung, "seed": best.seed},
        "epochs": best.epochs,
        "lr": float(best.params["lr"]),
        "reg": float(best.params["reg"]),
        "accuracy": float(best.val_acc),
    }


def _saved_model_matches(path, facts):
    """True when ``path`` is a whole model file (written by :func:`replacing`, read back
    without error) whose meta names the trial of ``facts``: a resume need not train it again."""
    try:
        meta = load_model(path).meta
    except (OSError, ValueError):  # missing, cut short or not ours
        return False
    return all(meta.get(key) == value for key, value in facts.items())


def _save_trials(result, out_dir, saved=None):
    result.to_csv(os.path.join(out_dir, "search.csv"))
    result.to_json(os.path.join(out_dir, "search.json"))
    if saved is not None:
        saved += ["search.csv", "search.json"]


def _resumed(args):
    """The arguments of the search saved in ``args.resume``, with this command line's
    options that do not change the trials (:data:`RESUME_OPTIONS`)."""
    folder = os.path.abspath(args.resume)
    given = {a.split("=", 1)[0] for a in args.argv if a.startswith("--")}
    if "--out" in given and os.path.abspath(args.out) != folder:
        raise CLIError(f"--resume {folder} continues the search in that folder: drop --out")
    other = sorted(given - set(RESUME_OPTIONS))
    if other:
        raise CLIError(
            f"--resume continues the search with the settings it was started with: drop "
            f"{', '.join(other)} (only {', '.join(RESUME_OPTIONS[2:])} may change)"
        )
    command_path = os.path.join(folder, COMMAND_FILE)
    if not os.path.isfile(os.path.join(folder, JOURNAL_FILE)) or not os.path.isfile(command_path):
        raise CLIError(f"nothing to resume in {folder}: no {JOURNAL_FILE} and {COMMAND_FILE}")
    try:
        with open(command_path, encoding="utf-8") as f:
            saved = json.load(f)
        command = saved["argv"]
        resumed = args.parser.parse_args(command)
    except (OSError, ValueError, KeyError, TypeError, SystemExit):
        raise CLIError(f"{command_path} does not hold a fastnn search command") from None
    if resumed.command != "search":
        raise CLIError(f"{command_path} does not hold a fastnn search command")
    resumed.argv, resumed.parser = command, args.parser
    resumed.out, resumed.resume, resumed.force = folder, folder, False
    kind, data_path = resumed.data
    started_in = saved.get("cwd")  # where the search started (files of older runs: here)
    if data_path is not None and isinstance(started_in, str):
        resumed.data = (kind, os.path.join(started_in, data_path))
    if "--n-jobs" in given:
        resumed.n_jobs = args.n_jobs
    if "--threads" in given:
        resumed.threads = args.threads
    if "--trial-timeout" in given:
        resumed.trial_timeout = args.trial_timeout
    return resumed
