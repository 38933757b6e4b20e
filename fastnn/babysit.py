"""The notes' "babysitting the learning process" checklist (section 6), automated.

Each check returns a :class:`CheckResult` (``passed`` and a one-line ``explanation``) and,
with ``verbose=True``, prints that line:

1. :func:`check_initial_loss`: with reg=0 the initial loss is about ln(num_classes)
   (2.3026 for 10 classes) and the scores depend on the input.
2. :func:`check_regularization`: cranking reg up (1e3) raises the loss and changes the gradient.
3. :func:`overfit_small`: a tiny subset (20 examples) can be fitted to train accuracy 1.0.
4. :func:`find_learning_rate`: a log-spaced sweep; "loss not going down" means too low,
   "explodes / NaN" too high; returns the range worth cross-validating.
5. :func:`diagnose`: reads a finished run's histories and names the problem.

:func:`babysit` runs them in order and stops at the first failure.

A model is either a dict of parameters with a ``loss_function(X, model, y, reg) -> (loss,
grads)`` / ``loss_function(X, model) -> scores`` (the notes' ``two_layer_net``), or an object
with ``params``, ``reg`` and ``loss(X, y=None)`` such as :class:`fastnn.FullyConnectedNet`
(pass ``loss_function=None``).  The checks never modify the caller's model: training steps
work on deep copies.  Training uses :class:`fastnn.ClassifierTrainer`.

This public namespace only re-exports; the implementation is ``fastnn.workflow.babysit``.
"""

from fastnn.workflow.babysit import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.babysit import __all__  # noqa: F401 (the same list, not a copy)
