"""What clients see of auctions: status, bid status, close result, market data.

Reads only: amounts of sealed auctions stay hidden until they close, and
prices that move with time (dutch) are computed for the reader's ``now``.
"""

from __future__ import annotations

from typing import Any

from . import rules
from .auctions import CLOSED, OPEN, AuctionBook


def hides_amounts(auction: dict[str, Any]) -> bool:
    return auction["type"] in rules.SEALED and auction["status"] == OPEN


def current_price(auction: dict[str, Any], now: float) -> float | None:
    if auction["status"] != OPEN:
        return auction["price"]
    if auction["type"] == "english":
        return auction["highest_bid"] if auction["highest_bid"] is not None else auction["starting_price"]
    if auction["type"] == "dutch":
        return rules.dutch_price(auction, now)
    return None


def bid_view(bid: dict[str, Any], auction: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in bid.items() if k != "group"}
    if hides_amounts(auction):
        out.pop("amount", None)
    return out


_INTERNAL = ("pending", "bids", "close_reason")


def view(auction: dict[str, Any], now: float) -> dict[str, Any]:
    out = {k: v for k, v in auction.items() if k not in _INTERNAL}
    hidden = hides_amounts(auction)
    out["bids"] = [bid_view(b, auction) for b in auction["bids"]]
    out["bid_count"] = len(auction["bids"])
    out["pending_bids"] = len(auction["pending"])
    out["highest_bid"] = None if hidden else auction["highest_bid"]
    out["current_price"] = current_price(auction, now)
    if auction["status"] == CLOSED:
        out["close_reason"] = auction["close_reason"]
    return out


def market(book: AuctionBook, now: float) -> dict[str, Any]:
    active = {}
    for auction_id in book.open:
        a = book.auctions[auction_id]
        if now >= a["ends_at"]:
            continue  # expired; the expiry driver is about to close it
        entry = {
            "type": a["type"],
            "current_price": current_price(a, now),
            "highest_bid": None if hides_amounts(a) else a["highest_bid"],
            "bid_count": len(a["bids"]),
            "ends_at": a["ends_at"],
        }
        if a["type"] == "combinatorial":
            entry["items"] = a["items"]
        else:
            entry["item"] = a["item"]
        active[auction_id] = entry
    return {"active_auctions": active, "count": len(active)}


def close_result(auction: dict[str, Any]) -> dict[str, Any]:
    out = {
        "auction_id": auction["id"],
        "winner": auction["winner"],
        "price": auction["price"],
        "winning_transaction": auction["winning_transaction"],
    }
    if auction["type"] == "combinatorial":
        out["winners"] = auction["winners"]
        out["winning_transactions"] = auction["winning_transactions"]
    return out
