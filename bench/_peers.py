"""Imported by every benchmark before fastnn: PyTorch (when installed) loads first, so that
it keeps libgomp's default spin-wait.  Imported after fastnn it would share fastnn's short
one (GOMP_SPINCOUNT=1000, see README "Threads"), which slows the PyTorch training loop of
test_bench_trainer.py down (docs/perf/kernels.md): an unfair peer.  fastnn then shares
PyTorch's libgomp; the benchmarks set its thread count explicitly."""

try:
    import torch
except ImportError:
    torch = None
