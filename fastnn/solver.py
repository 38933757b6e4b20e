"""Solver: the course's training loop (``cs231n/solver.py``), ``Solver(model, data, ...)``.

The course's arguments, ``train()``, ``check_accuracy``, histories, printed lines and
checkpoints; beyond the course, ``seed=``, a progress bar, an ``on_epoch`` callback and the
divergence stop of :class:`fastnn.ClassifierTrainer`, and ``train()`` continuing a run exactly
(raise ``num_epochs``, call it again).  With ``update_rule`` given by name the rules of
:mod:`fastnn.optim` run on the fused update kernels.

This public namespace only re-exports; the implementation is ``fastnn.workflow.solver``.
"""

from fastnn.workflow.solver import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.solver import __all__  # noqa: F401 (the same list, not a copy)
