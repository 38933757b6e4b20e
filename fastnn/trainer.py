"""ClassifierTrainer: the lecture notes' training loop (section 6, "babysitting the learning
process").

``ClassifierTrainer().train(X, y, X_val, y_val, model, loss_function, ...)`` runs minibatch
(or full-batch) gradient descent with one of the update rules in :data:`UPDATES`, decays
the learning rate after every epoch, tracks train/validation accuracy, keeps a deep copy
of the best model, and stops at once when the cost becomes NaN or inf.

Speed notes: the minibatch is gathered into one preallocated buffer per run
(``take_rows``, through :class:`fastnn.nn.minibatch.RowGather`, which picks cached or
streaming stores by timing steps with each) and the update rules are the backend's
in-place kernels (``sgd_update``, ``momentum_update``, ...: one fused pass per parameter
on the compiled core), so an iteration allocates only what the loss function itself
allocates (plus, on the NumPy backend, the twins' scratch products).  The notes' own case,
:func:`fastnn.two_layer_net` with ``update='sgd'`` on the compiled core, folds the weight
updates into the weight-gradient products (``W = (1 - lr * reg) * W - lr * X.T @ dY``, one
BLAS call each through ``fastnn.core.gemm``; ``fastnn config`` says whether NumPy's BLAS
allows it): no gradient arrays, no update pass, the same values up to rounding.  The loss
is computed before any parameter changes, so a NaN or inf cost still stops the run first.

This public namespace only re-exports; the implementation is ``fastnn.nn.trainer``.
"""

from fastnn.nn.trainer import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.trainer import __all__  # noqa: F401 (the same list, not a copy)
