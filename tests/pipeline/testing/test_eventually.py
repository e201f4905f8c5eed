"""Tests of ``pipeline.testing.eventually``: it must retry, stop at the deadline, and fail
with a message that says what never became true.

A fake clock drives the loop, so no test waits for real time and none depends on
the machine's speed.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.testing.eventually import EventuallyTimeout, eventually


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def run(condition, clock: FakeClock, **kwargs):
    return eventually(condition, clock=clock, sleep=clock.sleep, **kwargs)


def test_returns_first_truthy_result_without_sleeping():
    clock = FakeClock()
    assert run(lambda: {"status": "done"}, clock) == {"status": "done"}
    assert clock.sleeps == []


def test_retries_on_assertion_error_until_it_stops():
    clock = FakeClock()
    calls = []

    def condition():
        calls.append(clock.now)
        assert len(calls) >= 3, f"only {len(calls)} calls"
        return "ok"

    assert run(condition, clock, timeout=5, interval=0.5) == "ok"
    assert len(calls) == 3
    assert clock.sleeps == [0.5, 0.5]


def test_falsy_results_are_retried():
    clock = FakeClock()
    values = iter([0, None, [], "", False, 7])
    assert run(lambda: next(values), clock, timeout=5, interval=0.1) == 7


def test_timeout_message_names_condition_last_failure_and_elapsed_time():
    clock = FakeClock()

    def agent_is_failed():
        raise AssertionError("failed_agents == []")

    with pytest.raises(EventuallyTimeout) as info:
        run(agent_is_failed, clock, timeout=2, interval=0.5)
    message = str(info.value)
    assert "agent_is_failed" in message
    assert "failed_agents == []" in message
    assert "within 2s" in message
    assert "elapsed 2.00s" in message
    assert info.value.elapsed == pytest.approx(2.0)
    assert isinstance(info.value.__cause__, AssertionError)
    assert info.value.last_error is info.value.__cause__


def test_timeout_is_an_assertion_error_so_pytest_reports_a_failure():
    clock = FakeClock()
    with pytest.raises(AssertionError):
        run(lambda: False, clock, timeout=1)


def test_description_replaces_the_function_name():
    clock = FakeClock()
    with pytest.raises(EventuallyTimeout, match="auction a1 in market data"):
        run(lambda: None, clock, timeout=0.2, description="auction a1 in market data")


def test_falsy_last_result_is_reported():
    clock = FakeClock()
    with pytest.raises(EventuallyTimeout, match=r"last result: \[\] \(falsy\)"):
        run(lambda: [], clock, timeout=0.3)


def test_tries_once_more_at_the_deadline():
    """The last sleep is cut to the time left, then the condition gets a last try."""
    clock = FakeClock()
    seen = []

    def condition():
        seen.append(round(clock.now - 100.0, 6))
        return False

    with pytest.raises(EventuallyTimeout):
        run(condition, clock, timeout=1.0, interval=0.4)
    assert seen == [0.0, 0.4, 0.8, 1.0]
    assert clock.sleeps == pytest.approx([0.4, 0.4, 0.2])


def test_zero_timeout_tries_exactly_once():
    clock = FakeClock()
    calls = []
    with pytest.raises(EventuallyTimeout, match="1 tries"):
        run(lambda: calls.append(1), clock, timeout=0)
    assert calls == [1]


def test_other_exceptions_propagate_immediately():
    clock = FakeClock()
    calls = []

    def broken():
        calls.append(1)
        raise KeyError("status")

    with pytest.raises(KeyError):
        run(broken, clock, timeout=10)
    assert calls == [1]
    assert clock.sleeps == []


def test_retry_on_can_widen_what_counts_as_not_yet():
    clock = FakeClock()
    attempts = iter([ConnectionError("refused"), ConnectionError("refused"), None])

    def connect():
        error = next(attempts)
        if error:
            raise error
        return "connected"

    assert run(connect, clock, retry_on=(ConnectionError,), timeout=5) == "connected"


@pytest.mark.parametrize("kwargs", [{"timeout": -1}, {"interval": 0}, {"interval": -0.1}])
def test_rejects_nonsense_arguments(kwargs):
    with pytest.raises(ValueError):
        eventually(lambda: True, **kwargs)


@given(
    succeed_at=st.integers(min_value=1, max_value=50),
    interval=st.sampled_from([0.125, 0.25, 0.75, 1.0, 3.0]),
    timeout=st.sampled_from([0.0, 0.5, 2.0, 10.0]),
)
def test_never_waits_past_the_deadline_and_succeeds_when_it_can(succeed_at, interval, timeout):
    """Property: total fake time slept never exceeds the timeout, and the call
    succeeds exactly when the succeeding try fits before the deadline.

    Intervals and timeouts are binary fractions so the fake clock's float sums
    are exact and the expected number of tries is unambiguous."""
    clock = FakeClock()
    calls = []

    def condition():
        calls.append(1)
        return len(calls) >= succeed_at

    try:
        assert run(condition, clock, timeout=timeout, interval=interval) is True
        succeeded = True
    except EventuallyTimeout:
        succeeded = False
    assert sum(clock.sleeps) <= timeout
    # tries happen at 0, i, 2i, ... and once more at the deadline
    tries_possible = int(timeout // interval) + 1
    if timeout > (tries_possible - 1) * interval:
        tries_possible += 1
    assert succeeded == (succeed_at <= tries_possible)


def test_real_clock_smoke():
    """With the real clock a condition that is already true returns at once."""
    assert eventually(lambda: 42, timeout=1) == 42
