"""``fastnn search``: the notes' coarse-to-fine random search over lr and regularization."""

import os

from fastnn.cli.common import (
    CLIError,
    output_folder,
    say,
    say_interrupted,
    set_threads,
    settings_record,
)
from fastnn.cli.data import load_data, zero_center
from fastnn.cli.training import (
    run_search,
    save_search_plots,
    save_trained_model,
    search_space,
    train_fn_from_args,
    trial_records,
)
from fastnn.workflow.plotting import PLOT_MISSING
from fastnn.workflow.report import write_json
from fastnn.workflow.search import require_loky


def cmd_search(args):
    set_threads(args.threads)
    if args.n_jobs > 1:
        try:
            require_loky("--n-jobs > 1", "")
        except ImportError as exc:
            raise CLIError(str(exc)) from None
    out_dir = output_folder(args.out)
    data = zero_center(load_data(args.data, seed=args.seed))
    fn = train_fn_from_args(args, data)
    rounds = [(args.trials, args.epochs)]
    if args.fine_trials:
        rounds.append((args.fine_trials, args.fine_epochs))
    result = run_search(
        fn, search_space(args.lr_range, args.reg_range), rounds, args.seed, n_jobs=args.n_jobs
    )
    if result.interrupted:  # Ctrl-C: save what finished, then exit 130
        say_interrupted(args, result)
    best = result.best
    if best is None:
        if result.interrupted:
            return 130
        raise CLIError("every trial diverged or failed: lower --lr-range")
    say("best: " + result.line(best))
    result.to_csv(os.path.join(out_dir, "search.csv"))
    result.to_json(os.path.join(out_dir, "search.json"))
    model_path = save_trained_model(
        os.path.join(out_dir, "best_model.npz"),
        best.extra["model"],
        data,
        epochs=best.epochs,
        lr=best.params["lr"],
        reg=best.params["reg"],
        accuracy=best.val_acc,
        accuracy_on="validation",
        command="search",
    )
    figures = save_search_plots(result, out_dir)
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
    say(f"trials saved to {os.path.join(out_dir, 'search.csv')} and search.json")
    say(f"best model saved to {model_path}")
    if figures:
        say("plots saved to " + ", ".join(os.path.join(out_dir, f) for f in figures.values()))
    else:
        say(f"figures skipped: {PLOT_MISSING}")
    return 130 if result.interrupted else 0
