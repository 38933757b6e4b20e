"""``fastnn init-stats``: the notes' weight-initialization experiment, with histograms."""

import os

from fastnn.cli.common import output_folder, say
from fastnn.workflow.diagnostics import activation_statistics, plot_activation_histograms
from fastnn.workflow.plotting import PLOT_MISSING, have_matplotlib

INIT_STATS_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def _init_label(init):
    return init if isinstance(init, str) else f"{init:g}"


def run_init_experiment(
    init,
    activation,
    out_dir=None,
    num_layers=10,
    hidden_size=500,
    num_samples=1000,
    seed=0,
    verbose=True,
):
    """One run of the notes' initialization experiment; returns (summary dict, figure path or None).

    The summary holds the per-layer means and stds (for results.json and the report); the
    histogram figure is saved to ``out_dir`` when matplotlib is installed.
    """
    stats = activation_statistics(
        init,
        activation,
        num_layers=num_layers,
        hidden_size=hidden_size,
        num_samples=num_samples,
        seed=seed,
        verbose=verbose,
    )
    key = f"{_init_label(init)}_{activation}".replace(".", "p")
    layers = [{"name": "input", "mean": stats.input_mean, "std": stats.input_std}]
    layers += [
        {"name": f"hidden {i + 1}", "mean": float(m), "std": float(s)}
        for i, (m, s) in enumerate(zip(stats.layer_means, stats.layer_stds))
    ]
    summary = {"key": key, "init": _init_label(init), "activation": activation, "layers": layers}
    figure = None
    if out_dir is not None and have_matplotlib():
        figure = os.path.join(out_dir, f"init_{key}.png")
        plot_activation_histograms(stats, path=figure)
    return summary, figure


def cmd_init_stats(args):
    out_dir = output_folder(args.out)
    _, figure = run_init_experiment(
        args.init,
        args.activation,
        out_dir,
        num_layers=args.layers,
        hidden_size=args.hidden,
        num_samples=args.samples,
        seed=args.seed,
    )
    if figure:
        say(f"histograms saved to {figure}")
    else:
        say(f"figure skipped: {PLOT_MISSING}")
    return 0
