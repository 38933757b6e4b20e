"""The compiled core: public wrappers around fastnn._kernels, one module per kernel family.

``fastnn.core.<family>`` mirrors ``fastnn.reference.<family>`` name for name.
"""

from fastnn._families import reexport

__all__ = reexport(__name__, globals())
