"""Locust's CSV, as a real (tiny) Locust run against a real local server wrote it."""

from __future__ import annotations

import math

from pipeline.load.stats import AGGREGATED, read_history, read_stats


def test_stats_have_one_row_per_operation_and_the_overall_row(locust_run):
    stats = read_stats(locust_run.run.files["stats"])
    assert AGGREGATED in stats
    # one Locust name per operation, and named sub-steps; never one name per URL
    assert {"coordinate_agents", "consensus_voting", "setup:start_agent"} <= set(stats)
    assert not any(name.startswith("/") for name in stats)
    overall = stats[AGGREGATED]
    assert overall.requests == sum(s.requests for n, s in stats.items() if n != AGGREGATED)
    assert overall.requests > 0 and overall.rps > 0
    for s in stats.values():
        assert s.p50_ms <= s.p95_ms <= s.p99_ms <= math.ceil(s.max_ms) + 1


def test_failures_are_counted_by_operation(locust_run):
    stats = read_stats(locust_run.run.files["stats"])
    pools = stats.get("resource_allocation:pool")
    if pools is not None:  # the stub answers 500 to POST /pools
        assert pools.failures == pools.requests and pools.error_rate == 1.0
    assert stats["coordinate_agents"].failures == 0
    failures = locust_run.run.files["failures"].read_text()
    if pools is not None:
        assert "HTTP 500 internal" in failures


def test_history_rows_run_per_second_with_growing_totals(locust_run):
    rows = read_history(locust_run.run.files["history"])
    assert rows and all(r.name == AGGREGATED for r in rows)
    totals = [r.total_requests for r in rows]
    assert totals == sorted(totals)
    assert max(r.users for r in rows) == 4
    everything = read_history(locust_run.run.files["history"], name=None)
    assert {r.name for r in everything} >= {AGGREGATED, "coordinate_agents"}


def test_history_of_a_missing_or_torn_file(tmp_path):
    assert read_history(tmp_path / "nope.csv") == []
    torn = tmp_path / "h.csv"
    torn.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,Total Request Count,"
        "Total Failure Count\n1,2,,Aggregated,3.5,0,4,9,10,1\n2,2,,Aggreg"
    )
    rows = read_history(torn)
    assert len(rows) == 1 and rows[0].rps == 3.5 and rows[0].total_failures == 1
