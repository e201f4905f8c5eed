"""One scenario's outcome: metrics, criteria, trust and files.

The verdict is ``error`` when the run itself broke (no cluster, the workload
raised), ``unknown`` when the measurement cannot be trusted (a fault not
verified effective, a workload that could not keep its rate before any
fault, an inconclusive check) -- never ``pass`` then -- else ``pass`` or
``fail`` on the criteria.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pipeline.chaos.model import Scenario
from pipeline.report.threshold import Check, number

__all__ = ["ScenarioResult", "describe", "UNITS"]

UNITS = {"recovery_time": " s", "p95_ms": " ms", "p50_ms": " ms"}


@dataclass
class ScenarioResult:
    scenario: Scenario
    seed: int
    metrics: dict[str, float] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    problems: tuple[str, ...] = ()
    error: str = ""
    consistency: str = ""  # the checkers' report when data_consistency is 0 (or inconclusive)
    replay: str = ""
    elapsed_s: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def trusted(self) -> bool:
        return not self.problems

    @property
    def untrusted_reason(self) -> str:
        return "; ".join(self.problems)

    @property
    def passed(self) -> bool:
        return not self.error and all(c.passed for c in self.checks)

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        if not self.trusted:
            return "unknown"
        return "pass" if self.passed else "fail"


def _unit(metric: str) -> str:
    return next((u for m, u in UNITS.items() if metric == m or metric.startswith(m + ".")), "")


def describe(check: Check) -> str:
    """``measured 0.93; threshold availability >= 0.8`` (the JUnit message)."""
    value = check.measured
    if value is None or (isinstance(value, float) and math.isnan(value)):
        measured = "not measured"
    elif math.isinf(value):
        measured = "never (did not happen within the deadline)"
    else:
        measured = f"measured {number(round(value, 4))}{_unit(check.threshold.metric)}"
    return f"{measured}; threshold {check.threshold!r}"
