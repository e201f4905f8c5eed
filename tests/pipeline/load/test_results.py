"""Metrics, criteria and trust of one pattern, from small real inputs."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest

from pipeline.load.config import load
from pipeline.load.junit import write_report
from pipeline.load.results import evaluate, stage_metrics
from pipeline.load.stats import AGGREGATED, HistoryRow, OpStats, read_stats
from pipeline.load.telemetry import GENERATOR, HOST, OTHERS, NodeSummary, Sample, summarise

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


# ---------------------------------------------------------------- per-second telemetry and history
# The verdict reads the per-second samples (one row per node per second, as the sampler takes
# them, summarised as the runner does) and Locust's per-second history, not the run's means.

CAPACITY = 100.0 * (os.cpu_count() or 1)
HFT = CONFIG.pattern("high_frequency_trading")


def per_second(series: dict[str, list[float]], *, rss_mb: float = 100.0) -> dict[str, NodeSummary]:
    """Telemetry samples, one per node per second, through :func:`summarise` (2 s of ramp skipped)."""
    samples = [
        Sample(1000.0 + t, float(t), node, True, {"cpu_percent": cpu, "rss_bytes": rss_mb * 2**20})
        for node, cpus in series.items()
        for t, cpu in enumerate([0.0, 0.0, *cpus])  # the ramp's two seconds, left out
    ]
    return summarise(samples, skip_first_s=2)


def machine(nodes: dict[str, list[float]], *, locust: float = 60.0) -> dict[str, NodeSummary]:
    """``nodes``' per-second CPU, Locust steady at ``locust``% and a half-busy, quiet machine."""
    n = len(next(iter(nodes.values())))
    return per_second(
        {**nodes, GENERATOR: [locust] * n, HOST: [0.5 * CAPACITY] * n, OTHERS: [5.0] * n},
    )


def hft_stats(achieved: float, *, failures: int = 0, avg: float = 40.0, p95: float = 80.0) -> dict[str, OpStats]:
    """The HFT pattern's three operations at ``achieved`` ops/s in total over 300 s."""
    shares = {"create_auction": 100 / 1600, "place_bid": 500 / 1600, "check_market_data": 1000 / 1600}
    rows = {n: op(n, int(achieved * share * 300), achieved * share, avg=avg, p95=p95) for n, share in shares.items()}
    total = sum(r.requests for r in rows.values())
    rows[AGGREGATED] = op(AGGREGATED, total, achieved, failures=failures, avg=avg, p95=p95)
    return rows


def history(rps: list[float], p95: list[float], failures_per_s: list[int] | None = None) -> list[HistoryRow]:
    """Locust's overall per-second rows at full users (after a 2-row ramp at fewer users)."""
    fails = failures_per_s or [0] * len(rps)
    rows = [HistoryRow(t, 50 * (t + 1), AGGREGATED, 800.0, 0.0, 5.0, 10.0, 0, 0) for t in range(2)]
    total_requests = total_failures = 0
    for i, (rate, p, f) in enumerate(zip(rps, p95, fails, strict=True)):
        total_requests += int(rate)
        total_failures += f
        rows.append(HistoryRow(2 + i, 200, AGGREGATED, rate, float(f), p / 3, p, total_requests, total_failures))
    return rows


def slope(start: float, end: float, n: int) -> list[float]:
    return [start + (end - start) * i / (n - 1) for i in range(n)]


IDLE_30 = {"n1": [30.0] * 30, "n2": [25.0] * 30, "n3": [20.0] * 30}


def test_a_degrading_service_is_judged_on_its_per_second_samples_not_its_mean():
    """Seen for real (HFT, --full, 5 min): the rate slid from 1600 to 1287 ops/s and 503s came
    after ~180 s; the busiest node's 5-minute mean was 43 %, yet per second it sat at 135-164 %
    for the last minute.  The mean blamed the load generator; the service was the bottleneck."""
    n1 = [15.0] * 240 + slope(135, 164, 60)  # mean 42 %, busy in 60 of 300 seconds
    nodes = machine({"n1": n1, "n2": [20.0] * 300, "n3": [18.0] * 300}, locust=60)
    stats = hft_stats(1350.0, failures=12_000, avg=60, p95=620)
    rows = history(slope(1600, 1287, 300), [60.0] * 200 + slope(60, 700, 100), [0] * 180 + [100] * 120)
    result = evaluate(CONFIG, HFT, stats, nodes, duration_s=300, history=rows, limit=LIMIT)
    m = result.metrics
    assert m["node_cpu_percent"] == pytest.approx(42.2, abs=0.5)  # the mean: under the 80 % bar
    assert m["node_cpu_p90_percent"] >= 135 and m["node_cpu_busy_share"] == pytest.approx(0.2)
    assert m["throughput_ratio"] < CONFIG.generator_bound_ratio
    assert result.trusted and result.untrusted_reason == "" and result.verdict == "fail"
    failed = {repr(c.threshold) for c in result.checks if not c.passed}
    assert failed == {"p95_ms < 500", "error_rate < 0.01"}


def test_the_failing_criteria_of_a_degrading_service_are_reported_as_failures(tmp_path):
    import xml.etree.ElementTree as ET

    n1 = [15.0] * 240 + slope(135, 164, 60)
    nodes = machine({"n1": n1, "n2": [20.0] * 300, "n3": [18.0] * 300})
    result = evaluate(
        CONFIG, HFT, hft_stats(1350.0, failures=12_000, avg=60, p95=620), nodes, duration_s=300, limit=LIMIT
    )
    path = write_report(tmp_path / "performance.xml", [result], CONFIG.stage_thresholds, seed=1, replay="-")
    suite = next(s for s in ET.parse(path).getroot() if s.get("name") == "performance.high_frequency_trading")
    failures = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    skipped = [c.get("name") for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert failures == {"p95_ms < 500", "error_rate < 0.01"} and skipped == []


def test_a_node_busy_per_second_for_part_of_the_run_makes_a_shortfall_the_services():
    """The CPU alone (no errors, no history): its mean is low, its per-second CPU is not."""
    n1 = [15.0] * 240 + slope(135, 164, 60)
    nodes = machine({"n1": n1, "n2": [20.0] * 300, "n3": [18.0] * 300})
    result = evaluate(CONFIG, HFT, hft_stats(900.0), nodes, duration_s=300, limit=LIMIT)
    assert result.metrics["node_cpu_percent"] < CONFIG.node_cpu_busy_percent
    assert result.trusted and result.verdict == "fail"
    assert [repr(c.threshold) for c in result.checks if not c.passed] == ["throughput_ops >= 1000"]


def test_idle_nodes_every_second_and_a_busy_locust_blame_the_generator():
    nodes = per_second(
        {
            **IDLE_30,
            GENERATOR: [95.0, 110.0] * 15,
            HOST: [0.5 * CAPACITY] * 30,
            OTHERS: [5.0] * 30,
        }
    )
    result = evaluate(CONFIG, STEADY, stats_for(3.0), nodes, duration_s=30, limit=LIMIT)
    assert not result.trusted and result.verdict == "unknown"
    reason = result.untrusted_reason
    assert reason.startswith("steady_state_coordination: the load generator was the bottleneck: ")
    assert "achieved 3.0 of 6.1 ops/s (49% < 90%)" in reason
    assert "every node had CPU to spare per second (the busiest, n1 at or above 80% of a core in 0 of 30" in reason
    assert "Locust at or above 90% of a core in 30 of 30 per-second samples (p90 110%" in reason


def test_one_busy_second_among_idle_ones_does_not_make_the_node_busy():
    """A spike (a GC pause, a snapshot) is not a saturated node: the rule is not the maximum."""
    spike = dict(IDLE_30, n1=[30.0] * 14 + [160.0] + [30.0] * 15)
    nodes = machine(spike, locust=95)
    result = evaluate(CONFIG, STEADY, stats_for(3.0), nodes, duration_s=30, limit=LIMIT)
    assert nodes["n1"].cpu_max == 160
    assert not result.trusted and "the load generator was the bottleneck" in result.untrusted_reason
    assert "n1 at or above 80% of a core in 1 of 30 per-second samples (p90 30%, max 160%" in result.untrusted_reason


def test_a_node_is_busy_from_a_tenth_of_its_samples_and_three_of_them():
    def verdict(busy_seconds: int, total: int) -> str:
        n1 = [160.0] * busy_seconds + [30.0] * (total - busy_seconds)
        nodes = machine(dict({k: v[:1] * total for k, v in IDLE_30.items()}, n1=n1), locust=95)
        return evaluate(CONFIG, STEADY, stats_for(3.0), nodes, duration_s=total, limit=LIMIT).verdict

    assert verdict(2, 30) == "unknown" and verdict(3, 30) == "fail"  # 10 % of 30: 3
    assert verdict(2, 10) == "unknown" and verdict(3, 10) == "fail"  # at least 3, whatever the share
    assert verdict(29, 300) == "unknown" and verdict(30, 300) == "fail"  # 10 % of 300: 30


def test_errors_the_service_answered_make_a_shortfall_the_services():
    nodes = machine(IDLE_30, locust=95)
    many = evaluate(CONFIG, STEADY, stats_for(3.0, failures=20), nodes, duration_s=30, limit=LIMIT)
    assert many.metrics["error_rate"] >= 0.01
    assert many.trusted and many.verdict == "fail"
    # under 1 % over the run, but failing in a third of its seconds (an outage the run's rate dilutes)
    few = stats_for(3.0, failures=0)
    outage = history([3.0] * 30, [20.0] * 30, [0] * 20 + [1] * 10)
    sustained = evaluate(CONFIG, STEADY, few, nodes, duration_s=30, history=outage, limit=LIMIT)
    assert sustained.trusted and sustained.verdict == "fail"
    blip = history([3.0] * 30, [20.0] * 30, [0] * 29 + [1])
    once = evaluate(CONFIG, STEADY, few, nodes, duration_s=30, history=blip, limit=LIMIT)
    assert not once.trusted and "the load generator was the bottleneck" in once.untrusted_reason


def test_latency_growing_while_the_rate_fell_is_the_services_unless_locust_was_busy():
    rows = history(slope(6.0, 2.0, 30), [20.0] * 10 + slope(20, 90, 20))
    calm = evaluate(
        CONFIG, STEADY, stats_for(3.0), machine(IDLE_30, locust=40), duration_s=30, history=rows, limit=LIMIT
    )
    assert calm.trusted and calm.verdict == "fail"
    # a saturated Locust measures its own queueing as latency: the growth says nothing then
    busy = evaluate(
        CONFIG, STEADY, stats_for(3.0), machine(IDLE_30, locust=95), duration_s=30, history=rows, limit=LIMIT
    )
    assert not busy.trusted and "the load generator was the bottleneck" in busy.untrusted_reason
    # a steady latency with a falling rate is no sign of the service
    flat = history(slope(6.0, 2.0, 30), [20.0] * 30)
    steady = evaluate(
        CONFIG, STEADY, stats_for(3.0), machine(IDLE_30, locust=40), duration_s=30, history=flat, limit=LIMIT
    )
    assert not steady.trusted


def test_errors_on_a_noisy_host_are_not_judged():
    nodes = per_second({**IDLE_30, GENERATOR: [40.0] * 30, HOST: [0.5 * CAPACITY] * 30, OTHERS: [80.0] * 30})
    result = evaluate(CONFIG, STEADY, stats_for(3.0, failures=20), nodes, duration_s=30, limit=LIMIT)
    assert not result.trusted and result.untrusted_reason.startswith("steady_state_coordination: a noisy host: ")
    assert "Locust counted 20 failures" in result.untrusted_reason
