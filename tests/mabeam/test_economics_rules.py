"""Auction rules per type, on auction records built through the machine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.economics import rules
from mabeam.errors import Conflict


def test_english_first_bid_must_reach_starting_price(run):
    run.auction("e", type="english", starting_price=50, min_increment=5)
    assert run.bid("e", "b1", "x", 49)["reason"] == "bid_too_low"
    assert run.bid("e", "b2", "x", 50)["status"] == "accepted"


def test_english_later_bids_need_highest_plus_increment(run):
    run.auction("e", type="english", starting_price=10, min_increment=5)
    run.bid("e", "b1", "x", 10)
    assert run.bid("e", "b2", "y", 14)["status"] == "rejected"
    assert run.bid("e", "b3", "y", 15)["status"] == "accepted"
    assert run.state.auctions.auctions["e"]["highest_bid"] == 15


def test_english_buy_now_closes_at_once(run):
    run.auction("e", type="english", starting_price=10, buy_now_price=100, seller="s")
    run.bid("e", "b1", "x", 20)
    run.bid("e", "b2", "y", 120)
    auction = run.state.auctions.auctions["e"]
    assert auction["status"] == "closed" and auction["winner"] == "y" and auction["price"] == 120
    assert auction["winning_transaction"] == {"from": "y", "to": "s", "amount": 120, "reference": "e"}
    with pytest.raises(Conflict) as info:
        run.bid("e", "b3", "z", 500)
    assert info.value.code == "auction_closed"


def test_english_close_respects_reserve(run):
    run.auction("low", type="english", starting_price=10, reserve_price=100)
    run.bid("low", "b1", "x", 50)
    result = run("auction.close", auction_id="low")
    assert result["winner"] is None and result["price"] is None and result["winning_transaction"] is None
    run.auction("ok", type="english", starting_price=10, reserve_price=100)
    run.bid("ok", "b2", "x", 100)
    assert run("auction.close", auction_id="ok")["winner"] == "x"


@given(
    start=st.integers(1, 1000),
    decrement=st.integers(1, 50),
    tick=st.sampled_from([0.5, 1, 2.5]),
    floor=st.integers(0, 1000),
    elapsed=st.floats(0, 10_000, allow_nan=False),
)
def test_dutch_price_schedule(start, decrement, tick, floor, elapsed):
    floor = min(floor, start)
    auction = {
        "created_at": 100.0,
        "starting_price": start,
        "decrement": decrement,
        "tick_s": tick,
        "floor_price": floor,
    }
    price = rules.dutch_price(auction, 100.0 + elapsed)
    ticks = int(elapsed // tick)
    assert price == max(floor, start - decrement * ticks)
    assert floor <= price <= start
    # never rises as time passes
    assert rules.dutch_price(auction, 100.0 + elapsed + tick) <= price


def test_dutch_first_bid_at_current_price_wins_at_that_price(run):
    run.auction("d", type="dutch", starting_price=100, decrement=10, tick_s=1, floor_price=40)
    run.advance(3.5)  # three ticks: price 70
    assert run.bid("d", "b1", "x", 69)["reason"] == "bid_too_low"
    run.bid("d", "b2", "y", 75)
    auction = run.state.auctions.auctions["d"]
    assert auction["status"] == "closed" and auction["winner"] == "y" and auction["price"] == 70


def test_dutch_price_stops_at_floor(run):
    run.auction("d", type="dutch", starting_price=100, decrement=10, tick_s=1, floor_price=40)
    run.advance(1000)
    assert rules.dutch_price(run.state.auctions.auctions["d"], run.now) == 40


def test_sealed_bid_highest_pays_own_bid_ties_go_to_earliest(run):
    run.auction("s", type="sealed_bid", reserve_price=10)
    assert run.bid("s", "b0", "w", 9)["reason"] == "bid_too_low"
    run.bid("s", "b1", "x", 50)
    run.bid("s", "b2", "y", 80)
    run.bid("s", "b3", "z", 80)
    result = run("auction.close", auction_id="s")
    assert result["winner"] == "y" and result["price"] == 80


def test_vickrey_winner_pays_second_price(run):
    run.auction("v", type="vickrey", reserve_price=5)
    run.bid("v", "b1", "x", 50)
    run.bid("v", "b2", "y", 80)
    run.bid("v", "b3", "z", 65)
    result = run("auction.close", auction_id="v")
    assert result["winner"] == "y" and result["price"] == 65


def test_vickrey_single_bid_pays_reserve(run):
    run.auction("v", type="vickrey", reserve_price=7)
    run.bid("v", "b1", "x", 50)
    assert run("auction.close", auction_id="v")["price"] == 7


@given(st.lists(st.integers(1, 100), min_size=2, max_size=8))
def test_vickrey_price_is_the_second_highest(amounts):
    auction = {
        "type": "vickrey",
        "reserve_price": 0,
        "bids": [{"bidder": f"p{i}", "amount": a, "time": i} for i, a in enumerate(amounts)],
    }
    winners, price = rules.outcome(auction)
    assert winners[0]["amount"] == max(amounts)
    assert winners[0]["bidder"] == f"p{amounts.index(max(amounts))}"
    assert price == sorted(amounts)[-2]


def test_sealed_amounts_are_hidden_until_close(run):
    from mabeam.economics.views import view

    run.auction("s", type="sealed_bid")
    run.bid("s", "b1", "x", 50)
    shown = view(run.state.auctions.auctions["s"], run.now)
    assert shown["highest_bid"] is None and "amount" not in shown["bids"][0]
    run("auction.close", auction_id="s")
    shown = view(run.state.auctions.auctions["s"], run.now)
    assert shown["highest_bid"] == 50 and shown["bids"][0]["amount"] == 50


def test_combinatorial_close_picks_best_packing(run):
    run.auction("c", type="combinatorial", items=["a", "b", "c"], seller="s")
    run.bid("c", "b1", "x", 40, items=["a", "b"])
    run.bid("c", "b2", "y", 25, items=["c"])
    run.bid("c", "b3", "z", 30, items=["a"])
    run.bid("c", "b4", "w", 40, items=["b", "c"])
    result = run("auction.close", auction_id="c")
    assert {w["bidder"] for w in result["winners"]} == {"z", "w"}
    assert result["price"] == 70
    assert {t["from"] for t in result["winning_transactions"]} == {"z", "w"}


@pytest.mark.parametrize("kind", ["english", "sealed_bid", "vickrey", "combinatorial", "dutch"])
def test_close_without_bids_has_no_winner(run, kind):
    extra = {"starting_price": 10, "decrement": 1} if kind == "dutch" else {}
    run.auction("x", type=kind, **extra)
    assert run("auction.close", auction_id="x")["winner"] is None
