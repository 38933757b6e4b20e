"""Pure-NumPy twins of every public kernel: same names, signatures and return conventions.

Readable textbook code: the oracle for the tests and the baseline for the benchmarks.
Select it for the whole library with ``fastnn.use_backend("numpy")``.
"""

# Every family module's public names, written out so that static tools see them
# (tests/test_layout.py checks this list against each family's __all__).
from fastnn.reference.activations import (
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
from fastnn.reference.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from fastnn.reference.bias import (
    bias_add,
    bias_backward,
    bias_relu,
    relu_bias_backward,
)
from fastnn.reference.dropout import (
    dropout_backward,
    dropout_forward,
)
from fastnn.reference.layernorm import (
    layernorm_backward,
    layernorm_forward,
)
from fastnn.reference.optim import (
    adam_update,
    momentum_update,
    nesterov_update,
    rmsprop_update,
    sgd_update,
    take_rows,
    update_many,
)
from fastnn.reference.softmax import (
    log_softmax,
    softmax,
    softmax_loss,
)
from fastnn.reference.svm import svm_loss

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
