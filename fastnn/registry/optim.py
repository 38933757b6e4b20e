"""Registry specs of take_rows and the update rules: argument makers, shapes, PyTorch peers."""

from fastnn.core import optim as core
from fastnn.reference import optim as reference
from fastnn.registry.spec import KernelSpec


def _take_args(rng, shape, dtype, impl):
    """Gather M rows of width D (shape (M, D)) from a table of 5M rows, like a minibatch."""
    m, d = shape
    x = rng.standard_normal((5 * m, d)).astype(dtype)
    return (x, rng.integers(0, 5 * m, m)), {}


def _update_args(n_state, positive=()):
    """make_args for an update with ``n_state`` state arrays (those in ``positive`` >= 0).

    lr is small so that the benchmarks' repeated in-place calls drift slowly and stay finite.
    """

    def make(rng, shape, dtype, impl):
        p = rng.standard_normal(shape).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        states = [
            (rng.random(shape) if i in positive else 0.1 * rng.standard_normal(shape)).astype(dtype)
            for i in range(n_state)
        ]
        return (p, g, *states, 1e-3), {}

    return make


def _with_extra(make, *extra):
    def make_extra(rng, shape, dtype, impl):
        args, kwargs = make(rng, shape, dtype, impl)
        return args + extra, kwargs

    return make_extra


def _torch_take(torch, args, kwargs):
    xt, it = torch.from_numpy(args[0]), torch.from_numpy(args[1])
    ot = torch.empty((it.shape[0], xt.shape[1]), dtype=xt.dtype)
    return lambda: torch.index_select(xt, 0, it, out=ot)


def _torch_sgd(torch, args, kwargs):
    pt, gt = torch.from_numpy(args[0]), torch.from_numpy(args[1])
    lr = args[2]
    return lambda: pt.add_(gt, alpha=-lr)


def _torch_momentum(torch, args, kwargs):
    pt, gt, vt = (torch.from_numpy(a) for a in args[:3])
    lr, mu = args[3:5]

    def run():
        vt.mul_(mu).add_(gt, alpha=-lr)
        pt.add_(vt)

    return run


def _update_many_args(rng, shape, dtype, impl):
    """A step of adam over three parameters of ``shape`` (as a net's weights), t = 3."""
    make = _update_args(2, positive=(1,))
    groups = [make(rng, shape, dtype, impl)[0] for _ in range(3)]
    params = [group[0] for group in groups]
    grads = [group[1] for group in groups]
    states = [list(group[2:4]) for group in groups]
    return ("adam", params, grads, states, 1e-3, 3), {}


# the trainer's parameter shapes: b1/b2 (small), W2 (100, 10), W1 (3072, 100)
_UPDATE_SHAPES = ((100, 10), (3072, 100), (1024, 1024))

KERNELS = [
    KernelSpec(
        "take_rows",
        "optim",
        core.take_rows,
        reference.take_rows,
        _take_args,
        ((64, 3072), (200, 3072), (1000, 3072)),
        1.0,
        torch=_torch_take,
    ),
    KernelSpec(
        "sgd_update",
        "optim",
        core.sgd_update,
        reference.sgd_update,
        _update_args(0),
        _UPDATE_SHAPES,
        1.5,
        torch=_torch_sgd,
        inplace=(0,),
    ),
    KernelSpec(
        "momentum_update",
        "optim",
        core.momentum_update,
        reference.momentum_update,
        _with_extra(_update_args(1), 0.9),
        _UPDATE_SHAPES,
        2.5,
        torch=_torch_momentum,
        inplace=(0, 2),
    ),
    KernelSpec(
        "nesterov_update",
        "optim",
        core.nesterov_update,
        reference.nesterov_update,
        _with_extra(_update_args(1), 0.9),
        _UPDATE_SHAPES,
        2.5,
        inplace=(0, 2),
    ),
    KernelSpec(
        "rmsprop_update",
        "optim",
        core.rmsprop_update,
        reference.rmsprop_update,
        _update_args(1, positive=(0,)),
        _UPDATE_SHAPES,
        2.5,
        inplace=(0, 2),
    ),
    KernelSpec(
        "adam_update",
        "optim",
        core.adam_update,
        reference.adam_update,
        _with_extra(_update_args(2, positive=(1,)), 1),
        _UPDATE_SHAPES,
        3.5,
        inplace=(0, 2, 3),
    ),
    KernelSpec(
        "update_many",
        "optim",
        core.update_many,
        reference.update_many,
        _update_many_args,
        _UPDATE_SHAPES,
        3 * 3.5,
        inplace=(1, 3),
    ),
]
