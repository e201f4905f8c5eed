"""Counters, gauges, per-op latency histograms and process figures.

Recording is a dict update and a bisect, cheap enough for every request;
percentiles come from a ring of recent samples and everything else is
computed when /telemetry or /metrics is read, never on the request path.
"""

from __future__ import annotations

import gc
import os
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psutil

# Bucket upper bounds in seconds (Prometheus convention); +Inf is implicit.
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RING = 2048


class Histogram:
    __slots__ = ("count", "total", "buckets", "ring", "_next")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(BOUNDS) + 1)
        self.ring: list[float] = []
        self._next = 0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect_left(BOUNDS, seconds)] += 1
        if len(self.ring) < RING:
            self.ring.append(seconds)
        else:
            self.ring[self._next] = seconds
            self._next = (self._next + 1) % RING

    def cumulative(self) -> list[int]:
        out, running = [], 0
        for n in self.buckets:
            running += n
            out.append(running)
        return out

    def percentile(self, q: float) -> float:
        if not self.ring:
            return 0.0
        ordered = sorted(self.ring)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        ms = 1000.0
        labels = [f"{b:g}" for b in BOUNDS] + ["+Inf"]
        return {
            "count": self.count,
            "sum_ms": self.total * ms,
            "avg_ms": (self.total / self.count * ms) if self.count else 0.0,
            "p50_ms": self.percentile(0.50) * ms,
            "p95_ms": self.percentile(0.95) * ms,
            "p99_ms": self.percentile(0.99) * ms,
            "buckets": dict(zip(labels, self.cumulative(), strict=True)),
        }


class Telemetry:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.counters: defaultdict[str, int] = defaultdict(int)
        self.histograms: dict[str, Histogram] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # prime: the next call measures from here
        self.started = time.time()

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def observe(self, op: str, seconds: float) -> None:
        """One request of ``op`` that took ``seconds``."""
        self.counters["ops." + op] += 1
        hist = self.histograms.get(op)
        if hist is None:
            hist = self.histograms[op] = Histogram()
        hist.observe(seconds)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        """Register a gauge; ``read`` is called only when telemetry is read."""
        self._gauges[name] = read

    def gauges(self) -> dict[str, float]:
        return {name: read() for name, read in self._gauges.items()}

    def process(self) -> dict[str, Any]:
        proc = self._process
        with proc.oneshot():
            cpu = proc.cpu_times()
            return {
                "cpu_percent": proc.cpu_percent(None),
                "cpu_seconds": cpu.user + cpu.system,
                "rss_bytes": proc.memory_info().rss,
                "memory_percent": proc.memory_percent(),
                "threads": proc.num_threads(),
                "start_time": proc.create_time(),
                "gc": gc_stats(),
            }

    def snapshot(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "counters": dict(self.counters),
            "gauges": self.gauges(),
            "histograms": {op: h.summary() for op, h in self.histograms.items()},
            "process": self.process(),
        }


def gc_stats() -> dict[str, Any]:
    stats = gc.get_stats()
    return {
        "counts": list(gc.get_count()),
        "collections": [s["collections"] for s in stats],
        "collected": [s["collected"] for s in stats],
        "uncollectable": [s["uncollectable"] for s in stats],
    }
