"""Progress lines and tables."""

from __future__ import annotations

import time

from pipeline.chaos.progress import phase_of, progress_line, scenario_table, summary_table
from pipeline.checker.history import Op
from tests.pipeline.chaos.test_junit import result

WINDOWS = [("w1", "crash n3", 10.0, 20.0), ("w2", "latency", 15.0, 30.0)]


def test_phase_names():
    assert phase_of(-3, WINDOWS, 40) == "before" and phase_of(5, WINDOWS, 40) == "before"
    assert phase_of(12, WINDOWS, 40) == "during w1 (crash n3)"
    assert phase_of(16, WINDOWS, 40) == "during w1 (crash n3), w2 (latency)"
    assert phase_of(35, WINDOWS, 40) == "between faults" and phase_of(41, WINDOWS, 40) == "after"


def test_progress_line_shows_recent_availability():
    now = time.monotonic_ns()
    ops = [Op(i, "c1", "lookup", "k", invoke_ns=now - 10**8, complete_ns=now) for i in range(3)]
    ops.append(Op(3, "c1", "lookup", "k", status="unknown", invoke_ns=now - 10**8, complete_ns=now))
    ops.append(Op(4, "c1", "lookup", "k", invoke_ns=now - 60 * 10**9, complete_ns=now))  # too old
    line = progress_line("leader_kill", "during w1 (crash n1)", 12.4, 33, ops, 5)
    assert line == "[leader_kill] during w1 (crash n1)  12/33 s  availability 0.75 (last 5 s, 4 ops)"
    assert "availability - (last 5 s, 0 ops)" in progress_line("x", "before", 0, 10, [], 5)


def test_tables_show_criteria_values_and_verdicts():
    ok, bad = result(), result(**{"availability.during": 0.42})
    text = scenario_table(bad)
    assert "availability.during >= 0.8  FAIL     measured 0.42" in text and "replay: nox -s chaos" in text
    assert "PASS" in scenario_table(ok)
    summary = summary_table([ok, bad])
    assert summary.splitlines()[0].split() == [
        "scenario",
        "verdict",
        "availability",
        "during",
        "error_rate",
        "recovery_s",
        "consistency",
        "gc",
        "time",
    ]
    assert "pass" in summary.splitlines()[2] and "fail" in summary.splitlines()[3]
