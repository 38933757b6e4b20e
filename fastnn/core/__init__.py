"""The compiled core: public wrappers around fastnn._kernels, one module per kernel family.

``fastnn.core.<family>`` mirrors ``fastnn.reference.<family>`` name for name.  These modules
hold the public wrappers only; the registry specs (argument makers, benchmark shapes, PyTorch
peers) live in ``fastnn.registry.<family>``.

The wrapper <-> kernel contract, the same for every family:

- **Validation**: the Python wrapper checks every argument with the functions its NumPy twin
  calls (``fastnn._validation`` and ``fastnn.checks.<family>``), so both raise the same
  exception on bad input.  A compiled function never judges user input: its own type and
  size checks guard against misuse from inside fastnn.
- **Layout**: the wrapper hands the compiled function arrays it can read directly
  (C-contiguous, aligned, native order: ``kernel_buffer``) and copies other layouts first.
  Two families let the compiled function see the caller's arrays first, to save the Python
  checks on the common call: the softmax entry points (any object) and the fused updates
  (validated arrays of any layout).  They return ``NotImplemented`` for anything they do not
  take as it is, touching nothing; the wrapper then takes its general path (validate, copy,
  call again; for the updates, the NumPy twin, which computes the same values).
- **Outputs**: the wrapper allocates every output (or passes the caller's ``out`` when the
  kernel can write it directly, else writes a fresh buffer into ``out`` afterwards).  The one
  exception is softmax: its compiled entry points allocate the (N, C) result themselves
  when ``out`` is None, because at the lecture's (64, 10) scores a Python-side allocation
  costs a large share of the whole call.
- **Threads**: the wrapper decides the thread count, ``threads_for(work, threshold)`` with
  the family's threshold from :data:`fastnn.core.threads.PARALLEL_THRESHOLDS` (1 below it,
  else ``fastnn.get_num_threads()``), and passes it as the compiled function's last argument
  ``n_threads``.  The compiled side only caps it (at the rows or chunks it can split and its
  scratch size); it never compares sizes with a threshold of its own.
- **Results**: the wrapper returns what the twin returns, whatever the compiled function
  hands back (its output array, the softmax loss with its gradient, or None for the
  in-place updates).
"""

# Every family module's public names, written out so that static tools see them
# (tests/test_layout.py checks this list against each family's __all__).
from fastnn.core.activations import (
    elu,
    elu_backward,
    leaky_relu,
    leaky_relu_backward,
    maxout,
    maxout_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from fastnn.core.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from fastnn.core.bias import (
    bias_add,
    bias_backward,
    bias_relu,
    relu_bias_backward,
)
from fastnn.core.dropout import (
    dropout_backward,
    dropout_forward,
)
from fastnn.core.layernorm import (
    layernorm_backward,
    layernorm_forward,
)
from fastnn.core.optim import (
    adam_update,
    momentum_update,
    nesterov_update,
    rmsprop_update,
    sgd_update,
    take_rows,
    update_many,
)
from fastnn.core.softmax import (
    log_softmax,
    softmax,
    softmax_loss,
)
from fastnn.core.svm import svm_loss

__all__ = [
    # activations
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "elu",
    "elu_backward",
    "maxout",
    "maxout_backward",
    # batchnorm
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    # softmax
    "softmax",
    "log_softmax",
    "softmax_loss",
    # optim
    "take_rows",
    "sgd_update",
    "momentum_update",
    "nesterov_update",
    "rmsprop_update",
    "adam_update",
    "update_many",
    # svm
    "svm_loss",
    # dropout
    "dropout_forward",
    "dropout_backward",
    # layernorm
    "layernorm_forward",
    "layernorm_backward",
    # bias
    "bias_add",
    "bias_relu",
    "bias_backward",
    "relu_bias_backward",
]
