"""The one timing harness of ``fastnn bench`` and the scripts in bench/: interleaved rounds,
auto-ranged loops, medians.

It follows :mod:`timeit`: each callable is warmed up and auto-ranged to a loop count whose run
lasts at least ``min_time`` (``min_time=0``: one call per sample, for calls that are long or
whose single-call time is wanted); then every round times each callable once, in turn, so a
burst of machine noise hits all of them alike; the garbage collector is off while timing.
The summary is the median over rounds of the seconds per call.
"""

import gc
import statistics
import time

__all__ = ["autorange", "sample_interleaved", "time_interleaved"]


def _loop(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def autorange(fn, min_time):
    """Loop count whose run of ``fn`` lasts at least ``min_time`` seconds (like
    ``timeit.Timer.autorange``), after one warm-up call (first-call allocations, page faults,
    lazy imports)."""
    fn()
    number = 1
    while True:
        elapsed = _loop(fn, number)
        if elapsed >= min_time:
            return number
        if elapsed <= 0:
            number *= 10
        else:
            number = max(number * 2, int(number * 1.2 * min_time / elapsed))


def sample_interleaved(callables, rounds=15, min_time=0.01):
    """Seconds per call of every zero-argument callable of the dict ``callables``, one sample
    per round, the callables timed in turn within each round, each round starting one further
    along (so that none always runs right after the same other: a peer's lingering threads
    or caches would weigh on one alone); returns ``{name: [seconds]}``."""
    numbers = {name: autorange(fn, min_time) for name, fn in callables.items()}
    samples: dict[str, list[float]] = {name: [] for name in callables}
    names = list(callables)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                fn = callables[name]
                samples[name].append(_loop(fn, numbers[name]) / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def time_interleaved(callables, rounds=15, min_time=0.01):
    """Median seconds per call of every callable of the dict ``callables``, timed interleaved
    (:func:`sample_interleaved`); returns ``{name: seconds}``."""
    samples = sample_interleaved(callables, rounds, min_time)
    return {name: statistics.median(values) for name, values in samples.items()}
