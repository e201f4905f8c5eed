"""Auction state and the commands that change it (what clients see: views.py).

Commands return the auction record itself; the HTTP layer renders it.

A bid is first recorded as pending (``auction.bid``) and decided later
(``auction.decide_bids``, sent by the bid driver), like the seed's
``place_bid_async``. A close or an expiry first decides the auction's pending
bids, because the log says they were placed before it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import islice
from typing import Any

from ..errors import BadRequest, Conflict, NotFound, invalid, missing
from . import rules

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
PRUNE_BATCH = 2000  # closed auctions an ``auction.prune`` removes at most


class AuctionBook:
    def __init__(self) -> None:
        self.auctions: dict[str, dict[str, Any]] = {}
        self.bids: dict[str, dict[str, Any]] = {}
        self.open: dict[str, None] = {}
        self.pending: dict[str, None] = {}
        self.closed_log: list[dict[str, Any]] = []
        self.closed_order: dict[str, None] = {}  # closed or cancelled auctions, oldest first (what prune drops)
        self.created = 0  # auctions ever created: the next one's ``seq`` (the market's order and cursor)
        # Derived, not state: the open auctions' seqs in ascending order and
        # seq -> id, so a market page starts at its cursor without a scan.
        self._open_seqs: list[int] = []
        self._open_at: dict[int, str] = {}

    def snapshot(self) -> dict[str, Any]:
        return {
            "auctions": self.auctions,
            "bids": self.bids,
            "open": list(self.open),
            "pending": list(self.pending),
            "closed_log": self.closed_log,
            "closed_order": list(self.closed_order),
            "created": self.created,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> AuctionBook:
        book = cls()
        book.auctions, book.bids, book.closed_log = data["auctions"], data["bids"], data["closed_log"]
        book.pending = dict.fromkeys(data["pending"])
        if "created" in data:
            book.created = data["created"]
        else:  # a snapshot from before seqs: number the auctions in creation order
            for seq, auction in enumerate(book.auctions.values()):
                auction["seq"] = seq
            book.created = len(book.auctions)
        for auction_id in data["open"]:
            book.list_open(book.auctions[auction_id])
        if "closed_order" in data:
            book.closed_order = dict.fromkeys(data["closed_order"])
        else:  # a snapshot from before pruning
            book.closed_order = dict.fromkeys(a for a, v in book.auctions.items() if v["status"] != OPEN)
        if any("bid_ids" not in a for a in book.auctions.values()):
            for auction in book.auctions.values():
                auction["bid_ids"] = []
            for bid in book.bids.values():
                book.auctions[bid["auction_id"]]["bid_ids"].append(bid["bid_id"])
        # An accepted bid is one object in both the index and its auction's
        # list; a serialised copy has two, so link them again.
        for auction in book.auctions.values():
            auction["bids"] = [book.bids[b["bid_id"]] for b in auction["bids"]]
        return book

    def list_open(self, auction: dict[str, Any]) -> None:
        """Add an auction to the open ones (at creation: seqs only grow, so this appends)."""
        seq = auction["seq"]
        self.open[auction["id"]] = None
        if self._open_seqs and self._open_seqs[-1] > seq:
            self._open_seqs.insert(bisect_left(self._open_seqs, seq), seq)
        else:
            self._open_seqs.append(seq)
        self._open_at[seq] = auction["id"]

    def unlist(self, auction: dict[str, Any]) -> None:
        """The auction is no longer open (closed or cancelled)."""
        if auction["id"] not in self.open:
            return
        del self.open[auction["id"]]
        seq = auction["seq"]
        i = bisect_left(self._open_seqs, seq)
        if i < len(self._open_seqs) and self._open_seqs[i] == seq:
            del self._open_seqs[i]
        self._open_at.pop(seq, None)

    def open_after(self, cursor: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """(seq, auction) of the open auctions created after ``cursor``, oldest first."""
        seqs = self._open_seqs
        for i in range(bisect_right(seqs, cursor), len(seqs)):
            seq = seqs[i]
            yield seq, self.auctions[self._open_at[seq]]

    def get(self, auction_id: str, field: str | None = None) -> dict[str, Any]:
        auction = self.auctions.get(auction_id)
        if auction is None:
            raise NotFound(
                "not_found", f"no auction '{auction_id}' (or it closed long ago and was pruned from history)", field
            )
        return auction

    def bid(self, auction_id: str, bid_id: str) -> dict[str, Any]:
        bid = self.bids.get(bid_id)
        if bid is None or bid["auction_id"] != auction_id:
            raise NotFound("not_found", f"no bid '{bid_id}' on auction '{auction_id}'")
        return bid

    def prunable(self, keep: int) -> int:
        """Closed or cancelled auctions beyond the newest ``keep``."""
        return max(0, len(self.closed_order) - keep)


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
    auction["bid_ids"].append(bid_id)
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
    book.unlist(auction)
    book.closed_order[auction["id"]] = None
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
        bid_ids=[],
        pending={},
        highest_bid=None,
        winner=None,
        price=None,
        winning_transaction=None,
        closed_at=None,
        seq=book.created,
    )
    book.created += 1
    book.auctions[auction_id] = auction
    book.list_open(auction)
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
    book.unlist(auction)
    book.closed_order[auction["id"]] = None
    state.events.append("economics.auction.cancelled", {"auction_id": auction["id"]}, cmd["time"], cmd["node"])
    return auction


def prune(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    """Forget the oldest closed or cancelled auctions (and their bids) beyond the
    newest ``keep``, at most ``PRUNE_BATCH`` per command, and keep the newest
    ``keep`` close summaries. ``keep`` is carried in the command (the proposer's
    setting), so every replica prunes exactly the same auctions."""
    keep = cmd.get("keep")
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise BadRequest("invalid_field", "field 'keep' must be an integer >= 0", "keep")
    book: AuctionBook = state.auctions
    victims = list(islice(book.closed_order, min(book.prunable(keep), PRUNE_BATCH)))
    for auction_id in victims:
        del book.closed_order[auction_id]
        auction = book.auctions.pop(auction_id)
        for bid_id in auction["bid_ids"]:
            book.bids.pop(bid_id, None)
    if len(book.closed_log) > keep:
        del book.closed_log[: len(book.closed_log) - keep]
    return {"pruned": len(victims)}


OPS = {
    "auction.prune": prune,
    "auction.create": create,
    "auction.bid": bid,
    "auction.decide_bids": decide_bids,
    "auction.close": close,
    "auction.expire": expire,
    "auction.cancel": cancel,
}
