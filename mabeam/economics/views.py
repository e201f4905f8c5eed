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


_INTERNAL = ("pending", "bids", "close_reason", "seq", "bid_ids")


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


MARKET_LIMIT = 100  # entries in a market page by default
MARKET_MAX_LIMIT = 1000


def market(book: AuctionBook, now: float, after: int = -1, limit: int = MARKET_LIMIT) -> dict[str, Any]:
    """One page of market data: at most ``limit`` open, unexpired auctions created
    after the cursor ``after``, oldest first (creation order, the same on every
    replica); ``next`` is the cursor of the following page, or None at the end.
    Starts at the cursor (no scan of what came before) and stops at the limit
    (a page may hold fewer entries when expired ones were skipped)."""
    active: dict[str, dict[str, Any]] = {}
    last = None
    more = False
    budget = 2 * limit + 100  # expired entries are skipped, but a page never scans past this
    for seq, a in book.open_after(after):
        if len(active) >= limit or budget == 0:
            more = True
            break
        budget -= 1
        last = seq
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
        active[a["id"]] = entry
    return {
        "active_auctions": active,
        "count": len(active),
        "total": len(book.open),
        "next": str(last) if more and last is not None else None,
    }


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
