"""Metrics, criteria and trust of one pattern, from small real inputs."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest

from pipeline.load.config import load
from pipeline.load.results import evaluate, stage_metrics
from pipeline.load.stats import AGGREGATED, OpStats, read_stats
from pipeline.load.telemetry import GENERATOR, HOST, OTHERS, NodeSummary

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load(ROOT / "pipeline.toml")
LIMIT = (1000.0 * 2**20, "node memory limit (1000 MiB)")


def op(name: str, requests: int, rps: float, *, failures: int = 0, avg: float = 10.0, p95: float = 20.0) -> OpStats:
    return OpStats(name, "GET", requests, failures, avg, avg, p95, p95 * 1.5, p95 * 2, rps)


def node(name: str, cpu: float, rss_mb: float = 100.0) -> NodeSummary:
    return NodeSummary(name, 10, 0, cpu, cpu + 5, rss_mb * 2**20, rss_mb * 2**20, rss_mb * 2**20)


def stats_for(achieved: float, *, avg: float = 10.0, failures: int = 0) -> dict[str, OpStats]:
    """The steady-state pattern's three operations at ``achieved`` ops/s in total."""
    parts = {"coordinate_agents": 5 / 6.1, "monitor_system": 1 / 6.1, "fault_detection": 0.1 / 6.1}
    rows = {name: op(name, int(achieved * share * 25), achieved * share, avg=avg) for name, share in parts.items()}
    total = sum(r.requests for r in rows.values())
    rows[AGGREGATED] = op(AGGREGATED, total, achieved, failures=failures, avg=avg, p95=avg * 2)
    return rows


NODES = {
    "n1": node("n1", 30),
    "n2": node("n2", 25),
    "n3": node("n3", 20, rss_mb=400),
    HOST: node(HOST, 120),
    OTHERS: node(OTHERS, 5),
    GENERATOR: node(GENERATOR, 40),
}
STEADY = CONFIG.pattern("steady_state_coordination")


def test_metrics_come_from_the_overall_row_and_the_patterns_own_operations():
    result = evaluate(CONFIG, STEADY, stats_for(6.0), NODES, duration_s=25, limit=LIMIT)
    m = result.metrics
    assert m["throughput_ops"] == pytest.approx(6.0) and m["achieved_ops"] == pytest.approx(6.0)
    assert m["throughput_ratio"] == pytest.approx(6.0 / 6.1)
    assert m["memory_ratio"] == pytest.approx(0.4)  # the largest node RSS over the limit
    assert m["node_cpu_percent"] == 30 and m["generator_cpu_percent"] == 40 and m["host_cpu_percent"] == 120
    assert result.trusted and result.verdict == "pass", result.checks


def test_a_missed_criterion_fails_with_the_measured_value():
    result = evaluate(CONFIG, STEADY, stats_for(6.0, failures=10), NODES, duration_s=25, limit=LIMIT)
    failed = [c for c in result.checks if not c.passed]
    assert [repr(c.threshold) for c in failed] == ["error_rate < 0.01"]
    assert failed[0].measured == pytest.approx(10 / result.overall.requests)
    assert result.verdict == "fail"


def test_locusts_cpu_warning_makes_the_run_untrusted():
    output = "[x] WARNING/root: CPU usage above 90%! This may constrain your throughput ..."
    result = evaluate(CONFIG, STEADY, stats_for(6.0), NODES, duration_s=25, locust_output=output, limit=LIMIT)
    assert not result.trusted and result.verdict == "unknown"
    assert "CPU usage above 90%" in result.untrusted_reason


def test_falling_short_with_idle_nodes_and_fast_answers_is_the_generators_fault():
    result = evaluate(CONFIG, STEADY, stats_for(3.0, avg=10), NODES, duration_s=25, limit=LIMIT)
    assert not result.trusted
    assert "achieved 3.0 of 6.1 ops/s (49% < 90%)" in result.untrusted_reason
    assert "busiest node used 30% of a core" in result.untrusted_reason


def test_falling_short_because_the_service_is_slow_is_a_fair_fail():
    # 25 users, 10 s an operation: at most 2.5 ops/s whatever the generator does
    result = evaluate(CONFIG, STEADY, stats_for(2.4, avg=10_000), NODES, duration_s=25, limit=LIMIT)
    assert result.trusted and result.verdict == "fail"


def test_falling_short_with_busy_nodes_is_a_fair_fail():
    busy = dict(NODES, n1=node("n1", 95))
    result = evaluate(CONFIG, STEADY, stats_for(3.0), busy, duration_s=25, limit=LIMIT)
    assert result.trusted and result.verdict == "fail"


def test_no_requests_is_not_a_measurement():
    result = evaluate(
        CONFIG, STEADY, {AGGREGATED: op(AGGREGATED, 0, 0.0, avg=math.nan)}, NODES, duration_s=25, limit=LIMIT
    )
    assert not result.trusted and "no requests" in result.untrusted_reason


def test_the_stage_metric_is_the_worst_trusted_pattern_judged_on_it():
    hft = CONFIG.pattern("high_frequency_trading")
    fast = evaluate(
        CONFIG,
        hft,
        {"place_bid": op("place_bid", 100, 1500.0), AGGREGATED: op(AGGREGATED, 100, 1500.0, p95=40)},
        NODES,
        duration_s=25,
        limit=LIMIT,
    )
    assert fast.trusted
    slow = evaluate(CONFIG, STEADY, stats_for(6.0, avg=100), NODES, duration_s=25, limit=LIMIT)
    metrics = stage_metrics([fast, slow], CONFIG.stage_thresholds)
    assert metrics["p95_ms"] == 200  # the worse of the two (both judged on p95)
    assert metrics["throughput_ops"] == 1500  # only the HFT pattern is judged on throughput_ops
    untrusted = dataclasses.replace(slow, trusted=False)
    assert stage_metrics([fast, untrusted], CONFIG.stage_thresholds)["p95_ms"] == 40


def test_results_from_a_real_locust_run(locust_run):
    burst = CONFIG.pattern("multi_agent_coordination_burst").scaled(4)
    result = evaluate(
        CONFIG,
        burst,
        read_stats(locust_run.run.files["stats"]),
        NODES,
        duration_s=3,
        locust_output=locust_run.run.output,
        limit=LIMIT,
    )
    assert set(result.ops) <= {"coordinate_agents", "consensus_voting", "resource_allocation"}
    assert "setup:start_agent" in result.extra
    assert result.metrics["requests"] == result.overall.requests > 0


def test_a_full_machine_is_blamed_on_whoever_used_most_of_it():
    full = dict(NODES, **{HOST: node(HOST, 195), OTHERS: node(OTHERS, 110)})
    noisy = evaluate(CONFIG, STEADY, stats_for(3.0, avg=10_000), full, duration_s=25, limit=LIMIT)
    assert not noisy.trusted and "a noisy host held the rate back" in noisy.untrusted_reason
    assert "other processes 110%" in noisy.untrusted_reason
    nodes_busy = dict(full, **{OTHERS: node(OTHERS, 10), "n1": node("n1", 60), "n2": node("n2", 60)})
    fair = evaluate(CONFIG, STEADY, stats_for(3.0, avg=10_000), nodes_busy, duration_s=25, limit=LIMIT)
    assert fair.trusted and fair.verdict == "fail"
    locust_busy = dict(full, **{OTHERS: node(OTHERS, 10), GENERATOR: node(GENERATOR, 99)})
    generator = evaluate(CONFIG, STEADY, stats_for(3.0, avg=10_000), locust_busy, duration_s=25, limit=LIMIT)
    assert not generator.trusted and "the load generator shared a full machine" in generator.untrusted_reason


def test_a_generator_taking_a_quarter_of_a_full_machine_makes_a_shortfall_untrusted():
    """Seen for real: 2000 HFT users on 2 cores, the nodes 109% in all, Locust 75%, the machine full:
    the nodes used more than Locust, yet every cycle Locust burned was one the nodes lacked."""
    capacity = 100.0 * (os.cpu_count() or 1)
    shared = dict(
        NODES,
        **{HOST: node(HOST, 0.93 * capacity), OTHERS: node(OTHERS, 1), GENERATOR: node(GENERATOR, 0.375 * capacity)},
        **{"n1": node("n1", 0.18 * capacity), "n2": node("n2", 0.2 * capacity), "n3": node("n3", 0.17 * capacity)},
    )
    result = evaluate(CONFIG, STEADY, stats_for(3.0, avg=10_000), shared, duration_s=25, limit=LIMIT)
    assert not result.trusted and result.verdict != "fail"
    assert "the load generator shared a full machine with the nodes" in result.untrusted_reason


def test_a_failing_criterion_on_a_noisy_host_is_not_judged():
    noisy = dict(NODES, **{OTHERS: node(OTHERS, 80)})
    result = evaluate(CONFIG, STEADY, stats_for(6.0, avg=400), noisy, duration_s=25, limit=LIMIT)
    assert not result.trusted and "a noisy host" in result.untrusted_reason
    assert "avg_ms < 100 (measured 400)" in result.untrusted_reason
    passing = evaluate(CONFIG, STEADY, stats_for(6.0), noisy, duration_s=25, limit=LIMIT)
    assert passing.trusted and passing.verdict == "pass"  # noise cannot make a service look better


def test_an_untrusted_patterns_value_is_never_replaced_by_another_patterns():
    hft = CONFIG.pattern("high_frequency_trading")
    slow = evaluate(
        CONFIG,
        hft,
        {"place_bid": op("place_bid", 100, 450.0), AGGREGATED: op(AGGREGATED, 100, 450.0)},
        NODES,
        duration_s=25,
        limit=LIMIT,
    )
    steady = evaluate(CONFIG, STEADY, stats_for(6.0), NODES, duration_s=25, limit=LIMIT)
    assert not slow.trusted and steady.trusted
    assert stage_metrics([slow, steady], CONFIG.stage_thresholds)["throughput_ops"] == 450
