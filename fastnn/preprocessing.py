"""Data preprocessing (lecture notes, section 3): zero-centering, standardization, PCA, whitening.

Transformers follow scikit-learn's conventions without depending on it: ``fit(X)`` learns
statistics from training data and returns ``self``; ``transform`` applies them to any later
data (validation, test); fitted attributes end in ``_``; ``get_params``/``set_params`` expose
the constructor arguments (so ``sklearn.base.clone`` works on them).

Statistics are accumulated in float64 (a naive float32 sum of many pixels loses digits) and
stored in float64; ``transform`` returns the input's float dtype, so float32 stays float32.
Inputs are never modified.

This public namespace only re-exports; the implementation is ``fastnn.workflow.preprocessing``.
"""

from fastnn.workflow.preprocessing import *  # noqa: F403 (re-exports the implementation's __all__)
from fastnn.workflow.preprocessing import __all__  # noqa: F401 (the same list, not a copy)
