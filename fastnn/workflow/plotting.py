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
