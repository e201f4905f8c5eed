"""What a chaos run measured, from its recorded history (pure functions).

Definitions (README, "The chaos stage"):

* a client stuck in a slow operation misses timetable slots
  (:class:`pipeline.chaos.workload.Driver` records them).  Each missed slot
  still counts as an attempt (a stalled service must not look available by
  being asked less often: coordinated omission), and its outcome is estimated
  from what the other operations invoked within a second of it got (the
  share of them not served); with none invoked (every client stuck) it counts
  as not served (:func:`lost_slots`);
* an operation is **served** when it is ``ok``, or ``fail`` with a 4xx
  result (the service answered and refused by its own rules: it was up);
  a ``fail`` without one (``503 no_quorum``, connection refused) and every
  ``unknown`` (timeout, reset, 5xx) are not served;
* **availability** = served / attempted, where attempted is every operation
  the clients invoked plus the missed slots (above); overall,
  and per phase: ``availability.before`` (before the first fault window),
  ``.during`` (inside any window), ``.after`` (after the last window ended),
  and ``availability.<window>.before|during|after`` for each window
  (before = since the previous window ended, after = until the next begins);
  an operation belongs to the phase in which it was invoked;
* **error_rate** = unknown operations / invoked operations (the outcomes the
  client could not know: a clean refusal is not an error);
* **latency** ``p50_ms``/``p95_ms`` of served operations;
* **recovery_time** and **data_consistency** come from the runner (the first
  moment every live node was healthy with equal state digests; the
  checkers' verdict), **gc_pressure** from :func:`gc_pressure`.

A phase with no attempts has no availability (NaN: a criterion on it fails as
"not measured").
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.checker.history import Op

__all__ = ["Span", "served", "phase_metrics", "per_second", "gc_pressure", "percentile", "Second", "lost_slots"]


@dataclass(frozen=True)
class Span:
    """A fault window as it happened: monotonic ns of its start and end."""

    id: str
    label: str
    start_ns: int
    end_ns: int


def served(op: Op) -> bool:
    if op.ok:
        return True
    return op.failed and isinstance(op.result, int) and not isinstance(op.result, bool) and 400 <= op.result < 500


Slot = tuple[int, float]  # a missed slot: monotonic ns, and how likely it would not have been served


def lost_slots(ops: Iterable[Op], missed: Sequence[tuple[str, int]], *, around_ns: int = 1_000_000_000) -> list[Slot]:
    """Every missed slot (client, monotonic ns) with the share of the operations
    invoked within ``around_ns`` of it that were not served (1.0 when none was)."""
    ordered = sorted(ops, key=lambda o: o.invoke_ns)
    times = [o.invoke_ns for o in ordered]
    unserved = [0]
    for o in ordered:
        unserved.append(unserved[-1] + (0 if served(o) else 1))
    out = []
    for _, t in missed:
        lo, hi = bisect.bisect_left(times, t - around_ns), bisect.bisect_right(times, t + around_ns)
        out.append((t, (unserved[hi] - unserved[lo]) / (hi - lo) if hi > lo else 1.0))
    return sorted(out)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _latency_ms(op: Op) -> float | None:
    if op.complete_ns is None:
        return None
    return (op.complete_ns - op.invoke_ns) / 1e6


def _stats(ops: list[Op], slots: Sequence[Slot]) -> dict[str, float]:
    missed = len(slots)
    attempted = len(ops) + missed
    served_ops = sum(1 for o in ops if served(o))
    ok = served_ops + sum(1.0 - w for _, w in slots)
    unknown = sum(1 for o in ops if o.unknown)
    lat = [x for o in ops if served(o) and (x := _latency_ms(o)) is not None]
    return {
        "attempted": float(attempted),
        "served": float(served_ops),
        "unknown": float(unknown),
        "missed": float(missed),
        "availability": ok / attempted if attempted else math.nan,
        "error_rate": unknown / len(ops) if ops else math.nan,
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
    }


def _between(ops: Sequence[Op], missed: Sequence[Slot], lo: int, hi: int) -> tuple[list[Op], list[Slot]]:
    return [o for o in ops if lo <= o.invoke_ns < hi], [m for m in missed if lo <= m[0] < hi]


def phase_metrics(
    ops: Iterable[Op], missed: Sequence[Slot], spans: Sequence[Span], *, start_ns: int, end_ns: int
) -> dict[str, float]:
    """Availability, error rate, latency and counts: overall and per phase (module docstring)."""
    ops = [o for o in ops if start_ns <= o.invoke_ns < end_ns]
    missed = [m for m in missed if start_ns <= m[0] < end_ns]
    out: dict[str, float] = {}
    overall = _stats(ops, missed)
    out.update(
        {
            "availability": overall["availability"],
            "error_rate": overall["error_rate"],
            "p50_ms": overall["p50_ms"],
            "p95_ms": overall["p95_ms"],
            "ops": overall["attempted"] - overall["missed"],
            "ops_served": overall["served"],
            "ops_unknown": overall["unknown"],
            "missed_slots": overall["missed"],
        }
    )
    spans = sorted(spans, key=lambda s: (s.start_ns, s.id))
    if not spans:
        return out

    def inside(t: int) -> bool:
        return any(s.start_ns <= t < s.end_ns for s in spans)

    first = min(s.start_ns for s in spans)
    last = max(s.end_ns for s in spans)
    phases = {
        "before": ([o for o in ops if o.invoke_ns < first], [m for m in missed if m[0] < first]),
        "during": ([o for o in ops if inside(o.invoke_ns)], [m for m in missed if inside(m[0])]),
        "after": ([o for o in ops if o.invoke_ns >= last], [m for m in missed if m[0] >= last]),
    }
    for phase, (chosen, n_missed) in phases.items():
        stats = _stats(chosen, n_missed)
        out[f"availability.{phase}"] = stats["availability"]
        out[f"error_rate.{phase}"] = stats["error_rate"]
        out[f"p95_ms.{phase}"] = stats["p95_ms"]
    for s in spans:
        prev_end = max((o.end_ns for o in spans if o.end_ns <= s.start_ns), default=start_ns)
        next_start = min((o.start_ns for o in spans if o.start_ns >= s.end_ns), default=end_ns)
        for phase, (lo, hi) in {
            "before": (prev_end, s.start_ns),
            "during": (s.start_ns, s.end_ns),
            "after": (s.end_ns, next_start),
        }.items():
            chosen, n_missed = _between(ops, missed, lo, hi)
            out[f"availability.{s.id}.{phase}"] = _stats(chosen, n_missed)["availability"]
    return out


@dataclass(frozen=True)
class Second:
    """One second of the run, for progress lines and the timeline plot."""

    t_s: float
    attempted: int
    availability: float
    p50_ms: float
    p95_ms: float


def per_second(ops: Iterable[Op], missed: Sequence[Slot], *, start_ns: int, end_ns: int) -> list[Second]:
    """Availability and served-op latency per second since ``start_ns``."""
    seconds = max(1, math.ceil((end_ns - start_ns) / 1e9))
    buckets: list[list[Op]] = [[] for _ in range(seconds)]
    lost: list[list[Slot]] = [[] for _ in range(seconds)]
    for o in ops:
        k = (o.invoke_ns - start_ns) // 1_000_000_000
        if 0 <= k < seconds:
            buckets[k].append(o)
    for m in missed:
        k = (m[0] - start_ns) // 1_000_000_000
        if 0 <= k < seconds:
            lost[k].append(m)
    out = []
    for k, chosen in enumerate(buckets):
        stats = _stats(chosen, lost[k])
        out.append(Second(float(k), int(stats["attempted"]), stats["availability"], stats["p50_ms"], stats["p95_ms"]))
    return out


def gc_pressure(samples: Mapping[str, Sequence[tuple[float, Sequence[int]]]]) -> tuple[float, float]:
    """``(gc_pressure, gc_collections_per_s)`` from each node's GC counters over time.

    ``samples``: node -> [(time_s, collections per generation)], as read from
    the node's telemetry once a second.  **gc_pressure** is, for the worst
    node, the fraction of sampled intervals in which the collector ran a
    *full* collection (its oldest generation's count went up): 0 when the
    collector only ever did cheap young collections, 1 when it swept the whole
    heap every second.  **gc_collections_per_s** is the worst node's rate of
    collections of any generation.  A node restarted mid-run (counters going
    down) starts a new series.  NaN when no node gave two samples."""
    worst_pressure = math.nan
    worst_rate = math.nan
    for series in samples.values():
        intervals = full = 0
        total = 0
        seconds = 0.0
        for (t0, a), (t1, b) in zip(series, series[1:], strict=False):
            if not a or not b or len(a) != len(b) or any(y < x for x, y in zip(a, b, strict=True)):
                continue  # a restart or a bad sample: not an interval
            intervals += 1
            full += 1 if b[-1] > a[-1] else 0
            total += sum(b) - sum(a)
            seconds += t1 - t0
        if intervals:
            pressure = full / intervals
            worst_pressure = pressure if math.isnan(worst_pressure) else max(worst_pressure, pressure)
        if seconds > 0:
            rate = total / seconds
            worst_rate = rate if math.isnan(worst_rate) else max(worst_rate, rate)
    return worst_pressure, worst_rate
