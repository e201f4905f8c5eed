"""Analytics reports over closed auctions and settled transactions.

Reports are derived from the replicated state at read time and cached per
(report, window) until the state changes, as the seed's AnalyticsService
caches them; the cache is local to a node and never part of the state.
"""

from __future__ import annotations

from typing import Any

from ..errors import NotFound, invalid

WINDOWS: dict[str, float | None] = {"last_hour": 3600.0, "last_day": 86400.0, "all": None}
REPORTS = ("recent_auctions", "volume")
RECENT_LIMIT = 1000


def _since(window: str, now: float) -> float:
    span = WINDOWS[window]
    return float("-inf") if span is None else now - span


def recent_auctions(state: Any, since: float) -> dict[str, Any]:
    completed = []
    for summary in reversed(state.auctions.closed_log):
        if summary["closed_at"] >= since:
            completed.append(summary)
            if len(completed) >= RECENT_LIMIT:
                break
    return {"completed_auctions": completed}


def volume(state: Any, since: float) -> dict[str, Any]:
    closed = [s for s in state.auctions.closed_log if s["closed_at"] >= since]
    settled = sum(
        1 for tx in state.ledger.transactions.values() if tx["status"] == "completed" and tx["settled_at"] >= since
    )
    return {
        "auctions_closed": len(closed),
        "volume": sum(s["price"] for s in closed if s["price"] is not None),
        "transactions_completed": settled,
    }


_BUILDERS = {"recent_auctions": recent_auctions, "volume": volume}


def check(report: str, window: str) -> None:
    if report not in _BUILDERS:
        raise NotFound("not_found", f"no report '{report}'; reports: {', '.join(REPORTS)}", "report")
    if window not in WINDOWS:
        raise invalid("window", "one of " + ", ".join(repr(w) for w in WINDOWS))


def build(state: Any, report: str, window: str, now: float) -> dict[str, Any]:
    check(report, window)
    out = {"report": report, "window": window, "generated_at": now}
    out.update(_BUILDERS[report](state, _since(window, now)))
    return out


class ReportCache:
    """Reports keyed by (report, window), valid while ``applied`` is unchanged."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    def get(self, state: Any, report: str, window: str, now: float) -> dict[str, Any]:
        check(report, window)
        hit = self._entries.get((report, window))
        if hit is not None and hit[0] == state.applied:
            return hit[1]
        result = build(state, report, window, now)
        self._entries[(report, window)] = (state.applied, result)
        return result
