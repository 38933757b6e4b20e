"""The weight-initialization experiment of the lecture notes (section 4), as a function.

Unit-Gaussian data goes through ``num_layers`` fully connected layers (no biases) with a
chosen initialization and nonlinearity; the mean and standard deviation of every layer's
activations show whether the signal dies out (weights too small), saturates (too large) or
keeps its scale (Xavier for tanh, He for ReLU)::

    >>> from fastnn.diagnostics import activation_statistics
    >>> stats = activation_statistics(0.01, "tanh", seed=0)      # doctest: +SKIP
    input layer had mean 0.000927 and std 0.998388
    hidden layer 1 had mean -0.000117 and std 0.213081
    ...

The nonlinearities run on the active backend's kernels (``fastnn._config.backend.ops()``).

This public namespace only re-exports; the implementation is ``fastnn.workflow.diagnostics``.
"""

from fastnn.workflow.diagnostics import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.diagnostics import __all__  # noqa: F401 (the same list, not a copy)
