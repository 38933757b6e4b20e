"""``fastnn train``: train a fully connected net, print the notes' epoch lines, save it."""

import os
import time

import fastnn
from fastnn.cli.common import CLIError, prepare_output, say, set_threads, settings_record
from fastnn.cli.data import load_data, zero_center
from fastnn.cli.training import save_trained_model, train_fn_from_args, train_once
from fastnn.nn.metrics import accuracy
from fastnn.workflow.plotting import PLOT_MISSING
from fastnn.workflow.report import plot_training_curves, write_json


def cmd_train(args):
    set_threads(args.threads)
    out_dir = prepare_output(args.out, force=args.force, command="train")
    data = zero_center(load_data(args.data, seed=args.seed))
    say(
        f"data: {data['name']}: {len(data['y_train'])} train / {len(data['y_val'])} val / "
        f"{len(data['y_test'])} test rows, {data['X_train'].shape[1]} features"
    )
    fn = train_fn_from_args(args, data)
    start = time.perf_counter()
    try:
        model, stats = train_once(fn, args.lr, args.reg, args.epochs, args.seed)
    except ValueError as exc:  # a setting the trainer or model rejects
        raise CLIError(str(exc)) from None
    seconds = time.perf_counter() - start
    test_acc = accuracy(model.loss(data["X_test"]), data["y_test"])
    say(f"test accuracy: {test_acc:.4f} ({seconds:.1f} s of training)")
    model_path = save_trained_model(
        os.path.join(out_dir, "model.npz"),
        model,
        data,
        epochs=args.epochs,
        lr=args.lr,
        reg=args.reg,
        accuracy=test_acc,
        accuracy_on="test",
        command="train",
    )
    curves = plot_training_curves(stats, os.path.join(out_dir, "curves.png"))
    write_json(
        os.path.join(out_dir, "results.json"),
        {
            "command": "train",
            "data": data["name"],
            "settings": settings_record(args),
            "test_accuracy": test_acc,
            "best_val_acc": stats.get("best_val_acc"),
            "diverged": stats["diverged"],
            "stop_reason": stats.get("stop_reason"),
            "seconds": seconds,
            "stats": stats,
            "fastnn": fastnn.__version__,
        },
    )
    say(f"best model saved to {model_path}")
    say(f"curves saved to {curves}" if curves else f"figures skipped: {PLOT_MISSING}")
    say(f"numbers saved to {os.path.join(out_dir, 'results.json')}")
    if stats["diverged"]:
        raise CLIError("training diverged (see the line above): lower --lr")
    return 0
