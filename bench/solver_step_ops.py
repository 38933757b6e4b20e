"""Where one training step's time goes outside its matrix products: the Solver's
FullyConnectedNet([100, 100], batchnorm) step and the lecture's two-layer trainer step
(3072-100-10), batch 200, float32.

Per part: the median time per call (fastnn.timing, interleaved rounds) and the minor page
faults per call (getrusage, the cost of fresh arrays the allocator maps anew).  The
forward+backward is then split into its GEMMs (the same products on the same shapes), its
kernel passes (each called alone on the step's shapes) and the rest, the Python between them
(total minus both).  Kernels run on one thread as in Solver.train; BLAS on 1 and 2 threads.

    PYTHONPATH=. python bench/solver_step_ops.py [--rounds 9]
"""

import argparse
import resource

import numpy as np
from test_bench_solver import BATCH, LR, ROWS, C, D, H, make_data
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import layers, optim
from fastnn.core import take_rows
from fastnn.timing import time_interleaved

HAS_BIAS_KERNELS = hasattr(fastnn, "bias_relu")


def minor_faults(fn, calls=200):
    """Minor page faults per call of fn."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def solver_parts(data, rng):
    X, y = data["X_train"], data["y_train"]
    model = fastnn.FullyConnectedNet([H, H], D, C, batchnorm=True, dtype=np.float32, seed=0)
    configs = {name: {"learning_rate": LR} for name in model.params}
    xb = np.empty((BATCH, D), np.float32)
    idx = np.asarray(rng.choice(ROWS, BATCH), np.intp)
    take_rows(X, idx, out=xb)
    yb = y[idx]
    _, grads = model.loss(xb, yb)
    W1, W2, W3 = model.params["W1"], model.params["W2"], model.params["W3"]
    h1, h2 = xb @ W1, np.maximum(xb @ W1, 0) @ W2
    s = np.maximum(h2, 0) @ W3
    tiny = fastnn.FullyConnectedNet([2, 2], 3, 2, batchnorm=True, dtype=np.float32, seed=0)
    tiny_x, tiny_y = np.ones((2, 3), np.float32), np.array([0, 1])
    parts = {
        "gather (take_rows)": lambda: take_rows(X, idx, out=xb),
        "forward+backward": lambda: model.loss(xb, yb),
        "forward+backward, 2x3 input (overhead)": lambda: tiny.loss(tiny_x, tiny_y),
        "adam (update_all)": lambda: optim.update_all("adam", model.params, grads, configs),
    }
    gemms = {
        "GEMMs (8)": lambda: (
            xb @ W1,
            h1 @ W2,
            h2 @ W3,
            h2.T @ s,
            s @ W3.T,
            h1.T @ h2,
            h2 @ W2.T,
            xb.T @ h1,
        ),
    }
    bn = model.bn_params[0]
    g, b = model.params["gamma1"], model.params["beta1"]
    _, bn_cache = layers.batchnorm_forward(h1.copy(), g, b, bn)
    ops = {
        "batchnorm forward x2": lambda: [layers.batchnorm_forward(h1, g, b, bn) for _ in "ab"],
        "batchnorm backward x2": lambda: [layers.batchnorm_backward(h1, bn_cache) for _ in "ab"],
        "relu forward x2": lambda: [layers.relu_forward(h1) for _ in "ab"],
        "relu backward x2": lambda: [layers.relu_backward(h1, h2) for _ in "ab"],
        "softmax_loss": lambda: layers.softmax_loss(s, yb),
        "numpy bias add (z += b) x3": lambda: (
            np.add(h1, b, out=h1),
            np.add(h2, b, out=h2),
            np.add(s, b[:C], out=s),
        ),
        "numpy db = dz.sum(0) x3": lambda: (h1.sum(axis=0), h2.sum(axis=0), s.sum(axis=0)),
    }
    if HAS_BIAS_KERNELS:
        ops["fastnn.bias_add x3"] = lambda: (
            fastnn.bias_add(h1, b),
            fastnn.bias_add(h2, b),
            fastnn.bias_add(s, b[:C]),
        )
        ops["fastnn.bias_backward x3"] = lambda: (
            fastnn.bias_backward(h1),
            fastnn.bias_backward(h2),
            fastnn.bias_backward(s),
        )
    return parts, gemms, ops


def trainer_parts(data, rng):
    X, y = data["X_train"], data["y_train"]
    model = fastnn.init_two_layer_model(D, H, C, dtype=np.float32, seed=0)
    model["W1"] *= 100
    model["W2"] *= 100
    xb = np.empty((BATCH, D), np.float32)
    idx = np.asarray(rng.choice(ROWS, BATCH), np.intp)
    take_rows(X, idx, out=xb)
    yb = y[idx]
    W1, W2, b1, b2 = model["W1"], model["W2"], model["b1"], model["b2"]
    a1 = xb @ W1
    h = np.maximum(a1, 0)
    s = h @ W2
    dh = s @ W2.T
    tiny = fastnn.init_two_layer_model(3, 2, 2, dtype=np.float32, seed=0)
    tiny_x, tiny_y = np.ones((2, 3), np.float32), np.array([0, 1])
    parts = {
        "forward+backward": lambda: fastnn.two_layer_net(xb, model, yb),
        "forward+backward, 2x3 input (overhead)": lambda: fastnn.two_layer_net(
            tiny_x, tiny, tiny_y
        ),
    }
    gemms = {"GEMMs (5)": lambda: (xb @ W1, h @ W2, s @ W2.T, h.T @ s, xb.T @ a1)}
    ops = {
        "softmax_loss": lambda: layers.softmax_loss(s, yb),
        "numpy: a += b1; relu; s += b2": lambda: (
            fastnn.relu(np.add(a1, b1, out=a1)),
            np.add(s, b2, out=s),
        ),
        "numpy: relu_backward, 2 x sum(0)": lambda: (
            fastnn.relu_backward(dh, h).sum(axis=0),
            s.sum(axis=0),
        ),
    }
    if HAS_BIAS_KERNELS:
        ops["fastnn: bias_relu, bias_add"] = lambda: (
            fastnn.bias_relu(a1, b1),
            fastnn.bias_add(s, b2),
        )
        ops["fastnn: relu_bias_backward, bias_backward"] = lambda: (
            fastnn.relu_bias_backward(dh, h),
            fastnn.bias_backward(s),
        )
    return parts, gemms, ops


def report(title, parts, gemms, ops, rounds):
    everything = {**parts, **gemms, **ops}
    times = time_interleaved(everything, rounds=rounds)
    print(title)
    for name, seconds in times.items():
        faults = minor_faults(everything[name], 50)
        print(f"  {name:42s} {seconds * 1e6:8.1f} us  {faults:6.1f} faults/call")
    gemm = sum(times[k] for k in gemms)
    print(
        f"  {'forward+backward outside the GEMMs':42s} "
        f"{(times['forward+backward'] - gemm) * 1e6:8.1f} us"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    data = make_data()
    rng = np.random.default_rng(1)
    print(f"fastnn bias kernels: {HAS_BIAS_KERNELS}")
    for blas in (1, 2):
        with threadpool_limits(blas), fastnn.num_threads(1):
            report(f"Solver step, BLAS threads {blas}", *solver_parts(data, rng), args.rounds)
            with fastnn.num_threads(2):  # the trainer runs its kernels on 2 threads
                report(f"Trainer step, BLAS threads {blas}", *trainer_parts(data, rng), args.rounds)


if __name__ == "__main__":
    main()
