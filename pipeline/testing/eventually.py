"""Wait for a condition with a deadline instead of sleeping a fixed time.

Distributed and asynchronous systems settle "eventually": a bid is placed a few
milliseconds after the request is accepted, a failed agent is noticed after a
heartbeat timeout.  A test that sleeps a fixed time is either slow or flaky; a
test that polls a condition until a deadline is neither.  When the deadline
passes, the failure carries the condition's last complaint and the time spent,
so the report says *what* never became true, not just "timeout".

A condition is a zero-argument callable.  It is satisfied when it returns a
truthy value without raising one of ``retry_on`` (``AssertionError`` by
default); that value is returned, so a condition can hand back what it checked::

    status = eventually(lambda: done(api.get("/thing/1")), timeout=5)

Conditions written with ``assert`` must therefore end with ``return <value>``
(``return True`` at worst): returning ``None`` counts as "not yet", which fails
loudly rather than passing by accident.  Any other exception is a bug in the
condition or the system and propagates at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["eventually", "EventuallyTimeout"]

T = TypeVar("T")


class EventuallyTimeout(AssertionError):
    """The condition was still unsatisfied when the deadline passed.

    An ``AssertionError`` so pytest reports it as a test failure; the last
    failure (if any) is kept as ``last_error`` and chained as ``__cause__``.
    """

    def __init__(
        self, message: str, *, last_error: BaseException | None, last_result: object, elapsed: float, attempts: int
    ) -> None:
        super().__init__(message)
        self.last_error = last_error
        self.last_result = last_result
        self.elapsed = elapsed
        self.attempts = attempts


def _describe(condition: Callable[[], object], description: str | None) -> str:
    if description:
        return description
    name = getattr(condition, "__qualname__", None) or repr(condition)
    return f"condition {name}"


def eventually(
    condition: Callable[[], T],
    timeout: float = 5.0,
    interval: float = 0.05,
    description: str | None = None,
    *,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``condition`` until it is satisfied; return its (truthy) result.

    ``timeout`` is the deadline in seconds from the first call; the condition
    is always tried at least once, and once more right at the deadline if the
    last try ended earlier, so a slow machine gets the full time.  ``interval``
    is the pause between tries.  ``clock`` and ``sleep`` are injectable so the
    helper itself can be tested without real waiting.

    Raises :class:`EventuallyTimeout` (an ``AssertionError``) naming the
    condition, the elapsed time, the number of tries and the last failure.
    """
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout!r}")
    if interval <= 0:
        raise ValueError(f"interval must be > 0, got {interval!r}")
    start = clock()
    deadline = start + timeout
    attempts = 0
    last_error: BaseException | None = None
    last_result: object = None
    while True:
        attempts += 1
        try:
            result = condition()
        except retry_on as exc:  # "not yet": remember why and try again
            last_error, last_result = exc, None
        else:
            if result:
                return result
            last_error, last_result = None, result
        now = clock()
        if now >= deadline:
            break
        sleep(min(interval, deadline - now))
    elapsed = clock() - start
    if last_error is not None:
        why = f"last failure: {type(last_error).__name__}: {last_error}"
    else:
        why = f"last result: {last_result!r} (falsy)"
    message = (
        f"{_describe(condition, description)} not satisfied within "
        f"{timeout:g}s (elapsed {elapsed:.2f}s, {attempts} tries); {why}"
    )
    raise EventuallyTimeout(
        message, last_error=last_error, last_result=last_result, elapsed=elapsed, attempts=attempts
    ) from last_error
