"""Analytics reports: windows, contents, and the per-state cache."""

from __future__ import annotations

import pytest

from mabeam.economics.analytics import ReportCache, build
from mabeam.errors import BadRequest, NotFound


def _closed_auction(run, auction_id, amount):
    run.auction(auction_id, type="english")
    run.bid(auction_id, f"{auction_id}-b", "x", amount)
    run("auction.close", auction_id=auction_id)


def test_recent_auctions_window_and_order(run):
    _closed_auction(run, "old", 5)
    run.advance(7200)
    _closed_auction(run, "new", 9)
    report = build(run.state, "recent_auctions", "last_hour", run.now)
    assert [a["auction_id"] for a in report["completed_auctions"]] == ["new"]
    report = build(run.state, "recent_auctions", "all", run.now)
    assert [a["auction_id"] for a in report["completed_auctions"]] == ["new", "old"]
    assert report["completed_auctions"][0] == {
        "auction_id": "new",
        "type": "english",
        "winner": "x",
        "price": 9,
        "closed_at": run.now,
    }


def test_volume_report(run):
    _closed_auction(run, "a1", 5)
    _closed_auction(run, "a2", 7)
    run("account.create", id="p", balance=10)
    run("account.create", id="q", balance=0)
    run("transaction.submit", id="t", **{"from": "p", "to": "q"}, amount=3)
    run("transaction.settle", ids=["t"])
    report = build(run.state, "volume", "last_day", run.now)
    assert (report["auctions_closed"], report["volume"], report["transactions_completed"]) == (2, 12, 1)


def test_cache_holds_until_the_state_changes(run):
    cache = ReportCache()
    first = cache.get(run.state, "volume", "all", run.now)
    assert cache.get(run.state, "volume", "all", run.now + 5) is first
    _closed_auction(run, "a1", 5)
    second = cache.get(run.state, "volume", "all", run.now + 5)
    assert second is not first and second["auctions_closed"] == 1


def test_unknown_report_and_window():
    from mabeam.machine import State

    with pytest.raises(NotFound):
        build(State(), "nope", "all", 0)
    with pytest.raises(BadRequest) as info:
        build(State(), "volume", "last_week", 0)
    assert info.value.field == "window" and "last_hour" in info.value.detail
