"""Locust's own statistics, read from the CSV files it writes with ``--csv``.

* ``<prefix>_stats.csv``: one row per request name plus ``Aggregated``, for the
  whole run (after ``--reset-stats``: from the moment every user was spawned).
* ``<prefix>_stats_history.csv`` (``--csv-full-history``): one row per second
  per name; ``Requests/s`` and the percentiles are Locust's *current* values
  (a sliding window of a few seconds), ``Total Request Count`` the running total.

Percentiles are Locust's (response times are bucketed above 100 ms, so they are
approximate to about 1 %); times are milliseconds.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OpStats", "HistoryRow", "read_stats", "read_history", "AGGREGATED"]

AGGREGATED = "Aggregated"


def _float(text: str | None) -> float:
    if text is None or text.strip() in ("", "N/A"):
        return math.nan
    return float(text)


@dataclass(frozen=True)
class OpStats:
    """One row of ``_stats.csv``."""

    name: str
    method: str
    requests: int
    failures: int
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rps: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def read_stats(path: Path) -> dict[str, OpStats]:
    """``name -> OpStats``; the overall row is under :data:`AGGREGATED`.  Rows
    with the same name and another method are summed into the name (one name
    per operation is the locustfiles' rule, so that is rare)."""
    out: dict[str, OpStats] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"]
            stats = OpStats(
                name=name,
                method=row.get("Type") or "",
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                avg_ms=_float(row["Average Response Time"]),
                p50_ms=_float(row["50%"]),
                p95_ms=_float(row["95%"]),
                p99_ms=_float(row["99%"]),
                max_ms=_float(row["Max Response Time"]),
                rps=_float(row["Requests/s"]),
            )
            if name in out:  # keep the busier row's percentiles, sum the counts
                old = out[name]
                busier = old if old.requests >= stats.requests else stats
                total = old.requests + stats.requests
                avg = (old.avg_ms * old.requests + stats.avg_ms * stats.requests) / total if total else math.nan
                stats = OpStats(
                    name,
                    f"{old.method},{stats.method}",
                    total,
                    old.failures + stats.failures,
                    avg,
                    busier.p50_ms,
                    busier.p95_ms,
                    busier.p99_ms,
                    max(old.max_ms, stats.max_ms),
                    old.rps + stats.rps,
                )
            out[name] = stats
    return out


@dataclass(frozen=True)
class HistoryRow:
    """One row of ``_stats_history.csv``."""

    timestamp: int
    users: int
    name: str
    rps: float
    fps: float
    p50_ms: float
    p95_ms: float
    total_requests: int
    total_failures: int


def read_history(path: Path, name: str | None = AGGREGATED) -> list[HistoryRow]:
    """The history rows of one name (default the overall row; ``None``: all).
    Tolerates a file still being written: a torn last line is skipped."""
    rows: list[HistoryRow] = []
    if not path.is_file():
        return rows
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if name is not None and row.get("Name") != name:
                continue
            try:
                rows.append(
                    HistoryRow(
                        timestamp=int(row["Timestamp"]),
                        users=int(row["User Count"]),
                        name=row["Name"],
                        rps=_float(row["Requests/s"]),
                        fps=_float(row["Failures/s"]),
                        p50_ms=_float(row["50%"]),
                        p95_ms=_float(row["95%"]),
                        total_requests=int(row["Total Request Count"]),
                        total_failures=int(row["Total Failure Count"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # the line Locust is writing right now
    return rows
