"""The training loops' minibatch gather, its store mode chosen by timing the steps after it.

``take_rows(..., stream=True)`` stores the rows past this core's caches.  Which mode trains
faster depends on the machine: the batch is read next by BLAS's threads, and a core that must
take cache lines back from another far away (another die or socket; a VM's vCPUs placed
apart) pays for that in every gather that overwrites them, while on cores that share a cache
the streamed batch costs its readers a trip to memory.  On a 2-vCPU Zen 4 VM, the lecture's
trainer epoch took 97.7 ms with cached stores and 99.0 ms streaming while the vCPUs shared a
cache, 179.9 and 136.6 ms while they did not (docs/perf/solver.md).  The rows are the same.
"""

import time
from collections.abc import Callable

import numpy as np

from fastnn._config.backend import ops

# Batches smaller than this (a core's L2 cache) are gathered with cached stores only.
STREAM_MIN_BYTES = 1 << 20
# Each round of ROUND_CALLS gathers starts with PROBE_CALLS gathers per mode, each timed with
# the step that follows it (to the next call), then keeps the faster mode; every round
# chooses again (a machine, a VM above all, changes state).
PROBE_CALLS = 2
ROUND_CALLS = 256


class RowGather:
    """``take_rows(X, idx, out=out)`` for a training loop that calls it once per step, with
    the store mode that makes its steps faster here.

    Calls with an ``out`` of :data:`STREAM_MIN_BYTES` or more are timed in rounds (see the
    module docstring); ``timer`` (seconds, like ``time.perf_counter``) is for tests.
    """

    def __init__(self, timer: Callable[[], float] = time.perf_counter) -> None:
        self._timer = timer
        self._calls = 0
        self._best: dict[bool, float] = {}
        self._last: tuple[bool, float] = (False, 0.0)  # the last call's mode and start
        self.stream = False  # the mode kept for this round's untimed calls

    def __call__(self, X: np.ndarray, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        take_rows = ops().take_rows
        if out.nbytes < STREAM_MIN_BYTES:
            return take_rows(X, idx, out=out)
        now = self._timer()
        call = self._calls % ROUND_CALLS
        self._calls += 1
        if 0 < call <= 2 * PROBE_CALLS:  # the step since the last call, in the last mode
            mode, start = self._last
            self._best[mode] = min(now - start, self._best.get(mode, now - start))
        if call == 2 * PROBE_CALLS:
            self.stream = self._best[True] < self._best[False]
            self._best.clear()
        stream = call >= PROBE_CALLS if call < 2 * PROBE_CALLS else self.stream
        self._last = (stream, now)
        return take_rows(X, idx, out=out, stream=stream)
