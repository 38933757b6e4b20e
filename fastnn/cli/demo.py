"""``fastnn demo``: the lecture's workflow on real data, with figures and an HTML report."""

import os
import time

from fastnn._config.report import config_dict
from fastnn.cli.common import (
    CLIError,
    interrupted_code,
    prepare_output,
    say,
    say_interrupted,
    set_threads,
)
from fastnn.cli.data import load_data, zero_center
from fastnn.cli.init_stats import run_init_experiment
from fastnn.cli.training import (
    run_search,
    save_search_plots,
    save_trained_model,
    search_space,
    train_fn,
    train_once,
    trial_records,
)
from fastnn.nn.metrics import accuracy
from fastnn.nn.models import FullyConnectedNet
from fastnn.workflow.babysit import babysit
from fastnn.workflow.plotting import PLOT_MISSING, have_matplotlib
from fastnn.workflow.report import plot_training_curves, write_json, write_report

DEMO_SETTINGS = {
    # coarse round, fine round (trials, epochs); final epochs; init experiment width
    "full": {"rounds": [(20, 3), (10, 8)], "final_epochs": 40, "init_hidden": 500},
    "quick": {"rounds": [(8, 2), (4, 4)], "final_epochs": 25, "init_hidden": 200},
}
INIT_RUNS = ((0.01, "tanh"), (1.0, "tanh"), ("xavier", "tanh"), ("he", "relu"))
DEMO_HIDDEN = [100]


def _section(title):
    say(f"\n== {title}")


def cmd_demo(args):
    set_threads(args.threads)
    out_dir = prepare_output(args.out, force=args.force, command="demo")
    settings = DEMO_SETTINGS["quick" if args.quick else "full"]
    start = time.perf_counter()
    results = {
        "command": "demo",
        "quick": args.quick,
        "seed": args.seed,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "figures": {},
    }
    figures = results["figures"]

    _section("data: split train / val / test, zero-center (fitted on train only)")
    data = zero_center(load_data(args.data, seed=args.seed))
    n_features, n_classes = data["X_train"].shape[1], data["n_classes"]
    results["data"] = {
        "name": data["name"],
        "n_train": len(data["y_train"]),
        "n_val": len(data["y_val"]),
        "n_test": len(data["y_test"]),
        "n_features": n_features,
        "n_classes": n_classes,
    }
    say(
        f"{data['name']}: {len(data['y_train'])} train / {len(data['y_val'])} val / "
        f"{len(data['y_test'])} test rows, {n_features} features, {n_classes} classes"
    )

    _section("weight initialization: activation statistics of a 10-layer net (notes §4)")
    results["init_experiment"] = []
    for init, activation in INIT_RUNS:
        summary, figure = run_init_experiment(
            init,
            activation,
            out_dir,
            hidden_size=settings["init_hidden"],
            num_samples=1000,
            seed=args.seed,
            verbose=False,
        )
        results["init_experiment"].append(summary)
        if figure:
            figures[f"init_{summary['key']}"] = os.path.basename(figure)
        layers = summary["layers"]
        say(
            f"init {summary['init']:>6}, {activation:<4}: std input {layers[0]['std']:.3f}, "
            f"layer 1 {layers[1]['std']:.6f}, layer {len(layers) - 1} {layers[-1]['std']:.6f}"
        )

    _section("babysitting the learning process (notes §6)")
    fn = train_fn(data, DEMO_HIDDEN, batchnorm=True, decay=0.9)
    # The notes' small initialization makes the first loss ln(num_classes) exactly.
    small = FullyConnectedNet(
        DEMO_HIDDEN, n_features, n_classes, weight_init=1e-4, batchnorm=True, seed=args.seed
    )
    sitter = babysit(
        small,
        None,
        data["X_train"],
        data["y_train"],
        data["X_val"],
        data["y_val"],
        num_classes=n_classes,
        update=fn.fixed["update"],
        momentum=fn.fixed["momentum"],
        seed=args.seed,
    )
    results["babysit"] = [
        {"name": r.name, "passed": bool(r.passed), "message": r.explanation} for r in sitter.results
    ]
    if not sitter.passed:
        write_json(os.path.join(out_dir, "results.json"), results)
        failed = sitter.failed.name if sitter.failed is not None else "?"
        raise CLIError(f"the babysitter stopped at '{failed}': see above")
    assert sitter.learning_rate_range is not None  # set whenever the babysitter passed
    lr_range = tuple(sitter.learning_rate_range)

    _section(
        f"coarse-to-fine random search: lr in [{lr_range[0]:.0e}, {lr_range[1]:.0e}] "
        "(the babysitter's range), reg in [1e-6, 1e-1] (notes §7)"
    )
    result = run_search(fn, search_space(lr_range, (1e-6, 1e-1)), settings["rounds"], args.seed)
    if result.interrupted:
        say_interrupted(args, result)
        return interrupted_code()
    best = result.best
    if best is None:
        raise CLIError("every search trial diverged or failed")
    say("best: " + result.line(best))
    results["search"] = {
        "trials": trial_records(result),
        "best": best.to_dict(),
        "rounds": settings["rounds"],
        "lr_range": lr_range,
    }
    result.to_csv(os.path.join(out_dir, "search.csv"))
    figures.update(save_search_plots(result, out_dir))

    epochs = settings["final_epochs"]
    _section(f"training the best configuration (batchnorm, He init) for {epochs} epochs")
    t0 = time.perf_counter()
    model, stats = train_once(fn, best.params["lr"], best.params["reg"], epochs, args.seed)
    train_seconds = time.perf_counter() - t0
    if stats["diverged"]:
        results["final"] = {
            "lr": best.params["lr"],
            "reg": best.params["reg"],
            "epochs": epochs,
            "diverged": True,
            "stop_reason": stats.get("stop_reason"),
        }
        json_path = write_json(os.path.join(out_dir, "results.json"), results)
        raise CLIError(
            f"training the best configuration diverged (see the line above); "
            f"the numbers so far are in {json_path}"
        )
    test_acc = accuracy(model.loss(data["X_test"]), data["y_test"])
    results["final"] = {
        "test_accuracy": test_acc,
        "val_accuracy": stats.get("best_val_acc"),
        "lr": best.params["lr"],
        "reg": best.params["reg"],
        "epochs": epochs,
        "hidden_dims": DEMO_HIDDEN,
        "batchnorm": True,
        "train_seconds": train_seconds,
        "diverged": stats["diverged"],
    }
    results["stats"] = stats
    save_trained_model(
        os.path.join(out_dir, "model.npz"),
        model,
        data,
        epochs=epochs,
        lr=best.params["lr"],
        reg=best.params["reg"],
        accuracy=test_acc,
        accuracy_on="test",
        command="demo",
    )
    if plot_training_curves(
        stats,
        os.path.join(out_dir, "curves.png"),
        title=f"best configuration: lr {best.params['lr']:.2e}, reg {best.params['reg']:.2e}",
    ):
        figures["curves"] = "curves.png"
    if not have_matplotlib():
        results["figures_skipped"] = PLOT_MISSING
    results["seconds"] = time.perf_counter() - start
    results["config"] = {k: v for k, v in config_dict().items() if k != "modules"}

    json_path = write_json(os.path.join(out_dir, "results.json"), results)
    html_path = write_report(out_dir, results)
    _section("result")
    say(
        f"test accuracy: {test_acc:.4f} (best validation accuracy "
        f"{results['final']['val_accuracy']:.4f}); {results['seconds']:.1f} s in all"
    )
    say(f"report:  {html_path}")
    say(f"numbers: {json_path}")
    if figures:
        say("figures: " + ", ".join(sorted(figures.values())))
    else:
        say(f"figures skipped: {PLOT_MISSING}")
    return 0
