"""How many threads a compiled kernel call gets: the one table of size thresholds.

Every wrapper in fastnn.core calls ``threads_for(work, PARALLEL_THRESHOLDS[kind])`` (the
threshold looked up once, at import) and passes the answer to the compiled function as
``n_threads``; the compiled side only caps it (at its number of rows or
chunks and at its per-thread scratch size).  Below a kernel's threshold one thread is faster
than a team of two (starting and joining the team costs more than it saves); above it the
process-wide setting (``fastnn.set_num_threads``) applies.  The thresholds were measured on
a 2-core machine (see docs/perf/kernels.md and ``bench/test_bench_activations.py
--threshold``); re-measure them with bench/ on another one.
"""

__all__ = ["PARALLEL_THRESHOLDS"]

PARALLEL_THRESHOLDS = {
    # elements of the output: the memory-bound element-wise kernels, maxout and its backward
    "activations": 1 << 16,
    # elements of the output: sigmoid, tanh, elu and elu_backward (an exp or tanh per element)
    "activations_exp": 1 << 14,
    # elements of x (forward and backward)
    "batchnorm": 1 << 16,
    # elements of the score matrix (softmax, log_softmax, softmax_loss)
    "softmax": 1 << 12,
    # bytes copied by take_rows
    "take_rows": 1 << 18,
    # elements of the parameter (sgd, momentum, nesterov, rmsprop, adam)
    "updates": 1 << 15,
    # elements of the score matrix (svm_loss)
    "svm": 1 << 12,
    # elements of x (dropout forward and backward: a 64-bit hash per two elements)
    "dropout": 1 << 15,
    # elements of x (layernorm forward and backward)
    "layernorm": 1 << 16,
    # elements of z or dout (bias_add, bias_relu and the bias gradients)
    "bias": 1 << 16,
}
