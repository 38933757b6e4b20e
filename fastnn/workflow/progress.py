"""Progress bars: tqdm on a terminal, nothing in logs and pipes (bars garble them)."""

import copy
import sys

PROGRESS_MISSING = 'the progress bar needs tqdm: install it with pip install "fastnn[progress]"'


def is_terminal(stream):
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def terminal_tqdm(required=False):
    """The ``tqdm`` class when stderr is a terminal and tqdm is installed, else None.

    With ``required=True`` a missing tqdm (on a terminal) is an ImportError naming the extra.
    """
    if not is_terminal(sys.stderr):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if required:
            raise ImportError(PROGRESS_MISSING) from None
        return None
    return tqdm


def epoch_bar(iterations_per_epoch):
    """A per-epoch bar (one tick per training iteration) on a terminal, else None."""
    tqdm = terminal_tqdm()
    if tqdm is None:
        return None
    return tqdm(total=iterations_per_epoch, desc="epoch", unit="it", leave=False)


class TickingModel:
    """Wraps a model object so that every training step ticks an :func:`epoch_bar`.

    The trainer keeps deep copies of the best model: those are copies of the wrapped model,
    so the bar never ends up in a result.
    """

    def __init__(self, model, bar):
        self._model = model
        self._bar = bar

    @property
    def params(self):
        return self._model.params

    def loss(self, X, y=None):
        out = self._model.loss(X, y)
        if y is not None:
            if self._bar.n >= self._bar.total:
                self._bar.reset()
            self._bar.update(1)
        return out

    def __deepcopy__(self, memo):
        return copy.deepcopy(self._model, memo)
