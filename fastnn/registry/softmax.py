"""Registry specs of softmax, log-softmax and the softmax loss: arguments, shapes, peers."""

import importlib

import numpy as np

from fastnn.registry.spec import KernelSpec

# By module path: ``fastnn.core.softmax`` and ``fastnn.reference.softmax`` as attributes are
# the softmax functions their packages re-export, not the modules.
core = importlib.import_module("fastnn.core.softmax")
reference = importlib.import_module("fastnn.reference.softmax")


def _loss_args(rng, shape, dtype, impl):
    n, c = shape
    return (rng.standard_normal(shape).astype(dtype), rng.integers(0, c, n)), {}


def _scores_args(rng, shape, dtype, impl):
    return (rng.standard_normal(shape).astype(dtype),), {}


def _torch_loss(torch, args, kwargs):
    x, y = args
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))

    def run():
        xt.grad = None
        loss = torch.nn.functional.cross_entropy(xt, yt)
        loss.backward()
        return loss.item(), xt.grad

    return run


def _torch_softmax(torch, args, kwargs):
    xt = torch.from_numpy(args[0])
    return lambda: torch.softmax(xt, dim=1)


def _torch_log_softmax(torch, args, kwargs):
    xt = torch.from_numpy(args[0])
    return lambda: torch.log_softmax(xt, dim=1)


_SHAPES = ((64, 10), (200, 10), (4096, 10), (256, 1000), (4096, 1000))

KERNELS = [
    KernelSpec(
        "softmax_loss",
        "softmax",
        core.softmax_loss,
        reference.softmax_loss,
        _loss_args,
        _SHAPES,
        1.0,
        torch=_torch_loss,
    ),
    KernelSpec(
        "softmax",
        "softmax",
        core.softmax,
        reference.softmax,
        _scores_args,
        _SHAPES,
        1.0,
        torch=_torch_softmax,
    ),
    KernelSpec(
        "log_softmax",
        "softmax",
        core.log_softmax,
        reference.log_softmax,
        _scores_args,
        _SHAPES,
        1.0,
        torch=_torch_log_softmax,
    ),
]
