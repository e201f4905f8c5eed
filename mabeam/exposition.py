"""Telemetry in the Prometheus text exposition format 0.0.4.

Written by hand from the telemetry snapshot so the node needs no client
library at run time; the tests parse the output with prometheus_client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .telemetry import BOUNDS, Telemetry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric_name(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def render(telemetry: Telemetry) -> str:
    snap: dict[str, Any] = telemetry.snapshot()
    node = _label(snap["node"])
    lines: list[str] = []
    ops = {k[4:]: v for k, v in snap["counters"].items() if k.startswith("ops.")}
    lines += _family(
        "mabeam_requests_total",
        "counter",
        "Requests handled, by operation.",
        (f'mabeam_requests_total{{node="{node}",op="{_label(op)}"}} {n}' for op, n in sorted(ops.items())),
    )
    others = {k: v for k, v in snap["counters"].items() if not k.startswith("ops.")}
    lines += _family(
        "mabeam_events_total",
        "counter",
        "Other node counters (errors, commands), by name.",
        (f'mabeam_events_total{{node="{node}",name="{_label(k)}"}} {v}' for k, v in sorted(others.items())),
    )
    hist_lines = []
    for op, hist in sorted(telemetry.histograms.items()):
        labels = f'node="{node}",op="{_label(op)}"'
        cumulative = hist.cumulative()
        for bound, n in zip([f"{b:g}" for b in BOUNDS] + ["+Inf"], cumulative, strict=True):
            hist_lines.append(f'mabeam_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}')
        hist_lines.append(f"mabeam_request_duration_seconds_sum{{{labels}}} {hist.total!r}")
        hist_lines.append(f"mabeam_request_duration_seconds_count{{{labels}}} {hist.count}")
    lines += _family("mabeam_request_duration_seconds", "histogram", "Request latency, by operation.", hist_lines)
    for name, value in sorted(snap["gauges"].items()):
        metric = "mabeam_" + _metric_name(name)
        lines += _family(metric, "gauge", f"Gauge {name}.", [f'{metric}{{node="{node}"}} {float(value)!r}'])
    proc = snap["process"]
    lines += _family(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent in seconds.",
        [f"process_cpu_seconds_total {proc['cpu_seconds']!r}"],
    )
    lines += _family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        [f"process_resident_memory_bytes {proc['rss_bytes']}"],
    )
    lines += _family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        [f"process_start_time_seconds {proc['start_time']!r}"],
    )
    lines += _family(
        "process_cpu_percent",
        "gauge",
        "CPU use since the previous read, in percent of one core.",
        [f"process_cpu_percent {float(proc['cpu_percent'])!r}"],
    )
    gc_info = proc["gc"]
    for metric, key, help_text in (
        ("python_gc_collections_total", "collections", "Number of times this generation was collected."),
        ("python_gc_objects_collected_total", "collected", "Objects collected during gc."),
        ("python_gc_objects_uncollectable_total", "uncollectable", "Uncollectable objects found during GC."),
    ):
        lines += _family(
            metric, "counter", help_text, (f'{metric}{{generation="{g}"}} {n}' for g, n in enumerate(gc_info[key]))
        )
    return "\n".join(lines) + "\n"
