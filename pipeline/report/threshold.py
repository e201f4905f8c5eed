"""Thresholds written as text, the way k6 writes them: ``p95_ms < 500``.

A threshold is a small frozen object made by a factory function and printing
itself back as the text it came from::

    >>> parse_threshold("p95_ms < 500")
    p95_ms < 500
    >>> at_least("throughput_ops", 1000)
    throughput_ops >= 1000

It is checked against the metrics a stage reported (see ``pipeline.report.junit``):
``check({"p95_ms": 612.0})`` gives a :class:`Check` that says what was measured.
A metric the stage did not report fails the check ("not reported").
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_FORM = re.compile(r"\s*(?P<metric>[^\s<>=!]+)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[^\s%<>=!]+)\s*(?P<pct>%?)\s*")
FORM_HELP = "expected '<metric> <op> <number>' with op one of " + ", ".join(OPERATORS)


def number(value: float) -> str:
    """A float as short as it reads exactly: ``500``, ``0.01``, ``1e+20``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class ThresholdError(ValueError):
    """A threshold text that does not parse; the message says why."""


@dataclass(frozen=True)
class Threshold:
    """``metric op limit``, e.g. ``error_rate < 0.01``."""

    metric: str
    op: str
    limit: float

    def __repr__(self) -> str:
        return f"{self.metric} {self.op} {number(self.limit)}"

    __str__ = __repr__

    def check(self, metrics: Mapping[str, float]) -> Check:
        """Check this threshold against reported metrics."""
        return Check(self, metrics.get(self.metric))


@dataclass(frozen=True)
class Check:
    """The outcome of one threshold against one measured value (``None``: not reported)."""

    threshold: Threshold
    measured: float | None

    @property
    def passed(self) -> bool:
        if self.measured is None or math.isnan(self.measured):
            return False
        return OPERATORS[self.threshold.op](self.measured, self.threshold.limit)

    @property
    def detail(self) -> str:
        if self.measured is None:
            return f"metric '{self.threshold.metric}' not reported"
        return f"measured {number(self.measured)}"

    def __repr__(self) -> str:
        return f"{self.threshold!r}: {self.detail} -> {'pass' if self.passed else 'FAIL'}"


def make(metric: str, op: str, limit: float) -> Threshold:
    """A checked threshold; ``ThresholdError`` on a bad metric name, operator or limit."""
    if not METRIC_NAME.fullmatch(metric):
        raise ThresholdError(f"bad metric name {metric!r}: use letters, digits, '_' and '.'")
    if op not in OPERATORS:
        raise ThresholdError(f"bad operator {op!r}: {FORM_HELP}")
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit):
        raise ThresholdError(f"bad limit {limit!r}: {FORM_HELP}")
    return Threshold(metric, op, float(limit))


def below(metric: str, limit: float) -> Threshold:
    return make(metric, "<", limit)


def at_most(metric: str, limit: float) -> Threshold:
    return make(metric, "<=", limit)


def above(metric: str, limit: float) -> Threshold:
    return make(metric, ">", limit)


def at_least(metric: str, limit: float) -> Threshold:
    return make(metric, ">=", limit)


def parse_threshold(text: str) -> Threshold:
    """Parse ``'p95_ms < 500'``; a trailing ``%`` divides by 100 (``error_rate < 1%``)."""
    if not isinstance(text, str):
        raise ThresholdError(f"{text!r} is not a string: {FORM_HELP}")
    match = _FORM.fullmatch(text)
    if not match:
        raise ThresholdError(f"cannot parse {text!r}: {FORM_HELP}")
    try:
        limit = float(match["value"])
    except ValueError:
        raise ThresholdError(f"cannot parse {text!r}: {match['value']!r} is not a number") from None
    if match["pct"]:
        limit /= 100
    try:
        return make(match["metric"], match["op"], limit)
    except ThresholdError as exc:
        raise ThresholdError(f"cannot parse {text!r}: {exc}") from None


def check_all(thresholds: tuple[Threshold, ...], metrics: Mapping[str, float]) -> tuple[Check, ...]:
    return tuple(t.check(metrics) for t in thresholds)


# The seed's performance criteria (average 100 ms, p95 500 ms, error rate 1 %,
# throughput 1000 ops/s, memory 80 %): the shipped default for the performance stage.
PERFORMANCE_DEFAULTS = (
    below("avg_ms", 100),
    below("p95_ms", 500),
    below("error_rate", 0.01),
    at_least("throughput_ops", 1000),
    below("memory_ratio", 0.8),
)
