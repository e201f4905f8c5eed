"""What a person watching sees: one line every few seconds while a pattern
runs (read from Locust's stats history as it grows), a table per pattern at
the end, and the stage's summary table."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pipeline.load.results import PatternResult, describe, unit_of
from pipeline.load.stats import read_history

__all__ = ["progress_line", "pattern_table", "summary_table"]


def _ms(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.0f}"


def progress_line(name: str, history: Path, elapsed: float, duration: float, target: float) -> str:
    """``[hft] 12/25 s  users 200  1234.5 ops/s (target 1600)  p95 40 ms  errors 3 (0.1%)``."""
    rows = read_history(history)
    if not rows:
        return f"[{name}] {elapsed:.0f}/{duration:.0f} s  starting"
    last = rows[-1]
    rate = f"{last.rps:.1f}" if math.isfinite(last.rps) else "-"
    share = last.total_failures / last.total_requests if last.total_requests else 0.0
    return (
        f"[{name}] {elapsed:.0f}/{duration:.0f} s  users {last.users}  {rate} ops/s (target {target:.1f})  "
        f"p95 {_ms(last.p95_ms)} ms  errors {last.total_failures} ({share:.1%})"
    )


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), _row(["-" * w for w in widths], widths)]
    lines += [_row(r, widths) for r in rows]
    return "\n".join(lines)


def pattern_table(result: PatternResult) -> str:
    """Per operation and overall: requests, failures, error rate, avg/p50/p95/p99,
    achieved against target; then the criteria."""
    header = ["operation", "requests", "failures", "errors", "avg ms", "p50", "p95", "p99", "ops/s", "target"]
    rows = []
    targets = dict(result.pattern.operations)
    for name, stats in [*result.ops.items(), *sorted(result.extra.items())]:
        rows.append(
            [
                name,
                str(stats.requests),
                str(stats.failures),
                f"{stats.error_rate:.2%}",
                _ms(stats.avg_ms),
                _ms(stats.p50_ms),
                _ms(stats.p95_ms),
                _ms(stats.p99_ms),
                f"{stats.rps:.1f}",
                f"{targets[name]:.1f}" if name in targets else "",
            ]
        )
    for op in targets:
        if op not in result.ops:
            rows.append([op, "0", "0", "-", "-", "-", "-", "-", "0.0", f"{targets[op]:.1f}"])
    o = result.overall
    if o is not None:
        rows.append(
            [
                "overall",
                str(o.requests),
                str(o.failures),
                f"{o.error_rate:.2%}",
                _ms(o.avg_ms),
                _ms(o.p50_ms),
                _ms(o.p95_ms),
                _ms(o.p99_ms),
                f"{o.rps:.1f}",
                f"{result.pattern.target_ops:.1f}",
            ]
        )
    m = result.metrics
    lines = [
        f"== {result.pattern.title} ({result.name}): {result.verdict.upper()} ==",
        f"users {result.pattern.users}, {result.duration_s:.0f} s; achieved {m.get('achieved_ops', 0):.1f} of "
        f"{result.pattern.target_ops:.1f} ops/s ({m.get('throughput_ratio', 0):.0%})",
    ]
    if result.error:
        lines.append(f"run error: {result.error}")
    lines.append(_table(header, rows))
    nodes = [
        f"{n} cpu {s.cpu_mean:.0f}% (max {s.cpu_max:.0f}%)"
        + (
            f" rss {s.rss_first / 2**20:.0f}->{s.rss_last / 2**20:.0f} MiB (max {s.rss_max / 2**20:.0f})"
            if math.isfinite(s.rss_max)
            else ""
        )
        for n, s in sorted(result.nodes.items())
        if math.isfinite(s.cpu_mean)
    ]
    if nodes:
        lines.append("telemetry: " + "; ".join(nodes))
    if "host_cpu_percent" in m:
        lines.append(
            f"machine: {m['host_cpu_percent']:.0f}% CPU in all (of {100 * (os.cpu_count() or 1)}%), "
            f"{m.get('other_cpu_percent', math.nan):.0f}% of it neither the nodes nor Locust"
        )
    if "memory_ratio" in m:
        lines.append(f"memory: {m['memory_ratio']:.2%} of the {result.memory_basis}")
    for check in result.checks:
        mark = "skip" if not result.trusted or result.error else ("ok" if check.passed else "FAIL")
        lines.append(f"  [{mark:>4}] {check.threshold!r}: {describe(check, unit_of(check.threshold.metric))}")
    if not result.trusted:
        lines.append(f"not trusted: {result.untrusted_reason}")
    return "\n".join(lines)


def summary_table(results: list[PatternResult]) -> str:
    header = ["pattern", "verdict", "ops/s", "target", "p50", "p95", "p99", "errors", "memory"]
    rows = []
    for r in results:
        m = r.metrics
        rows.append(
            [
                r.name,
                r.verdict,
                f"{m.get('achieved_ops', 0):.1f}",
                f"{r.pattern.target_ops:.1f}",
                _ms(m.get("p50_ms", math.nan)),
                _ms(m.get("p95_ms", math.nan)),
                _ms(m.get("p99_ms", math.nan)),
                f"{m.get('error_rate', 0):.2%}",
                f"{m['memory_ratio']:.2%}" if "memory_ratio" in m else "-",
            ]
        )
    return _table(header, rows)
