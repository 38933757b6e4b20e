"""The course's update rules (``cs231n/optim.py``): ``next_w, config = rule(w, dw, config)``.

``sgd``, ``sgd_momentum``, ``rmsprop`` and ``adam`` take the course's config keys and defaults
(a config without some keys gets the defaults; the caller's dict is updated, as the course's
``config.setdefault`` does) and run the backend's fused update kernels
(``fastnn.sgd_update``, ...): one pass over the parameter and its state per step.

Unlike the course's rules, they update ``w`` in place and return it as ``next_w`` (so a step
allocates nothing after the first, which creates the state arrays ``velocity``, ``cache``,
``m``, ``v`` of w's dtype); the state arrays are updated in place too.  The course's
``model.params[p] = next_w`` works unchanged; code that needs the weights before the step
keeps a copy (``w_old = w.copy()``).  w must be a writeable float32/float64 array and dw
must have its shape and dtype.  Their NumPy twins, which return new arrays, are in
``fastnn.reference.optim_rules``.

``update_all(rule, params, grads, configs)`` is the loop ``params[k], configs[k] =
rule(params[k], grads[k], configs[k])`` over a model's parameters, with the same values, in
one kernel call (:func:`fastnn.update_many`); the Solver updates through it.

This public namespace only re-exports; the implementation is ``fastnn.nn.optim``.
"""

from fastnn.nn.optim import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.nn.optim import __all__  # noqa: F401 (the same list, not a copy)
