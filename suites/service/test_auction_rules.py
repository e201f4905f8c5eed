"""Auction rules per type, through the API only (docs/api.md "Auctions"):
english increments, reserve and buy-now; dutch falling price; sealed bid with
hidden amounts and earliest-wins ties; vickrey second price; combinatorial best
set of disjoint bundles; cancel only without bids; expiry; closed means closed.
"""

from __future__ import annotations

import pytest

from pipeline.testing.eventually import eventually
from suites.service.client import uid
from suites.service.helpers import (
    accepted_bid,
    amount_of,
    auction,
    bid_now,
    create_account,
    create_auction,
    read_market,
)

pytestmark = pytest.mark.timeout(60)


def close(node, auction_id):
    return node.post(f"/auctions/{auction_id}/close").expect(200)


def bidders(count):
    return [uid("bidder") for _ in range(count)]


# -- english -----------------------------------------------------------------------


def test_english_first_bid_at_least_start_then_at_least_increment(node):
    aid = create_auction(node, "english", starting_price=10, min_increment=5, duration_s=600)["id"]
    a, b, c = bidders(3)
    bid_now(node, aid, a, 9.99).error(409, "bid_too_low")
    accepted_bid(node, aid, a, 10)
    bid_now(node, aid, b, 14.5).error(409, "bid_too_low")
    accepted_bid(node, aid, b, 15)
    accepted_bid(node, aid, c, 40)
    bid_now(node, aid, a, 44).error(409, "bid_too_low")
    status = auction(node, aid)
    assert amount_of(status["highest_bid"]) == 40
    result = close(node, aid)
    assert (result["winner"], result["price"]) == (c, 40)


def test_english_default_increment_is_one(node):
    aid = create_auction(node, "english", starting_price=10, duration_s=600)["id"]
    a, b = bidders(2)
    accepted_bid(node, aid, a, 10)
    bid_now(node, aid, b, 10.5).error(409, "bid_too_low")
    accepted_bid(node, aid, b, 11)


def test_english_below_reserve_has_no_winner(node):
    seller = create_account(node, 0)
    aid = create_auction(node, "english", seller=seller, starting_price=10, reserve_price=50, duration_s=600)["id"]
    accepted_bid(node, aid, uid("b"), 20)
    result = close(node, aid)
    assert result["winner"] is None and result["winning_transaction"] is None
    assert auction(node, aid)["status"] == "closed"


def test_english_buy_now_closes_at_once(node, events):
    seller = create_account(node, 0)
    mark = events.head()
    aid = create_auction(node, "english", seller=seller, starting_price=10, buy_now_price=100, duration_s=600)["id"]
    accepted_bid(node, aid, uid("b"), 50)
    buyer = uid("buyer")
    accepted_bid(node, aid, buyer, 120)
    status = auction(node, aid)
    assert status["status"] == "closed"
    assert status["winner"] == buyer and status["price"] == 120
    assert status["winning_transaction"] == {"from": buyer, "to": seller, "amount": 120, "reference": aid}
    bid_now(node, aid, uid("late"), 500).error(409, "auction_closed")
    events.wait_for(
        "economics.auction.closed", lambda e: aid in (e["data"].get("auction_id"), e["data"].get("id")), after=mark
    )


# -- dutch -------------------------------------------------------------------------


def test_dutch_first_bid_at_or_above_the_current_price_wins_at_that_price(node):
    aid = create_auction(node, "dutch", starting_price=100, decrement=10, tick_s=3600, floor_price=20, duration_s=600)[
        "id"
    ]
    assert auction(node, aid)["current_price"] == 100
    bid_now(node, aid, uid("b"), 90).error(409, "bid_too_low")
    winner = uid("w")
    accepted_bid(node, aid, winner, 130)
    status = auction(node, aid)
    assert status["status"] == "closed"
    assert (status["winner"], status["price"]) == (winner, 100), "pays the price, not the bid"
    bid_now(node, aid, uid("b"), 200).error(409, "auction_closed")


def test_dutch_price_falls_by_ticks_down_to_the_floor(node):
    start, step, floor = 100, 10, 60
    created = create_auction(
        node, "dutch", starting_price=start, decrement=step, tick_s=0.15, floor_price=floor, duration_s=600
    )
    aid = created["id"]
    allowed = set(range(floor, start + 1, step))
    seen = []

    def at_floor():
        price = auction(node, aid)["current_price"]
        seen.append(price)
        assert price == floor, f"price {price}"
        return True

    eventually(at_floor, timeout=10, interval=0.03, description="dutch price at its floor")
    assert set(seen) <= allowed, f"prices off the tick grid: {seen}"
    assert seen == sorted(seen, reverse=True), f"price went up: {seen}"
    assert read_market(node)[aid]["current_price"] == floor
    winner = uid("w")
    accepted_bid(node, aid, winner, floor)
    assert (auction(node, aid)["winner"], auction(node, aid)["price"]) == (winner, floor)


# -- sealed bid and vickrey ----------------------------------------------------------


def test_sealed_bid_hides_amounts_until_close_and_earliest_wins_ties(node):
    aid = create_auction(node, "sealed_bid", reserve_price=5, duration_s=600)["id"]
    low, first, second = bidders(3)
    bid_now(node, aid, uid("b"), 4).error(409, "bid_too_low")
    accepted_bid(node, aid, low, 10)
    accepted_bid(node, aid, first, 30)
    accepted_bid(node, aid, second, 30)
    hidden = auction(node, aid)
    assert len(hidden["bids"]) == 3
    assert all(b.get("amount") is None for b in hidden["bids"]), hidden["bids"]
    assert hidden["highest_bid"] is None, "the highest amount would reveal a sealed bid"
    result = close(node, aid)
    assert (result["winner"], result["price"]) == (first, 30)
    revealed = auction(node, aid)
    assert sorted(b["amount"] for b in revealed["bids"]) == [10, 30, 30]


@pytest.mark.parametrize("amounts,price", [([10, 30, 20], 20), ([7], 5), ([50, 50], 50)])
def test_vickrey_winner_pays_the_second_price(node, amounts, price):
    aid = create_auction(node, "vickrey", reserve_price=5, duration_s=600)["id"]
    names = bidders(len(amounts))
    for name, amount in zip(names, amounts, strict=True):
        accepted_bid(node, aid, name, amount)
    result = close(node, aid)
    winner = names[amounts.index(max(amounts))]  # earliest of the highest
    assert (result["winner"], result["price"]) == (winner, price)


# -- combinatorial -------------------------------------------------------------------


def test_combinatorial_picks_the_best_set_of_disjoint_bundles(node):
    items = [uid("A"), uid("B"), uid("C")]
    a, b, c = items
    aid = create_auction(node, "combinatorial", items=items, duration_s=600)["id"]
    x, y, z, w = bidders(4)
    accepted_bid(node, aid, x, 50, items=[a, b])
    accepted_bid(node, aid, y, 15, items=[c])
    accepted_bid(node, aid, z, 30, items=[a])
    accepted_bid(node, aid, w, 40, items=[b, c])
    result = close(node, aid)
    winners = {entry["bidder"]: entry for entry in result["winners"]}
    assert set(winners) == {z, w}, "{A}+{B,C}=70 beats {A,B}+{C}=65"
    assert amount_of(winners[z].get("price", winners[z].get("amount"))) == 30
    assert amount_of(winners[w].get("price", winners[w].get("amount"))) == 40


def test_combinatorial_bundle_must_be_a_subset_of_the_items(node):
    items = [uid("A"), uid("B")]
    aid = create_auction(node, "combinatorial", items=items, duration_s=600)["id"]
    reply = bid_now(node, aid, uid("b"), 10, items=[items[0], uid("Z")])
    assert reply.status in (400, 409), reply
    assert reply.body["error"] in ("invalid_field", "invalid_bundle", "bid_rejected"), reply.body


# -- cancel, close, expiry -------------------------------------------------------------


def test_cancel_only_without_bids(node, events):
    mark = events.head()
    quiet = create_auction(node, "english", starting_price=1, duration_s=600)["id"]
    cancelled = node.post(f"/auctions/{quiet}/cancel").expect(200)
    assert cancelled["status"] == "cancelled"
    assert quiet not in read_market(node)
    bid_now(node, quiet, uid("b"), 5).error(409, "auction_closed")
    node.post(f"/auctions/{quiet}/cancel").expect(409)
    events.wait_for(
        "economics.auction.cancelled", lambda e: quiet in (e["data"].get("auction_id"), e["data"].get("id")), after=mark
    )

    busy = create_auction(node, "english", starting_price=1, duration_s=600)["id"]
    accepted_bid(node, busy, uid("b"), 5)
    node.post(f"/auctions/{busy}/cancel").error(409, "has_bids")
    assert auction(node, busy)["status"] == "open"


def test_expired_auction_closes_with_the_winner_its_rules_give(node, events):
    mark = events.head()
    aid = create_auction(node, "english", starting_price=1, duration_s=1.0)["id"]
    winner = uid("w")
    placed = bid_now(node, aid, winner, 3)
    if placed.status == 409:  # the machine was slower than a second: nothing to check
        pytest.skip("auction expired before the first bid could be placed")
    placed.expect(201)

    def closed():
        status = auction(node, aid)
        assert status["status"] == "closed", status["status"]
        return status

    status = eventually(closed, timeout=10, description="auction expired and closed")
    assert (status["winner"], status["price"]) == (winner, 3)
    bid_now(node, aid, uid("late"), 10).error(409, "auction_closed")
    node.post(f"/auctions/{aid}/close").error(409, "auction_closed")
    events.wait_for(
        "economics.auction.closed", lambda e: aid in (e["data"].get("auction_id"), e["data"].get("id")), after=mark
    )
