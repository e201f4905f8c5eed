"""One pattern's results: Locust's statistics, the nodes' telemetry, the
criteria and whether the measurement can be trusted.

Metrics (the names thresholds use):

=====================  ===========================================================
``avg_ms`` ...         Locust's overall (``Aggregated``) average, p50, p95, p99
``error_rate``         failures / requests, overall
``throughput_ops``     Locust's overall requests per second (every request)
``target_ops``         the pattern's target (users x per-user rate)
``achieved_ops``       requests per second of the pattern's own operations
``throughput_ratio``   ``achieved_ops / target_ops``
``memory_ratio``       the largest node RSS over the node memory limit (the node
                       spec's ``memory_mb``), else over the machine's memory
``node_cpu_percent``   the busiest node's mean CPU (% of one core)
``node_cpu_p90_percent``  the largest per-node p90 of the per-second CPU samples
``node_cpu_busy_share``  the largest per-node share of per-second samples at or above
                       ``node_cpu_busy_percent``
``generator_cpu_percent``  the Locust processes' mean CPU (% of one core)
``generator_cpu_p90_percent``  the p90 of their per-second CPU samples
``host_cpu_percent``   the whole machine's mean CPU (% of one core, summed over cores)
``other_cpu_percent``  what of it was neither the nodes nor Locust (the kernel, the sampler,
                       whatever else shares the machine: a noisy host shows here)
=====================  ===========================================================

Trust.  A run that measured the load generator or the neighbours instead of
the service is *untrusted* (the gate says ``unknown``, never pass or fail):

* Locust warned about its own CPU (``CPU usage above 90%``);
* the achieved rate stayed under ``generator_bound_ratio`` of the target, no
  node was busy and the service showed no sign of its own (below), and either
  the machine was full (90 % of its cores) with Locust or other processes using
  more of it than the nodes, or it was not full and the service's latency would
  have allowed the target (users / average time per operation, Little's law);
* the achieved rate stayed under ``generator_bound_ratio`` of the target on a full
  machine where Locust used a quarter of it or more and no node was busy: it
  took CPU the nodes would otherwise have had, so the shortfall measures the
  shared machine;
* a criterion failed while processes outside the run (``other_cpu_percent``)
  used ``host_other_cpu_percent`` of a core or more on average: a noisy host.

A shortfall the service explains is a fair measurement of a slow service: the
criteria pass or fail on their own.  The service explains it when, judged on
the per-second telemetry and Locust's per-second history rather than on the
run's means (a 5-minute mean of 43 % hides a node at 150 % for its last two
minutes):

* a node was *busy*: its per-second CPU was at or above ``node_cpu_busy_percent``
  in at least 10 % of its samples after the ramp (its p90 reached the bar) and
  in at least 3 of them; one busy second among idle ones is a spike (a GC pause,
  a snapshot), not a saturated node;
* it answered errors: Locust counted failures (an HTTP 5xx such as a 503, any
  answer the locustfile does not accept, a refused or timed-out connection) in
  1 % of the requests or more, or in at least 10 % (and 3) of the seconds of its
  history (an outage the run's rate dilutes);
* it degraded: over Locust's history (all users running), the last third's
  median p95 was 1.5 times the first third's or more while the median rate fell
  to 90 % of the first third's or less, with Locust's own CPU known and never
  busy (90 % of a core per process, same rule): a saturated Locust measures its
  own queueing as latency, so then the growth says nothing about the service.

Errors and degradation on a noisy host (``host_other_cpu_percent``) are the
neighbours' as much as the service's: untrusted, like a slow latency there.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from pipeline.load.config import LoadConfig, PatternConfig
from pipeline.load.stats import AGGREGATED, HistoryRow, OpStats
from pipeline.load.telemetry import GENERATOR, HOST, OTHERS, NodeSummary
from pipeline.report.threshold import Check, Threshold, check_all, number

__all__ = ["PatternResult", "CpuLoad", "cpu_load", "evaluate", "stage_metrics", "CPU_WARNING", "memory_limit"]

# on a full machine, a load generator using this share of it or more makes a shortfall untrusted
FULL_MACHINE_GENERATOR_SHARE = 0.25
# a process is busy when its per-second CPU was at or above the bar in this share of its
# samples (its p90 reached the bar) and in at least BUSY_MIN_SAMPLES of them: not one spike
BUSY_SHARE = 0.10
BUSY_MIN_SAMPLES = 3
# Locust's own bar, per process (its CPU warning fires at 90 %)
GENERATOR_BUSY_PERCENT = 90.0
# the service answered errors: failures in this share of the requests (or BUSY_SHARE of the seconds)
SERVICE_ERROR_RATE = 0.01
# the service degraded: the last third's p95 this many times the first third's while the rate fell
# to RATE_FALL of it or less; the history needs DEGRADING_MIN_ROWS rows at full users to tell
LATENCY_GROWTH = 1.5
RATE_FALL = 0.9
DEGRADING_MIN_ROWS = 9

CPU_WARNING = re.compile(r"CPU usage (above|was too high|threshold was exceeded)", re.IGNORECASE)
_WORSE_HIGH = ("<", "<=")


@dataclass
class PatternResult:
    pattern: PatternConfig
    duration_s: float
    ops: dict[str, OpStats]
    overall: OpStats | None
    extra: dict[str, OpStats]
    nodes: dict[str, NodeSummary]
    metrics: dict[str, float]
    memory_basis: str
    checks: tuple[Check, ...] = ()
    trusted: bool = True
    untrusted_reason: str = ""
    error: str = ""  # the run itself failed (Locust did not start, the cluster did not come up, ...)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.pattern.name

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

    def achieved(self, op: str) -> float:
        stats = self.ops.get(op)
        return stats.rps if stats is not None and math.isfinite(stats.rps) else 0.0


@dataclass(frozen=True)
class CpuLoad:
    """One process's CPU against a bar (% of one core), from its per-second
    samples; ``samples == 0``: only its mean is known (judged on the mean)."""

    node: str
    bar: float
    samples: int
    at_bar: int  # samples at or above the bar
    p90: float
    peak: float
    mean: float

    @property
    def busy(self) -> bool:
        if not self.samples:
            return math.isfinite(self.mean) and self.mean >= self.bar
        return self.at_bar >= max(BUSY_MIN_SAMPLES, math.ceil(BUSY_SHARE * self.samples))

    @property
    def share(self) -> float:
        return self.at_bar / self.samples if self.samples else math.nan

    def describe(self, label: str = "") -> str:
        """``n2 at or above 80% of a core in 120 of 280 per-second samples (p90 152%, max 164%, mean 43%)``."""
        who = label or self.node
        if not self.samples:
            mean = f"{self.mean:.0f}%" if math.isfinite(self.mean) else "unknown"
            return f"{who} used {mean} of a core on average (no per-second samples)"
        return (
            f"{who} at or above {self.bar:.0f}% of a core in {self.at_bar} of {self.samples} per-second "
            f"samples (p90 {self.p90:.0f}%, max {self.peak:.0f}%, mean {self.mean:.0f}%)"
        )


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def cpu_load(summary: NodeSummary, bar: float) -> CpuLoad:
    cpus = [c for c in summary.cpu_per_s if math.isfinite(c)]
    if not cpus:
        return CpuLoad(summary.node, bar, 0, 0, math.nan, summary.cpu_max, summary.cpu_mean)
    return CpuLoad(
        summary.node,
        bar,
        len(cpus),
        sum(1 for c in cpus if c >= bar),
        _percentile(cpus, 0.9),
        max(cpus),
        sum(cpus) / len(cpus),
    )


def _busiest(loads: Sequence[CpuLoad]) -> CpuLoad | None:
    """The node closest to busy: a busy one, then the largest share of samples at the bar,
    then the highest p90, then the highest mean."""

    def rank(x: float) -> float:
        return x if math.isfinite(x) else -1.0

    return max(loads, key=lambda c: (c.busy, c.share if c.samples else -1.0, rank(c.p90), rank(c.mean)), default=None)


def _steady(history: Sequence[HistoryRow]) -> list[HistoryRow]:
    """Locust's overall history rows while every user ran (the ramp and the stop left out)."""
    rows = [r for r in history if r.name == AGGREGATED]
    users = max((r.users for r in rows), default=0)
    return [r for r in rows if r.users == users and users > 0]


def _errors(overall: OpStats, history: Sequence[HistoryRow]) -> str:
    """Why the service answered errors ('' when it did not, to speak of)."""
    if overall.requests and overall.error_rate >= SERVICE_ERROR_RATE:
        return (
            f"Locust counted {overall.failures} failures in {overall.requests} requests "
            f"({overall.error_rate:.1%} >= {SERVICE_ERROR_RATE:.0%})"
        )
    rows = _steady(history)
    failing = sum(1 for a, b in zip(rows, rows[1:], strict=False) if b.total_failures > a.total_failures)
    if rows and failing >= max(BUSY_MIN_SAMPLES, math.ceil(BUSY_SHARE * len(rows))):
        return f"Locust counted failures in {failing} of {len(rows)} seconds"
    return ""


def _degrading(history: Sequence[HistoryRow]) -> str:
    """Whether the latency grew while the rate fell over the run ('' when not)."""
    rows = [r for r in _steady(history) if math.isfinite(r.rps) and math.isfinite(r.p95_ms)]
    if len(rows) < DEGRADING_MIN_ROWS:
        return ""
    third = len(rows) // 3
    first, last = rows[:third], rows[-third:]
    p95_first, p95_last = statistics.median(r.p95_ms for r in first), statistics.median(r.p95_ms for r in last)
    rps_first, rps_last = statistics.median(r.rps for r in first), statistics.median(r.rps for r in last)
    if p95_first > 0 and p95_last >= LATENCY_GROWTH * p95_first and rps_last <= RATE_FALL * rps_first:
        return (
            f"the service degraded: p95 grew from {p95_first:.0f} to {p95_last:.0f} ms while the rate fell "
            f"from {rps_first:.0f} to {rps_last:.0f} requests/s (first and last third of {len(rows)} seconds)"
        )
    return ""


def memory_limit(config: LoadConfig) -> tuple[float, str]:
    """(bytes, basis): the node spec's memory limit, else the machine's memory."""
    if config.memory_mb:
        return config.memory_mb * 1024 * 1024, f"node memory limit ({config.memory_mb} MiB, resources.memory_mb)"
    total = psutil.virtual_memory().total
    return float(total), f"machine memory ({total / 2**30:.1f} GiB; the nodes have no memory limit)"


def evaluate(
    config: LoadConfig,
    pattern: PatternConfig,
    stats: dict[str, OpStats],
    nodes: dict[str, NodeSummary],
    *,
    duration_s: float,
    locust_output: str = "",
    thresholds: tuple[Threshold, ...] | None = None,
    limit: tuple[float, str] | None = None,
    workers: int = 1,
    history: Sequence[HistoryRow] = (),
) -> PatternResult:
    """Metrics, criteria and trust of one finished pattern.  ``nodes``: the
    telemetry summaries (with their per-second CPU samples); ``history``:
    Locust's per-second overall rows (:func:`pipeline.load.stats.read_history`)."""
    ops = {op: stats[op] for op, _ in pattern.operations if op in stats}
    overall = stats.get(AGGREGATED)
    extra = {n: s for n, s in stats.items() if n != AGGREGATED and n not in ops}
    limit_bytes, basis = limit or memory_limit(config)
    service = {n: s for n, s in nodes.items() if n not in (HOST, GENERATOR, OTHERS)}
    rss_max = max((s.rss_max for s in service.values() if math.isfinite(s.rss_max)), default=math.nan)
    cpu_busiest = max((s.cpu_mean for s in service.values() if math.isfinite(s.cpu_mean)), default=math.nan)
    generator = nodes.get(GENERATOR)
    loads = [cpu_load(s, config.node_cpu_busy_percent) for s in service.values()]
    generator_load = cpu_load(generator, GENERATOR_BUSY_PERCENT * max(1, workers)) if generator else None
    achieved = sum(s.rps for s in ops.values() if math.isfinite(s.rps))
    target = pattern.target_ops
    metrics: dict[str, float] = {
        "target_ops": target,
        "achieved_ops": achieved,
        "throughput_ratio": achieved / target if target else math.nan,
        "memory_ratio": rss_max / limit_bytes if limit_bytes else math.nan,
        "node_rss_max_mb": rss_max / 2**20,
        "node_cpu_percent": cpu_busiest,
        "node_cpu_p90_percent": max((c.p90 for c in loads if c.samples), default=math.nan),
        "node_cpu_busy_share": max((c.share for c in loads if c.samples), default=math.nan),
        "generator_cpu_percent": generator.cpu_mean if generator else math.nan,
        "generator_cpu_p90_percent": generator_load.p90 if generator_load else math.nan,
        "host_cpu_percent": nodes[HOST].cpu_mean if HOST in nodes else math.nan,
        "users": float(pattern.users),
        "duration_s": duration_s,
    }
    if overall is not None:
        metrics.update(
            avg_ms=overall.avg_ms,
            p50_ms=overall.p50_ms,
            p95_ms=overall.p95_ms,
            p99_ms=overall.p99_ms,
            error_rate=overall.error_rate,
            throughput_ops=overall.rps,
            requests=float(overall.requests),
            failures=float(overall.failures),
        )
    metrics["nodes_cpu_percent"] = sum(s.cpu_mean for s in service.values() if math.isfinite(s.cpu_mean))
    metrics["other_cpu_percent"] = nodes[OTHERS].cpu_mean if OTHERS in nodes else math.nan
    metrics = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    result = PatternResult(pattern, duration_s, ops, overall, extra, nodes, metrics, basis)
    result.checks = check_all(thresholds if thresholds is not None else pattern.thresholds, metrics)
    result.trusted, result.untrusted_reason = _trust(
        config, pattern, result, locust_output, loads, generator_load, history, workers=workers
    )
    return result


def _trust(
    config: LoadConfig,
    pattern: PatternConfig,
    result: PatternResult,
    output: str,
    loads: Sequence[CpuLoad],
    generator_load: CpuLoad | None,
    history: Sequence[HistoryRow],
    *,
    workers: int = 1,
) -> tuple[bool, str]:
    name = pattern.name
    warning = CPU_WARNING.search(output or "")
    if warning:
        line = next((ln.strip() for ln in output.splitlines() if warning.group(0) in ln), warning.group(0))
        return False, f"{name}: the load generator was the bottleneck: Locust said {line[-160:]!r}"
    overall = result.overall
    if overall is None or overall.requests == 0:
        return False, f"{name}: Locust recorded no requests, nothing was measured"
    m = result.metrics
    ratio = m.get("throughput_ratio", 0.0)
    nodes_cpu = m.get("nodes_cpu_percent", math.nan)
    generator = m.get("generator_cpu_percent", math.nan)
    other = m.get("other_cpu_percent", math.nan)
    host = m.get("host_cpu_percent", math.nan)
    capacity = 100.0 * (os.cpu_count() or 1)
    noisy = config.host_other_cpu_percent > 0 and math.isfinite(other) and other >= config.host_other_cpu_percent
    cpu = (
        f"machine {host:.0f}% of {capacity:.0f}%: nodes {nodes_cpu:.0f}%, Locust {generator:.0f}%, "
        f"other processes {other:.0f}%"
    )
    failing = [
        f"{c.threshold!r} (measured {number(round(c.measured, 4))})"
        for c in result.checks
        if not c.passed and c.measured is not None
    ]
    if ratio >= config.generator_bound_ratio:
        if failing and noisy:
            return False, (
                f"{name}: a noisy host: other processes used {other:.0f}% of a core on average "
                f"(>= {config.host_other_cpu_percent:.0f}%) while {', '.join(failing)} failed; {cpu}"
            )
        return True, ""
    short = (
        f"achieved {m.get('achieved_ops', 0):.1f} of {pattern.target_ops:.1f} ops/s "
        f"({ratio:.0%} < {config.generator_bound_ratio:.0%})"
    )
    busiest = _busiest(loads)
    if busiest is not None and busiest.busy:
        return True, ""  # a node ran out of CPU for part of the run at least: the service is the bottleneck
    if math.isfinite(host) and host >= 0.9 * capacity:
        if math.isfinite(generator) and generator >= FULL_MACHINE_GENERATOR_SHARE * capacity:
            # Locust took CPU the nodes would otherwise have had: the shortfall measures the
            # machine the two share, not the service (run Locust elsewhere: --expect-workers)
            return False, (
                f"{name}: the load generator shared a full machine with the nodes and used "
                f"{generator:.0f}% of its {capacity:.0f}% (>= {FULL_MACHINE_GENERATOR_SHARE:.0%}): {short}; {cpu}"
            )
        # the machine was full: whoever used most of it held the rate back
        largest = max(
            (nodes_cpu, "nodes"),
            (generator, "generator"),
            (other, "others"),
            key=lambda x: x[0] if math.isfinite(x[0]) else -1,
        )[1]
        if largest == "nodes":
            return True, ""
        if largest == "generator" or (math.isfinite(generator) and generator >= 90.0 * max(1, workers)):
            return False, f"{name}: the load generator was the bottleneck: {short}; {cpu}"
        return False, f"{name}: a noisy host held the rate back: {short}; {cpu}"
    # the service's own signs: errors it answered, a latency that grew while the rate fell
    # (the latter only when Locust had CPU to spare: a saturated Locust's latency is its own)
    errors = _errors(overall, history)
    locust_spare = (
        generator_load is not None
        and (generator_load.samples > 0 or math.isfinite(generator_load.mean))
        and not generator_load.busy
    )
    degrading = _degrading(history) if locust_spare else ""
    for sign in (errors, degrading):
        if sign:
            if noisy:
                return False, f"{name}: a noisy host: {short} and {sign}; {cpu}"
            return True, ""  # the service answered errors or slowed down: a fair measurement of it
    # Little's law: with U users each running one operation at a time, the rate the
    # service's latency allows is U / (time per operation).
    own = sum(s.requests for s in result.ops.values())
    per_op_ms = overall.avg_ms * (overall.requests / own) if own else math.inf
    allowed = pattern.users * 1000.0 / per_op_ms if per_op_ms > 0 else math.inf
    if allowed < pattern.target_ops * config.generator_bound_ratio:
        if noisy:
            return False, f"{name}: a noisy host: {short} with the service's latency; {cpu}"
        return True, ""  # the service's latency held the rate back: a fair measurement of a slow service
    if busiest is None:
        nodes = "no node's CPU was sampled"
    elif busiest.samples:
        nodes = f"every node had CPU to spare per second (the busiest, {busiest.describe()})"
    else:
        mean = f"{busiest.mean:.0f}%" if math.isfinite(busiest.mean) else "unknown"
        nodes = f"the busiest node used {mean} of a core on average (< {config.node_cpu_busy_percent:.0f}%)"
    locust = ""
    if generator_load is not None and generator_load.samples:
        locust = f"; {generator_load.describe('Locust')}"
    return False, (
        f"{name}: the load generator was the bottleneck: {short} while {nodes} "
        f"and latency allowed {allowed:.0f} ops/s{locust}; {cpu}"
    )


def stage_metrics(results: list[PatternResult], stage_thresholds: tuple[Threshold, ...]) -> dict[str, float]:
    """The stage-level metrics the gate checks ``[stages.performance].thresholds``
    against: for each metric, the worst value (by the threshold's direction) among
    the trusted patterns that are judged on it; when none of those is trusted, the
    worst among the patterns judged on it; when no pattern is judged on it, the
    worst among the (trusted, else all) patterns that measured it."""
    out: dict[str, float] = {}
    # which way is worse: the stage's thresholds say, else the patterns' own, else higher is worse
    direction = {c.threshold.metric: c.threshold.op for r in results for c in r.checks}
    direction.update({t.metric: t.op for t in stage_thresholds})
    for rate in ("throughput_ops", "achieved_ops", "throughput_ratio"):
        direction.setdefault(rate, ">=")
    names = sorted({k for r in results for k in r.metrics})
    for metric in names:
        op = direction.get(metric, "<")
        measured = [r for r in results if not r.error and metric in r.metrics]
        judged = [r for r in measured if any(c.threshold.metric == metric for c in r.checks)]
        pool = (
            [r for r in judged if r.trusted]
            or judged  # judged, but not trusted: still the pattern's value, never another pattern's
            or [r for r in measured if r.trusted]
            or measured
        )
        values = [r.metrics[metric] for r in pool]
        if values:
            out[metric] = max(values) if op in _WORSE_HIGH or op in ("==", "!=") else min(values)
    return out


def describe(check: Check, unit: str = "") -> str:
    """``measured 612 ms; threshold p95_ms < 500``."""
    if check.measured is None:
        return f"not measured; threshold {check.threshold!r}"
    return f"measured {number(round(check.measured, 4))}{unit}; threshold {check.threshold!r}"


def unit_of(metric: str) -> str:
    return " ms" if metric.endswith("_ms") else " ops/s" if metric.endswith("_ops") else ""


def as_table_row(result: PatternResult) -> dict[str, Any]:
    return {"pattern": result.name, "verdict": result.verdict, **result.metrics}
