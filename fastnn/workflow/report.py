"""Files the ``fastnn`` commands write: ``results.json``, figures and a one-page ``report.html``.

matplotlib is optional (``pip install "fastnn[plot]"``): without it every figure function returns
None and the report says the figures were skipped.  Figures are PNG files next to the report,
linked by relative paths, so the output folder can be moved or zipped as a whole.
"""

import datetime
import html
import json
import os

import numpy as np

from fastnn.workflow.atomic import replacing
from fastnn.workflow.jsonsafe import to_jsonable
from fastnn.workflow.plotting import PLOT_MISSING, figure_class, have_matplotlib

__all__ = ["write_json", "have_matplotlib", "plot_training_curves", "write_report", "PLOT_MISSING"]


def write_json(path, obj):
    """Write ``obj`` (made JSON-safe) to ``path`` whole or not at all; returns the path."""
    text = json.dumps(to_jsonable(obj), indent=2) + "\n"  # a bad value fails before any write
    with replacing(path) as tmp, open(tmp, "w") as f:
        f.write(text)
    return path


def plot_training_curves(stats, path, title=None):
    """Loss per iteration and train/val accuracy per epoch, side by side, saved to ``path``.

    stats: the trainer's dict (``loss_history``, ``train_acc_history``, ``val_acc_history``).
    Returns ``path``, or None when matplotlib is not installed.
    """
    Figure = figure_class()
    if Figure is None:
        return None
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    loss = np.asarray(stats.get("loss_history", []), dtype=float)
    ax_loss.plot(np.arange(1, loss.size + 1), loss, lw=0.8, color="tab:blue")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss")
    train = stats.get("train_acc_history", [])
    val = stats.get("val_acc_history", [])
    ax_acc.plot(np.arange(1, len(train) + 1), train, marker="o", ms=3, label="train")
    ax_acc.plot(np.arange(1, len(val) + 1), val, marker="o", ms=3, label="val")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("classification accuracy")
    ax_acc.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path


# ----------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.pass { color: #14723a; font-weight: bold; } .fail { color: #b3261e; font-weight: bold; }
.big { font-size: 1.6em; font-weight: bold; } .note { color: #666; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
"""


def _e(value):
    return html.escape(str(value))


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _percent(value):
    """An accuracy as a percentage; a missing one (None, e.g. a diverged run) as 'n/a'."""
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _table(headers, rows, left=1):
    out = [
        "<table>",
        "<tr>"
        + "".join(
            f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers)
        )
        + "</tr>",
    ]
    for row in rows:
        out.append(
            "<tr>"
            + "".join(
                f'<td class="{"l" if i < left else ""}">{_e(_fmt(v))}</td>'
                for i, v in enumerate(row)
            )
            + "</tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _figure(figures, key, alt, out_dir):
    name = figures.get(key)
    if not name or not os.path.exists(os.path.join(out_dir, name)):
        return ""
    return f'<img src="{_e(name)}" alt="{_e(alt)}">'


def write_report(out_dir, results, filename="report.html"):
    """Write the one-page HTML report of a ``fastnn demo`` run; returns its path.

    results: the dict saved as ``results.json`` (missing sections are left out).  Figures are
    referenced by the file names in ``results["figures"]``, relative to ``out_dir``.
    """
    figures = results.get("figures", {})
    parts = [
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>fastnn demo report</title><style>{_CSS}</style></head><body>",
        "<h1>fastnn demo report</h1>",
    ]
    when = results.get("created") or datetime.datetime.now().isoformat(timespec="seconds")
    data = results.get("data", {})
    parts.append(
        f"<p class='note'>{_e(when)} &middot; data: {_e(data.get('name', '?'))} "
        f"({_e(data.get('n_train', '?'))} train / {_e(data.get('n_val', '?'))} val / "
        f"{_e(data.get('n_test', '?'))} test, {_e(data.get('n_features', '?'))} features, "
        f"{_e(data.get('n_classes', '?'))} classes)</p>"
    )

    final = results.get("final")
    if final:
        parts.append("<h2>Result</h2>")
        parts.append(
            f"<p>test accuracy <span class='big' id='test-accuracy'>"
            f"{_percent(final.get('test_accuracy'))}</span> &nbsp; (best validation "
            f"accuracy {_percent(final.get('val_accuracy'))})</p>"
        )
        rows = [[k, v] for k, v in final.items() if k not in ("stats",)]
        parts.append(_table(["", "value"], rows))
        parts.append(_figure(figures, "curves", "loss and accuracy curves", out_dir))

    babysit = results.get("babysit")
    if babysit:
        parts.append("<h2>Babysitting the learning process</h2>")
        rows = [
            [
                step.get("name", ""),
                "pass" if step.get("passed") else "FAIL",
                step.get("message", ""),
            ]
            for step in babysit
        ]
        table = _table(["check", "verdict", "explanation"], rows, left=3)
        table = table.replace('<td class="l">pass</td>', '<td class="l pass">pass</td>')
        table = table.replace('<td class="l">FAIL</td>', '<td class="l fail">FAIL</td>')
        parts.append(table)

    search = results.get("search")
    if search:
        parts.append("<h2>Hyper-parameter search (coarse to fine)</h2>")
        trials = search.get("trials", [])
        keys = sorted({k for t in trials for k in t.get("params", {})})
        top = sorted(trials, key=lambda t: -(t.get("val_acc") or -1.0))[:15]
        rows = [
            [
                t.get("round", 0) + 1,
                *[t["params"].get(k, "") for k in keys],
                t.get("val_acc"),
                t.get("train_acc"),
                t.get("status", ""),
            ]
            for t in top
        ]
        parts.append(f"<p>{len(trials)} trials; the best {len(rows)} by validation accuracy:</p>")
        parts.append(_table(["round", *keys, "val acc", "train acc", "status"], rows))
        parts.append(
            _figure(figures, "search", "search scatter: learning rate vs regularization", out_dir)
        )
        parts.append(_figure(figures, "search_loss", "loss curves of the best trials", out_dir))

    init = results.get("init_experiment")
    if init:
        parts.append("<h2>Weight initialization experiment</h2>")
        for run in init:
            parts.append(f"<h3>init {_e(run['init'])}, {_e(run['activation'])}</h3>")
            rows = [[layer["name"], layer["mean"], layer["std"]] for layer in run["layers"]]
            parts.append(_table(["layer", "mean", "std"], rows))
            parts.append(
                _figure(
                    figures, f"init_{run['key']}", f"activation histograms {run['key']}", out_dir
                )
            )

    if results.get("figures_skipped"):
        parts.append(f"<p class='fail'>Figures skipped: {_e(results['figures_skipped'])}</p>")
    config = results.get("config")
    if config:
        parts.append("<h2>Machine</h2>")
        parts.append(
            _table(["", "value"], [[k, v] for k, v in config.items() if not isinstance(v, dict)])
        )
    parts.append("</body></html>\n")
    path = os.path.join(out_dir, filename)
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(p for p in parts if p))
    return path
