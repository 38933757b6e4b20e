"""matplotlib, an optional dependency (the ``plot`` extra), imported in one place.

Figures are bare ``matplotlib.figure.Figure`` objects: no pyplot state and no GUI backend, so
they are safe in scripts, servers and notebooks.
"""

PLOT_MISSING = 'matplotlib is not installed (pip install "fastnn[plot]")'


def figure_class(missing=None):
    """matplotlib's ``Figure`` class; when matplotlib is not installed, None, or an ImportError
    with the message ``missing`` if one is given."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        if missing is not None:
            raise ImportError(missing) from None
        return None
    return Figure


def have_matplotlib():
    """True when matplotlib can be imported (figures are drawn), False otherwise."""
    return figure_class() is not None


def rung_plot(ax, curves):
    """Draw ``(val_acc_history, stopped)`` curves on ``ax`` against epochs 1, 2, ...:
    stopped ones thin and grey, the others in colour on top."""
    for stopped in (True, False):
        for history, is_stopped in curves:
            if is_stopped is stopped and len(history):
                epochs = range(1, len(history) + 1)
                if stopped:
                    ax.plot(epochs, history, color="0.7", lw=0.8, marker=".", ms=3)
                else:
                    ax.plot(epochs, history, lw=1.5, marker="o", ms=3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    return ax
