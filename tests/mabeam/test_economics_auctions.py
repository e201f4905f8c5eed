"""Auction state: pending bids, decisions, close, expiry, cancel, market."""

from __future__ import annotations

import pytest

from mabeam.economics.views import market, view
from mabeam.errors import BadRequest, Conflict, NotFound


def test_bid_is_pending_until_decided(run):
    run.auction("e", type="english")
    run.bid("e", "b1", "x", 5, decide=False)
    assert run.state.auctions.bids["b1"]["status"] == "pending"
    assert list(run.state.auctions.pending) == ["b1"]
    assert run("auction.decide_bids", bid_ids=["b1", "b1"]) == {"decided": ["b1"]}
    assert run.state.auctions.bids["b1"]["status"] == "accepted"
    assert not run.state.auctions.pending


def test_decisions_follow_log_order_not_the_batch_order(run):
    run.auction("e", type="english", min_increment=1)
    run.bid("e", "b1", "x", 10, decide=False)
    run.bid("e", "b2", "y", 10, decide=False)
    run("auction.decide_bids", bid_ids=["b1", "b2"])
    assert run.state.auctions.bids["b1"]["status"] == "accepted"
    assert run.state.auctions.bids["b2"]["reason"] == "bid_too_low"


def test_close_decides_pending_bids_first(run):
    run.auction("e", type="english")
    run.bid("e", "b1", "x", 10, decide=False)
    result = run("auction.close", auction_id="e")
    assert result["winner"] == "x" and result["price"] == 10


def test_bids_pending_behind_a_buy_now_are_rejected_as_closed(run):
    run.auction("e", type="english", buy_now_price=50)
    run.bid("e", "b1", "x", 60, decide=False)
    run.bid("e", "b2", "y", 70, decide=False)
    run("auction.decide_bids", bid_ids=["b1", "b2"])
    assert run.state.auctions.bids["b2"]["reason"] == "auction_closed"
    assert run.state.auctions.auctions["e"]["winner"] == "x"


def test_bids_after_close_or_expiry_are_auction_closed(run):
    run.auction("e", type="english", duration_s=10)
    run.advance(10)
    with pytest.raises(Conflict) as info:
        run.bid("e", "late", "x", 5)
    assert info.value.code == "auction_closed"
    run.auction("f", type="english")
    run("auction.close", auction_id="f")
    with pytest.raises(Conflict):
        run.bid("f", "b", "x", 5)
    with pytest.raises(Conflict) as info:
        run("auction.close", auction_id="f")
    assert info.value.code == "auction_closed"


def test_expiry_closes_with_the_rules_winner_at_ends_at(run):
    run.auction("v", type="vickrey", duration_s=5)
    run.bid("v", "b1", "x", 10)
    run.bid("v", "b2", "y", 20)
    run.advance(4)
    assert run("auction.expire", auction_ids=["v"]) == {"expired": []}  # not due yet
    run.advance(2)
    assert run("auction.expire", auction_ids=["v"]) == {"expired": ["v"]}
    auction = run.state.auctions.auctions["v"]
    assert auction["status"] == "closed" and auction["winner"] == "y" and auction["price"] == 10
    assert auction["closed_at"] == auction["ends_at"] and auction["close_reason"] == "expired"


def test_cancel_only_without_bids(run):
    run.auction("a", type="english")
    assert run("auction.cancel", auction_id="a")["status"] == "cancelled"
    run.auction("b", type="english")
    run.bid("b", "b1", "x", 5, decide=False)
    with pytest.raises(Conflict) as info:
        run("auction.cancel", auction_id="b")
    assert info.value.code == "has_bids"
    with pytest.raises(Conflict) as info:
        run("auction.cancel", auction_id="a")
    assert info.value.code == "auction_closed"


def test_unknown_auction_is_not_found(run):
    with pytest.raises(NotFound):
        run.bid("nope", "b1", "x", 5)


def test_combinatorial_bid_needs_items_from_the_auction(run):
    run.auction("c", type="combinatorial", items=["a", "b"])
    with pytest.raises(BadRequest) as info:
        run.bid("c", "b1", "x", 5, items=None)
    assert info.value.code == "missing_field" and info.value.field == "items"
    with pytest.raises(BadRequest) as info:
        run.bid("c", "b2", "x", 5, items=["a", "zzz"])
    assert info.value.field == "items"
    assert not run.state.auctions.bids  # refused bids leave no trace


def test_market_lists_open_unexpired_auctions(run):
    run.auction("e", type="english", starting_price=10)
    run.auction("s", type="sealed_bid")
    run.auction("short", type="english", duration_s=1)
    run.bid("e", "b1", "x", 12)
    run.bid("s", "b2", "x", 99)
    run.auction("done", type="english")
    run("auction.close", auction_id="done")
    run.advance(2)
    m = market(run.state.auctions, run.now)
    assert set(m["active_auctions"]) == {"e", "s"} and m["count"] == 2
    assert m["active_auctions"]["e"]["current_price"] == 12 and m["active_auctions"]["e"]["bid_count"] == 1
    assert m["active_auctions"]["s"]["highest_bid"] is None  # sealed


def test_view_reports_current_price_per_type(run):
    run.auction("d", type="dutch", starting_price=100, decrement=5, tick_s=2)
    run.advance(4)
    assert view(run.state.auctions.auctions["d"], run.now)["current_price"] == 90
    run.auction("e", type="english", starting_price=30)
    assert view(run.state.auctions.auctions["e"], run.now)["current_price"] == 30


def test_auction_events_in_order(run):
    run.auction("e", type="english")
    run.bid("e", "b1", "x", 5)
    run.bid("e", "b2", "y", 5)
    run("auction.close", auction_id="e")
    assert run.topics("economics.auction.") == [
        "economics.auction.created",
        "economics.auction.bid_accepted",
        "economics.auction.bid_rejected",
        "economics.auction.closed",
    ]
