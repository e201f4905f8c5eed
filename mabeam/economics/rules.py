"""The rules of each auction type, as pure functions of an auction record.

Kept apart from the state handling so each rule can be tested on its own:
what a bid must reach (``judge``), whether a bid ends the auction at once
(``immediate_price``) and who wins at close for what price (``outcome``).
"""

from __future__ import annotations

import math
from typing import Any

from .combinatorial import best_packing

SEALED = ("sealed_bid", "vickrey")


def dutch_price(auction: dict[str, Any], t: float) -> float:
    ticks = max(0, math.floor((t - auction["created_at"]) / auction["tick_s"]))
    return max(auction["floor_price"], auction["starting_price"] - auction["decrement"] * ticks)


def minimum(auction: dict[str, Any], t: float) -> float:
    """The lowest amount a bid placed at time t may have."""
    kind = auction["type"]
    if kind == "english":
        if auction["highest_bid"] is None:
            return auction["starting_price"]
        return auction["highest_bid"] + auction["min_increment"]
    if kind == "dutch":
        return dutch_price(auction, t)
    return auction["reserve_price"]


def judge(auction: dict[str, Any], amount: float, t: float) -> str | None:
    """None when the bid is acceptable, else the rejection reason."""
    return None if amount >= minimum(auction, t) else "bid_too_low"


def immediate_price(auction: dict[str, Any], amount: float, t: float) -> float | None:
    """The price when an accepted bid ends the auction at once (buy-now, dutch)."""
    if auction["type"] == "dutch":
        return dutch_price(auction, t)
    if auction["type"] == "english" and auction["buy_now_price"] is not None and amount >= auction["buy_now_price"]:
        return amount
    return None


def _highest_earliest(bids: list[dict[str, Any]]) -> dict[str, Any] | None:
    best = None
    for bid in bids:  # bids are in acceptance order, so ">" keeps the earliest on ties
        if best is None or bid["amount"] > best["amount"]:
            best = bid
    return best


def outcome(auction: dict[str, Any]) -> tuple[list[dict[str, Any]], float | None]:
    """(winning bids, price) when the auction closes now.

    For combinatorial auctions the price is the sum the winners pay; for the
    others it is what the single winner pays.
    """
    bids = auction["bids"]
    kind = auction["type"]
    if not bids:
        return [], None
    if kind == "combinatorial":
        chosen = best_packing(auction["items"], [(b["items"], b["amount"]) for b in bids])
        winners = [bids[i] for i in chosen]
        return winners, (sum(b["amount"] for b in winners) if winners else None)
    best = _highest_earliest(bids)
    assert best is not None
    if kind == "english" or kind == "sealed_bid":
        if best["amount"] < auction["reserve_price"]:
            return [], None
        return [best], best["amount"]
    if kind == "vickrey":
        others = [b["amount"] for b in bids if b is not best]
        second = max(others) if others else auction["reserve_price"]
        return [best], max(second, auction["reserve_price"])
    # dutch: an accepted bid closes the auction at once, so a close with
    # accepted bids only happens through that path.
    return [best], dutch_price(auction, best["time"])
