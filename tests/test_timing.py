"""fastnn.timing, the harness of ``fastnn bench`` and bench/: interleaved rounds, auto-ranged
loops, medians.  A fake clock makes the tests exact (no timed unit tests)."""

import types

import pytest

from fastnn import timing


@pytest.fixture
def clock(monkeypatch):
    """A clock that only moves when a timed callable advances it."""
    now = [0.0]
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def _costs(clock, *seconds_per_call):
    """A callable whose successive calls take the given seconds (the last one repeats)."""
    queue = list(seconds_per_call)

    def call():
        clock[0] += queue.pop(0) if len(queue) > 1 else queue[0]

    return call


def test_rounds_interleave_the_callables():
    log = []
    calls = {name: (lambda name=name: log.append(name)) for name in "abc"}
    samples = timing.sample_interleaved(calls, rounds=4, min_time=0)
    assert {name: len(values) for name, values in samples.items()} == {"a": 4, "b": 4, "c": 4}
    # min_time=0: a warm-up and one ranging call each, then one call per round, in turn, each
    # round starting one further along (none always follows the same other)
    rounds = ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert log == ["a", "a", "b", "b", "c", "c"] + rounds


def test_autorange_reaches_min_time(clock):
    number = timing.autorange(_costs(clock, 1e-3), 0.0105)
    assert 11 <= number <= 22  # long enough, without overshooting by more than twice
    assert timing.autorange(_costs(clock, 1e-3), 0) == 1


def test_median_per_call_over_rounds(clock):
    # after the warm-up and the ranging call, the rounds take 1, 9, 2 (a) and 4, 4, 5 ms (b)
    calls = {"a": _costs(clock, 0, 0, 1e-3, 9e-3, 2e-3), "b": _costs(clock, 0, 0, 4e-3, 4e-3, 5e-3)}
    samples = timing.sample_interleaved(calls, rounds=3, min_time=0)
    assert samples == {
        "a": pytest.approx([1e-3, 9e-3, 2e-3]),
        "b": pytest.approx([4e-3, 4e-3, 5e-3]),
    }
    medians = timing.time_interleaved(
        {"a": _costs(clock, 0, 0, 1e-3, 9e-3, 2e-3), "b": _costs(clock, 0, 0, 4e-3, 4e-3, 5e-3)},
        rounds=3,
        min_time=0,
    )
    assert medians == {"a": pytest.approx(2e-3), "b": pytest.approx(4e-3)}
