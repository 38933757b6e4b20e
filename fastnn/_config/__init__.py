"""Run-time configuration, one job per module.

- :mod:`~fastnn._config.openmp`: libgomp's spin-wait, set before the first extension import;
- :mod:`~fastnn._config.threads`: the thread count (:class:`Setting`, :func:`threads_for`,
  :func:`usable_cores`);
- :mod:`~fastnn._config.backend`: the cython/numpy backend switch;
- :mod:`~fastnn._config.report`: ``show_config``.

The kernel half (``fastnn.core``) takes its thread count from here: this package re-exports
the thread functions it uses, and nothing else, so importing it loads no extension module.
"""

from fastnn._config.threads import get_num_threads, threads_for, usable_cores

__all__ = ["get_num_threads", "threads_for", "usable_cores"]
