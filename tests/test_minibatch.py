"""fastnn.nn.minibatch.RowGather: the store mode it keeps is the one whose timed steps were
faster, chosen again every round; small batches are never streamed; the rows are the same."""

import numpy as np
import pytest

import fastnn.nn.minibatch as minibatch
from fastnn.core import take_rows
from fastnn.nn.minibatch import PROBE_CALLS, ROUND_CALLS, STREAM_MIN_BYTES, RowGather


class Spy:
    """ops() stand-in: records each take_rows call's stream mode, advances a fake clock by
    the time given for that mode (the step that follows the gather)."""

    def __init__(self, seconds):
        self.seconds, self.now, self.modes = seconds, 0.0, []

    def take_rows(self, x, idx, out=None, *, stream=False):
        self.modes.append(stream)
        self.now += self.seconds[stream]
        return take_rows(x, idx, out=out, stream=stream)

    def clock(self):
        return self.now


def run(monkeypatch, seconds, calls, rows=200, cols=3072):
    spy = Spy(seconds)
    monkeypatch.setattr(minibatch, "ops", lambda: spy)
    gather = RowGather(timer=spy.clock)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, cols)).astype(np.float32)
    out = np.empty((rows, cols), np.float32)
    for _ in range(calls):
        idx = rng.integers(0, 1000, rows)
        assert gather(x, idx, out) is out
        np.testing.assert_array_equal(out, x[idx])
    return spy.modes, gather


@pytest.mark.parametrize("stream_faster", [True, False])
def test_keeps_the_faster_mode_after_timing_both(monkeypatch, stream_faster):
    seconds = {True: 1.0, False: 2.0} if stream_faster else {True: 2.0, False: 1.0}
    modes, gather = run(monkeypatch, seconds, ROUND_CALLS)
    probes = [False] * PROBE_CALLS + [True] * PROBE_CALLS
    assert modes[: 2 * PROBE_CALLS] == probes
    assert set(modes[2 * PROBE_CALLS :]) == {stream_faster}
    assert gather.stream is stream_faster


def test_chooses_again_every_round(monkeypatch):
    # the clock says streaming is faster in the first round, slower in the second
    spy_seconds = {True: 1.0, False: 2.0}
    modes, _ = run(monkeypatch, spy_seconds, ROUND_CALLS + 2 * PROBE_CALLS)
    assert modes[ROUND_CALLS - 1] is True
    assert modes[ROUND_CALLS:] == [False] * PROBE_CALLS + [True] * PROBE_CALLS

    class Flipping(Spy):
        def take_rows(self, x, idx, out=None, *, stream=False):
            if len(self.modes) == ROUND_CALLS:
                self.seconds = {True: 2.0, False: 1.0}
            return super().take_rows(x, idx, out=out, stream=stream)

    spy = Flipping({True: 1.0, False: 2.0})
    monkeypatch.setattr(minibatch, "ops", lambda: spy)
    gather = RowGather(timer=spy.clock)
    x = np.ones((10, 3072), np.float32)
    out = np.empty((200, 3072), np.float32)
    for _ in range(2 * ROUND_CALLS):
        gather(x, np.zeros(200, np.intp), out)
    assert spy.modes[ROUND_CALLS - 1] is True
    assert spy.modes[-1] is False and gather.stream is False


def test_small_batches_are_not_streamed(monkeypatch):
    rows, cols = 16, 64
    assert rows * cols * 4 < STREAM_MIN_BYTES
    modes, _ = run(monkeypatch, {True: 1.0, False: 2.0}, 3 * ROUND_CALLS, rows, cols)
    assert modes == [False] * (3 * ROUND_CALLS)
