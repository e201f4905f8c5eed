"""Auction state and the commands that change it (what clients see: views.py).

Commands return the auction record itself; the HTTP layer renders it.

A bid is first recorded as pending (``auction.bid``) and decided later
(``auction.decide_bids``, sent by the bid driver), like the seed's
``place_bid_async``. A close or an expiry first decides the auction's pending
bids, because the log says they were placed before it.
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound, invalid, missing
from . import rules

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


class AuctionBook:
    def __init__(self) -> None:
        self.auctions: dict[str, dict[str, Any]] = {}
        self.bids: dict[str, dict[str, Any]] = {}
        self.open: dict[str, None] = {}
        self.pending: dict[str, None] = {}
        self.closed_log: list[dict[str, Any]] = []

    def snapshot(self) -> dict[str, Any]:
        return {
            "auctions": self.auctions,
            "bids": self.bids,
            "open": list(self.open),
            "pending": list(self.pending),
            "closed_log": self.closed_log,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> AuctionBook:
        book = cls()
        book.auctions, book.bids, book.closed_log = data["auctions"], data["bids"], data["closed_log"]
        book.open = dict.fromkeys(data["open"])
        book.pending = dict.fromkeys(data["pending"])
        # An accepted bid is one object in both the index and its auction's
        # list; a serialised copy has two, so link them again.
        for auction in book.auctions.values():
            auction["bids"] = [book.bids[b["bid_id"]] for b in auction["bids"]]
        return book

    def get(self, auction_id: str, field: str | None = None) -> dict[str, Any]:
        auction = self.auctions.get(auction_id)
        if auction is None:
            raise NotFound("not_found", f"no auction '{auction_id}'", field)
        return auction

    def bid(self, auction_id: str, bid_id: str) -> dict[str, Any]:
        bid = self.bids.get(bid_id)
        if bid is None or bid["auction_id"] != auction_id:
            raise NotFound("not_found", f"no bid '{bid_id}' on auction '{auction_id}'")
        return bid


# -- placing and deciding bids ------------------------------------------------


def check_open(auction: dict[str, Any], t: float) -> None:
    if auction["status"] != OPEN or t >= auction["ends_at"]:
        raise Conflict("auction_closed", f"auction '{auction['id']}' is {_status_word(auction, t)}")


def _status_word(auction: dict[str, Any], t: float) -> str:
    return auction["status"] if auction["status"] != OPEN else "expired"


def check_items(auction: dict[str, Any], items: Any, field: str = "items") -> None:
    if auction["type"] != "combinatorial":
        return
    if items is None:
        raise missing(field)
    if not items or not set(items) <= set(auction["items"]) or len(set(items)) != len(items):
        raise invalid(field, "a non-empty subset of the auction's items " + ", ".join(auction["items"]))


def place(
    state: Any,
    auction: dict[str, Any],
    bid_id: str,
    bidder: str,
    amount: float,
    items: Any,
    t: float,
    group: str | None = None,
) -> dict[str, Any]:
    """Record a pending bid; the caller has run check_open and check_items."""
    book: AuctionBook = state.auctions
    if bid_id in book.bids:
        raise Conflict("already_exists", f"bid '{bid_id}' already exists", "bid_id")
    bid: dict[str, Any] = {
        "bid_id": bid_id,
        "auction_id": auction["id"],
        "bidder": bidder,
        "amount": amount,
        "time": t,
        "status": PENDING,
    }
    if auction["type"] == "combinatorial":
        bid["items"] = list(items)
    if group is not None:
        bid["group"] = group
    book.bids[bid_id] = bid
    book.pending[bid_id] = None
    auction["pending"][bid_id] = None
    return bid


def _decide(state: Any, bid: dict[str, Any], node: str) -> None:
    book: AuctionBook = state.auctions
    auction = book.auctions[bid["auction_id"]]
    del book.pending[bid["bid_id"]]
    del auction["pending"][bid["bid_id"]]
    t = bid["time"]
    if auction["status"] != OPEN or t >= auction["ends_at"]:
        reason: str | None = "auction_closed"
    else:
        reason = rules.judge(auction, bid["amount"], t)
    if reason is not None:
        bid["status"], bid["reason"] = REJECTED, reason
        data = {"auction_id": auction["id"], "bid_id": bid["bid_id"], "bidder": bid["bidder"], "reason": reason}
        state.events.append("economics.auction.bid_rejected", data, t, node)
        return
    bid["status"] = ACCEPTED
    auction["bids"].append(bid)
    if auction["highest_bid"] is None or bid["amount"] > auction["highest_bid"]:
        auction["highest_bid"] = bid["amount"]
    data = {"auction_id": auction["id"], "bid_id": bid["bid_id"], "bidder": bid["bidder"]}
    if auction["type"] not in rules.SEALED:
        data["amount"] = bid["amount"]
    if "items" in bid:
        data["items"] = bid["items"]
    state.events.append("economics.auction.bid_accepted", data, t, node)
    price = rules.immediate_price(auction, bid["amount"], t)
    if price is not None:
        _close(state, auction, [bid], price, t, node, "buy_now" if auction["type"] == "english" else "dutch")


def _decide_pending_of(state: Any, auction: dict[str, Any], node: str) -> None:
    for bid_id in list(auction["pending"]):
        if bid_id in auction["pending"]:  # a bid before it may have closed the auction
            _decide(state, state.auctions.bids[bid_id], node)


# -- closing --------------------------------------------------------------------


def _payment(payer: str, seller: str | None, amount: float, auction_id: str) -> dict[str, Any] | None:
    if seller is None:
        return None
    return {"from": payer, "to": seller, "amount": amount, "reference": auction_id}


def _close(
    state: Any,
    auction: dict[str, Any],
    winners: list[dict[str, Any]],
    price: float | None,
    t: float,
    node: str,
    reason: str,
) -> None:
    book: AuctionBook = state.auctions
    auction["status"] = CLOSED
    auction["closed_at"] = t
    auction["close_reason"] = reason
    auction["winner"] = winners[0]["bidder"] if winners else None
    auction["price"] = price
    if auction["type"] == "combinatorial":
        auction["winners"] = [
            {"bid_id": b["bid_id"], "bidder": b["bidder"], "items": b["items"], "amount": b["amount"]} for b in winners
        ]
        payments = [_payment(b["bidder"], auction["seller"], b["amount"], auction["id"]) for b in winners]
        auction["winning_transactions"] = [p for p in payments if p is not None]
        auction["winning_transaction"] = payments[0] if len(payments) == 1 else None
    elif winners:
        if price is None:  # rules.outcome and immediate_price price every single winner
            raise ValueError(f"auction {auction['id']}: a {auction['type']} winner without a price")
        auction["winning_transaction"] = _payment(winners[0]["bidder"], auction["seller"], price, auction["id"])
    else:
        auction["winning_transaction"] = None
    book.open.pop(auction["id"], None)
    # Bids still pending arrived after the bid that ended the auction.
    for bid_id in list(auction["pending"]):
        _decide(state, book.bids[bid_id], node)
    summary = {
        "auction_id": auction["id"],
        "type": auction["type"],
        "winner": auction["winner"],
        "price": price,
        "closed_at": t,
    }
    book.closed_log.append(summary)
    data = dict(summary, reason=reason)
    if auction["type"] == "combinatorial":
        data["winners"] = auction["winners"]
    state.events.append("economics.auction.closed", data, t, node)


# -- commands -------------------------------------------------------------------


def create(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    book: AuctionBook = state.auctions
    auction_id, t = cmd["id"], cmd["time"]
    if auction_id in book.auctions:
        raise Conflict("already_exists", f"auction '{auction_id}' already exists", "id")
    auction = dict(cmd["spec"])
    auction.update(
        id=auction_id,
        status=OPEN,
        created_at=t,
        ends_at=t + auction["duration_s"],
        bids=[],
        pending={},
        highest_bid=None,
        winner=None,
        price=None,
        winning_transaction=None,
        closed_at=None,
    )
    book.auctions[auction_id] = auction
    book.open[auction_id] = None
    data = {"auction_id": auction_id, "type": auction["type"], "ends_at": auction["ends_at"]}
    data["items" if auction["type"] == "combinatorial" else "item"] = auction.get("items", auction.get("item"))
    state.events.append("economics.auction.created", data, t, cmd["node"])
    return auction


def bid(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    auction = state.auctions.get(cmd["auction_id"])
    check_open(auction, cmd["time"])
    check_items(auction, cmd.get("items"))
    placed = place(state, auction, cmd["bid_id"], cmd["bidder"], cmd["amount"], cmd.get("items"), cmd["time"])
    return {"bid_id": placed["bid_id"], "status": PENDING}


def decide_bids(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    book: AuctionBook = state.auctions
    decided = []
    for bid_id in cmd["bid_ids"]:
        if bid_id in book.pending:
            _decide(state, book.bids[bid_id], cmd["node"])
            decided.append(bid_id)
    return {"decided": decided}


def close(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    auction = state.auctions.get(cmd["auction_id"])
    if auction["status"] != OPEN:
        raise Conflict("auction_closed", f"auction '{auction['id']}' is already {auction['status']}")
    _decide_pending_of(state, auction, cmd["node"])
    if auction["status"] == OPEN:
        winners, price = rules.outcome(auction)
        _close(state, auction, winners, price, cmd["time"], cmd["node"], "closed")
    return auction


def expire(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    book: AuctionBook = state.auctions
    expired = []
    for auction_id in cmd["auction_ids"]:
        auction = book.auctions.get(auction_id)
        if auction is None or auction["status"] != OPEN or cmd["time"] < auction["ends_at"]:
            continue
        _decide_pending_of(state, auction, cmd["node"])
        if auction["status"] == OPEN:
            winners, price = rules.outcome(auction)
            _close(state, auction, winners, price, auction["ends_at"], cmd["node"], "expired")
        expired.append(auction_id)
    return {"expired": expired}


def cancel(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    book: AuctionBook = state.auctions
    auction = book.get(cmd["auction_id"])
    if auction["status"] != OPEN:
        raise Conflict("auction_closed", f"auction '{auction['id']}' is already {auction['status']}")
    if auction["bids"] or auction["pending"]:
        raise Conflict("has_bids", f"auction '{auction['id']}' has bids and cannot be cancelled")
    auction["status"] = CANCELLED
    auction["closed_at"] = cmd["time"]
    del book.open[auction["id"]]
    state.events.append("economics.auction.cancelled", {"auction_id": auction["id"]}, cmd["time"], cmd["node"])
    return auction


OPS = {
    "auction.create": create,
    "auction.bid": bid,
    "auction.decide_bids": decide_bids,
    "auction.close": close,
    "auction.expire": expire,
    "auction.cancel": cancel,
}
