"""Accounts, transactions, auctions, bids, market data and analytics."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..economics import auctions, spec, views
from ..errors import Conflict, invalid
from ..node import Node
from .respond import body, json_response, query_flag, query_int

BID_WAIT_S = 10.0  # how long ?wait=true holds the request for a decision
MAX_CURSOR = 2**53  # market cursors stay exact in every JSON client


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    state = lambda: node.state  # noqa: E731

    # -- accounts and transactions ---------------------------------------------

    async def create_account(request: web.Request) -> web.Response:
        fields = await body(request)
        result = await node.submit("account.create", id=fields.text("id"), balance=fields.number("balance", lo=0))
        return json_response(result, 201)

    async def get_account(request: web.Request) -> web.Response:
        return json_response(state().ledger.account(request.match_info["id"]))

    async def list_accounts(request: web.Request) -> web.Response:
        return json_response(state().ledger.accounts())

    async def submit_transaction(request: web.Request) -> web.Response:
        fields = await body(request)
        source, target = fields.text("from"), fields.text("to")
        amount = fields.number("amount", gt=0)
        reference = fields.text("reference", None, max_len=1000)
        if source == target:
            raise invalid("to", "an account other than 'from'")
        result = await node.submit(
            "transaction.submit",
            id=node.ids.new("tx"),
            **{"from": source, "to": target},
            amount=amount,
            reference=reference,
        )
        return json_response(result, 202)

    async def get_transaction(request: web.Request) -> web.Response:
        return json_response(state().ledger.transaction(request.match_info["id"]))

    # -- auctions --------------------------------------------------------------

    async def create_auction(request: web.Request) -> web.Response:
        fields = await body(request)
        auction = await node.submit("auction.create", id=node.ids.new("auc"), spec=spec.parse(fields))
        return json_response(views.view(auction, node.clock()), 201)

    async def get_auction(request: web.Request) -> web.Response:
        return json_response(views.view(state().auctions.get(request.match_info["id"]), node.clock()))

    async def place_bid(request: web.Request) -> web.Response:
        wait = query_flag(request, "wait")
        fields = await body(request)
        bidder = fields.text("bidder")
        amount = fields.number("amount", gt=0)
        items = fields.text_list("items", None, max_len=spec.MAX_ITEMS)
        auction_id = request.match_info["id"]
        bid_id = node.ids.new("bid")
        decided = node.bid_waiters.expect(bid_id) if wait else None
        try:
            placed = await node.submit(
                "auction.bid", auction_id=auction_id, bid_id=bid_id, bidder=bidder, amount=amount, items=items
            )
            if placed["bid_id"] != bid_id:  # a retried request id: the answer is about the bid it placed first
                if decided is not None:
                    node.bid_waiters.forget(bid_id)
                bid_id = placed["bid_id"]
                pending = state().auctions.bids.get(bid_id, {}).get("status") == auctions.PENDING
                decided = node.bid_waiters.expect(bid_id) if wait and pending else None
            if decided is not None:
                await asyncio.wait((decided,), timeout=BID_WAIT_S)
        finally:
            if decided is not None:
                node.bid_waiters.forget(bid_id)
        bid = state().auctions.bids.get(bid_id)
        if bid is None:  # pruned with its closed auction since it was placed
            return json_response({"bid_id": bid_id, "auction_id": auction_id, "status": "unknown"}, 202)
        if not wait:
            return json_response({"bid_id": bid_id, "auction_id": auction_id, "status": "pending"}, 202)
        if bid["status"] == auctions.ACCEPTED:
            return json_response(bid_public(bid), 201)
        if bid["status"] == auctions.REJECTED:
            raise Conflict(bid["reason"], f"bid '{bid_id}' was rejected: {bid['reason']}", bid_id=bid_id)
        return json_response({"bid_id": bid_id, "auction_id": auction_id, "status": "pending"}, 202)

    def bid_public(bid: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in bid.items() if k != "group"}

    async def get_bid(request: web.Request) -> web.Response:
        book = state().auctions
        auction = book.get(request.match_info["id"])
        return json_response(views.bid_view(book.bid(auction["id"], request.match_info["bid_id"]), auction))

    async def close_auction(request: web.Request) -> web.Response:
        auction = await node.submit("auction.close", auction_id=request.match_info["id"])
        return json_response(views.close_result(auction))

    async def cancel_auction(request: web.Request) -> web.Response:
        auction = await node.submit("auction.cancel", auction_id=request.match_info["id"])
        return json_response(views.view(auction, node.clock()))

    async def market(request: web.Request) -> web.Response:
        limit = query_int(request, "limit", views.MARKET_LIMIT, 1, views.MARKET_MAX_LIMIT)
        after = query_int(request, "after", -1, -1, MAX_CURSOR)
        return json_response(views.market(state().auctions, node.clock(), after, limit))

    async def analytics(request: web.Request) -> web.Response:
        window = request.query.get("window", "last_hour")
        return json_response(node.reports.get(state(), request.match_info["report"], window, node.clock()))

    return [
        ("POST", "/accounts", "account.create", create_account),
        ("GET", "/accounts", "account.list", list_accounts),
        ("GET", "/accounts/{id}", "account.get", get_account),
        ("POST", "/transactions", "transaction.submit", submit_transaction),
        ("GET", "/transactions/{id}", "transaction.get", get_transaction),
        ("POST", "/auctions", "auction.create", create_auction),
        ("GET", "/auctions/{id}", "auction.get", get_auction),
        ("POST", "/auctions/{id}/bids", "auction.bid", place_bid),
        ("GET", "/auctions/{id}/bids/{bid_id}", "bid.get", get_bid),
        ("POST", "/auctions/{id}/close", "auction.close", close_auction),
        ("POST", "/auctions/{id}/cancel", "auction.cancel", cancel_auction),
        ("GET", "/market", "market.get", market),
        ("GET", "/analytics/{report}", "analytics.get", analytics),
    ]
