"""The network layer: layers, models, weight initializers, gradient checks and the trainer.

Everything here is built on the kernels through :func:`fastnn._config.backend.ops`, so
``fastnn.use_backend("numpy")`` switches it to the NumPy twins.  Nothing here imports the
lecture's tools (:mod:`fastnn.workflow`) or the command line (:mod:`fastnn.cli`).
"""
