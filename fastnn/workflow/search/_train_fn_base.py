"""What the train_fn builders share: the data checks, the parameter names and the epochs count."""

import numpy as np

# parameter names a search may use for another setting's name
ALIASES = {"lr": "learning_rate"}


class TrainFnBase:
    """Training and validation data checked once, and fixed settings a trial's ``params``
    override.  A subclass names the settings it understands in ``valid_params`` and says
    what it builds in ``__repr__``."""

    def __init__(self, X, y, X_val, y_val, model, abort_cost_ratio, keep_model, fixed):
        X, X_val = np.asarray(X), np.asarray(X_val)
        y, y_val = np.asarray(y), np.asarray(y_val)
        if X.ndim != 2 or X_val.ndim != 2 or X.shape[1] != X_val.shape[1]:
            raise ValueError(
                f"X and X_val must be 2-d with the same number of columns, got "
                f"{X.shape} and {X_val.shape}"
            )
        if y.shape != (X.shape[0],) or y_val.shape != (X_val.shape[0],):
            raise ValueError(
                f"labels must have one entry per row: y {y.shape} for X {X.shape}, "
                f"y_val {y_val.shape} for X_val {X_val.shape}"
            )
        self.X, self.y, self.X_val, self.y_val = X, y, X_val, y_val
        self.model = model
        self.num_classes = int(max(y.max(initial=0), y_val.max(initial=0))) + 1
        self.abort_cost_ratio = abort_cost_ratio
        self.keep_model = keep_model
        self.fixed = self._canonical(fixed)

    @property
    def valid_params(self) -> tuple[str, ...]:
        """The parameter names this train_fn understands (``lr`` is an alias of
        learning_rate)."""
        raise NotImplementedError

    def _canonical(self, params):
        out = {}
        for name, value in params.items():
            if name not in self.valid_params:
                raise ValueError(
                    f"unknown parameter {name!r} for model {self.model!r}; valid ones are "
                    f"{', '.join(self.valid_params)}"
                )
            out[ALIASES.get(name, name)] = value
        return out

    def check_params(self, names):
        """Raise ValueError for a name this train_fn would not understand (before any trial)."""
        self._canonical(dict.fromkeys(names))

    def settings(self, params):
        """The fixed settings overridden by ``params``, names canonical (``lr`` ->
        ``learning_rate``)."""
        return {**self.fixed, **self._canonical(params)}

    def default_dtype(self):
        """The model dtype when none is set: X's if it is a float array, else float32."""
        return self.X.dtype if self.X.dtype.kind == "f" else np.dtype(np.float32)


def check_epochs(epochs, done):
    """Epochs left to train to reach ``epochs`` in total (ValueError if none are left)."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)):
        raise TypeError(f"epochs must be an integer, got {epochs!r}")
    if epochs <= done:
        raise ValueError(f"epochs={epochs} asks for no training: the state has {done} epochs")
    return int(epochs) - done
