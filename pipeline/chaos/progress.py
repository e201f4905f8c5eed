"""What a person watching sees: a line every few seconds while a scenario runs,
a table per scenario at the end, and the stage's summary table."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from pipeline.chaos.metrics import served
from pipeline.chaos.result import ScenarioResult, describe
from pipeline.checker.history import Op

__all__ = ["progress_line", "scenario_table", "summary_table", "phase_of"]


def phase_of(elapsed_s: float, windows: Sequence[tuple[str, str, float, float]], duration_s: float) -> str:
    """``before``, ``during w2 (crash n3)`` or ``after``, for a time into the chaos window."""
    if elapsed_s < min((start for _, _, start, _ in windows), default=duration_s):
        return "before"
    active = [f"{wid} ({label})" for wid, label, start, end in windows if start <= elapsed_s < end]
    if active:
        return "during " + ", ".join(active)
    if elapsed_s >= duration_s:
        return "after"
    return "between faults"


def progress_line(name: str, phase: str, elapsed_s: float, total_s: float, ops: Sequence[Op], window_s: float) -> str:
    """``[leader_kill] during w1 (crash the leader)  12/40 s  availability 0.93 (last 5 s, 97 ops)``."""
    since = time.monotonic_ns() - int(window_s * 1e9)
    recent = [o for o in ops if o.invoke_ns >= since]
    share = sum(1 for o in recent if served(o)) / len(recent) if recent else math.nan
    avail = "-" if math.isnan(share) else f"{share:.2f}"
    return (
        f"[{name}] {phase}  {elapsed_s:.0f}/{total_s:.0f} s  availability {avail} "
        f"(last {window_s:g} s, {len(recent)} ops)"
    )


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join([_row(header, widths), _row(["-" * w for w in widths], widths), *(_row(r, widths) for r in rows)])


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "never"
    return f"{x:.{digits}f}"


def scenario_table(result: ScenarioResult) -> str:
    """The criteria of one scenario with measured values, then its verdict."""
    rows = []
    for check in result.checks:
        if result.error:
            status = "not judged"
        elif not result.trusted:
            status = "unknown"
        else:
            status = "pass" if check.passed else "FAIL"
        rows.append([repr(check.threshold), status, describe(check).split(";")[0]])
    m = result.metrics
    lines = [
        f"{result.scenario.label} ({result.name}, seed {result.seed}): {result.verdict.upper()}",
        _table(["criterion", "verdict", "value"], rows) if rows else "(no criteria)",
        f"ops {int(m.get('ops', 0))}, served {int(m.get('ops_served', 0))}, unknown {int(m.get('ops_unknown', 0))}, "
        f"missed slots {int(m.get('missed_slots', 0))}; availability before/during/after "
        f"{_num(m.get('availability.before'))}/{_num(m.get('availability.during'))}/{_num(m.get('availability.after'))}",
    ]
    if result.error:
        lines.append(f"error: {result.error}")
    if result.problems:
        lines.append("not trusted: " + result.untrusted_reason)
    if result.verdict in ("fail", "error", "unknown"):
        lines.append(f"replay: {result.replay}")
    return "\n".join(lines)


def summary_table(results: Sequence[ScenarioResult]) -> str:
    header = ["scenario", "verdict", "availability", "during", "error_rate", "recovery_s", "consistency", "gc", "time"]
    rows = []
    for r in results:
        m = r.metrics
        rows.append(
            [
                r.name,
                r.verdict,
                _num(m.get("availability")),
                _num(m.get("availability.during")),
                _num(m.get("error_rate")),
                _num(m.get("recovery_time"), 2),
                _num(m.get("data_consistency"), 0),
                _num(m.get("gc_pressure"), 2),
                f"{r.elapsed_s:.0f} s",
            ]
        )
    return _table(header, rows)
