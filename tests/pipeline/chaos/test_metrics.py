"""Availability, error rate and GC pressure from hand-made histories."""

from __future__ import annotations

import math

import pytest

from pipeline.chaos.metrics import Span, gc_pressure, lost_slots, per_second, percentile, phase_metrics, served
from pipeline.checker.history import Op

S = 1_000_000_000


def op(i, t_s, status="ok", result=None, ms=10):
    start = int(t_s * S)
    return Op(
        i, "c1", "register", "k", "a", status=status, result=result, invoke_ns=start, complete_ns=start + ms * 10**6
    )


def history():
    """0-10 s: 10 ops ok; 10-20 s (window w1): 4 ok, 2 unknown, 2 no_quorum fails, 2 missed slots; 20-30 s: 10 ok."""
    ops = [op(i, i + 0.5) for i in range(10)]
    ops += [op(10 + i, 10.5 + i) for i in range(4)]
    ops += [op(14, 14.5, "unknown"), op(15, 15.5, "unknown")]
    ops += [op(16, 16.5, "fail", 503), op(17, 17.5, "fail", None)]
    ops += [op(18 + i, 20.5 + i) for i in range(10)]
    missed = [(int(18.5 * S), 1.0), (int(19.5 * S), 1.0)]
    return ops, missed


def test_served_counts_a_refusal_by_the_rules_but_not_an_outage():
    assert served(op(0, 0))
    assert served(op(0, 0, "fail", 404)) and served(op(0, 0, "fail", 409))
    assert not served(op(0, 0, "fail", 503)) and not served(op(0, 0, "fail", None))
    assert not served(op(0, 0, "unknown"))


def test_phases_before_during_after_and_per_window():
    ops, missed = history()
    m = phase_metrics(ops, missed, [Span("w1", "crash n2", 10 * S, 20 * S)], start_ns=0, end_ns=30 * S)
    assert m["availability.before"] == 1.0 and m["availability.after"] == 1.0
    assert m["availability.during"] == pytest.approx(4 / 10)  # 8 invoked + 2 missed slots
    assert m["availability.w1.during"] == m["availability.during"]
    assert m["availability.w1.before"] == 1.0 and m["availability.w1.after"] == 1.0
    assert m["availability"] == pytest.approx(24 / 30)
    assert m["error_rate"] == pytest.approx(2 / 28) and m["error_rate.during"] == pytest.approx(2 / 8)
    assert (m["ops"], m["ops_served"], m["ops_unknown"], m["missed_slots"]) == (28, 24, 2, 2)
    assert m["p95_ms"] == pytest.approx(10.0)


def test_per_window_phases_stop_at_the_neighbouring_windows():
    ops, missed = history()
    spans = [Span("w1", "a", 10 * S, 15 * S), Span("w2", "b", 17 * S, 20 * S)]
    m = phase_metrics(ops, missed, spans, start_ns=0, end_ns=30 * S)
    assert m["availability.w1.during"] == pytest.approx(4 / 5)  # 10.5 .. 14.5: 4 ok, 1 unknown
    assert m["availability.w1.during"] != m["availability.w2.during"]
    assert m["availability.w2.before"] == pytest.approx(0 / 2)  # 15.5 unknown, 16.5 no_quorum
    assert m["availability.w2.during"] == pytest.approx(0 / 3)  # 17.5 refused connection, 2 missed slots
    assert m["availability.w2.after"] == 1.0


def test_a_phase_without_attempts_is_not_measured():
    m = phase_metrics([op(0, 1.0)], [], [Span("w1", "x", 0, 5 * S)], start_ns=0, end_ns=10 * S)
    assert math.isnan(m["availability.before"]) and m["availability.during"] == 1.0


def test_no_windows_gives_overall_metrics_only():
    ops, missed = history()
    m = phase_metrics(ops, missed, [], start_ns=0, end_ns=30 * S)
    assert "availability.during" not in m and m["availability"] == pytest.approx(24 / 30)


def test_per_second_buckets():
    ops, missed = history()
    seconds = per_second(ops, missed, start_ns=0, end_ns=30 * S)
    assert len(seconds) == 30
    assert seconds[0].availability == 1.0 and seconds[14].availability == 0.0 and seconds[18].attempted == 1


def test_percentile_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([1, 2], 95) == 2 and math.isnan(percentile([], 50))


def test_gc_pressure_is_the_worst_nodes_share_of_seconds_with_a_full_collection():
    quiet = [(0.0, [10, 1, 0]), (1.0, [20, 2, 0]), (2.0, [30, 3, 0]), (3.0, [40, 3, 0])]
    busy = [(0.0, [10, 1, 0]), (1.0, [30, 3, 1]), (2.0, [40, 4, 1]), (3.0, [90, 5, 2]), (4.0, [95, 6, 3])]
    pressure, rate = gc_pressure({"n1": quiet, "n2": busy})
    assert pressure == pytest.approx(3 / 4)
    assert rate == pytest.approx((104 - 11) / 4)


def test_gc_pressure_skips_a_restart_and_is_nan_without_samples():
    restarted = [(0.0, [10, 1, 5]), (1.0, [1, 0, 0]), (2.0, [2, 0, 0])]
    assert gc_pressure({"n1": restarted}) == (0.0, 1.0)
    assert all(math.isnan(x) for x in gc_pressure({"n1": [(0.0, [1, 0, 0])]}))


def test_a_missed_slot_gets_the_outcome_of_the_ops_around_it():
    ops = [op(0, 1.0), op(1, 1.2, "unknown"), op(2, 1.4), op(3, 1.6, "fail", 503), op(4, 5.0)]
    missed = [("c2", int(1.3 * S)), ("c2", int(3.5 * S)), ("c3", int(5.5 * S))]
    assert lost_slots(ops, missed) == [(int(1.3 * S), 0.5), (int(3.5 * S), 1.0), (int(5.5 * S), 0.0)]
    m = phase_metrics(ops, lost_slots(ops, missed), [], start_ns=0, end_ns=10 * S)
    assert m["availability"] == pytest.approx((3 + 0.5 + 0 + 1) / 8) and m["missed_slots"] == 3
