"""Economics contracts (seed §3.2 "Economics services maintain transactional
integrity"): an auction appears in market data once created, an asynchronous
bid (202) is eventually recorded in the auction's status, accounts and
transactions answer and settle as docs/api.md says, analytics report closes.
"""

from __future__ import annotations

import pytest

from pipeline.testing.eventually import eventually
from suites.service.client import uid
from suites.service.helpers import (
    accepted_bid,
    amount_of,
    auction,
    balance,
    bid_now,
    create_account,
    create_auction,
    read_market,
    settled,
)

pytestmark = pytest.mark.timeout(60)


def market(node) -> dict:
    return read_market(node)


def test_created_auction_appears_in_market_data(node, events):
    mark = events.head()
    item = uid("gpu-hours")
    created = create_auction(node, "english", item=item, starting_price=10, min_increment=2, duration_s=600)
    auction_id = created["id"]
    assert created["item"] == item
    assert created["ends_at"] > created["created_at"]

    entry = eventually(
        lambda: market(node).get(auction_id), timeout=5, description=f"auction {auction_id} in market data"
    )
    assert entry["type"] == "english" and entry["item"] == item
    assert entry["bid_count"] == 0
    assert entry["ends_at"] == pytest.approx(created["ends_at"])
    events.wait_for(
        "economics.auction.created",
        lambda e: e["data"].get("id", e["data"].get("auction_id")) == auction_id,
        after=mark,
    )


def test_async_bid_is_accepted_then_recorded_in_status_and_market(node):
    auction_id = create_auction(node, "english", starting_price=10, duration_s=600)["id"]
    bidder = uid("bidder")
    placed = node.post(f"/auctions/{auction_id}/bids", {"bidder": bidder, "amount": 15}).expect(202)
    assert isinstance(placed["bid_id"], str) and placed["status"] == "pending"

    def recorded():
        bid = node.get(f"/auctions/{auction_id}/bids/{placed['bid_id']}").expect(200)
        assert bid["status"] == "accepted", bid
        return bid

    eventually(recorded, timeout=5, description="async bid accepted")
    status = auction(node, auction_id)
    assert len(status["bids"]) == 1
    assert status["bids"][0]["bidder"] == bidder and status["bids"][0]["amount"] == 15
    assert amount_of(status["highest_bid"]) == 15
    entry = eventually(
        lambda: (e := market(node)[auction_id])["bid_count"] == 1 and e,
        timeout=5,
        description="bid counted in market data",
    )
    assert amount_of(entry["highest_bid"]) == 15


def test_async_bid_rejection_is_visible_with_a_reason(node, events):
    auction_id = create_auction(node, "english", starting_price=50, duration_s=600)["id"]
    mark = events.head()
    placed = node.post(f"/auctions/{auction_id}/bids", {"bidder": uid("cheap"), "amount": 10}).expect(202)

    def decided():
        bid = node.get(f"/auctions/{auction_id}/bids/{placed['bid_id']}").expect(200)
        assert bid["status"] != "pending"
        return bid

    bid = eventually(decided, timeout=5)
    assert bid["status"] == "rejected" and bid["reason"] == "bid_too_low"
    events.wait_for("economics.auction.bid_rejected", lambda e: e["data"].get("auction_id") == auction_id, after=mark)


def test_waited_bid_answers_the_outcome(node):
    auction_id = create_auction(node, "english", starting_price=10, min_increment=5, duration_s=600)["id"]
    bid = accepted_bid(node, auction_id, uid("b"), 10)
    assert bid["amount"] == 10 and isinstance(bid["bid_id"], str)
    bid_now(node, auction_id, uid("b"), 12).error(409, "bid_too_low")


def test_close_answers_the_result_and_removes_the_auction_from_market(node, events):
    seller = create_account(node, 0)
    auction_id = create_auction(node, "english", seller=seller, starting_price=5, duration_s=600)["id"]
    winner = uid("w")
    accepted_bid(node, auction_id, winner, 7)
    mark = events.head()
    result = node.post(f"/auctions/{auction_id}/close").expect(200)
    assert result["auction_id"] == auction_id and result["winner"] == winner
    assert result["price"] == 7
    assert result["winning_transaction"] == {"from": winner, "to": seller, "amount": 7, "reference": auction_id}
    assert auction(node, auction_id)["status"] == "closed"
    eventually(lambda: auction_id not in market(node), timeout=5, description="closed auction gone from market")
    events.wait_for(
        "economics.auction.closed",
        lambda e: auction_id in (e["data"].get("auction_id"), e["data"].get("id")),
        after=mark,
    )
    node.post(f"/auctions/{auction_id}/close").error(409, "auction_closed")
    bid_now(node, auction_id, uid("late"), 100).error(409, "auction_closed")


def test_market_is_paged_with_a_limit_and_a_cursor(node):
    """docs/api.md: at most ``limit`` entries (default 100, max 1000), oldest
    first; ``next`` resumes after the page; each open auction exactly once;
    an auction closed meanwhile drops out without shifting the cursor."""
    made = [create_auction(node, "english", starting_price=1, duration_s=600)["id"] for _ in range(7)]
    first = node.get("/market").expect(200)
    assert first["count"] == len(first["active_auctions"]) <= 100 and first["total"] >= 7, first

    seen: list[str] = []
    params: dict = {"limit": 3}
    for _ in range(1000):  # bounded: far more pages than this node has auctions
        page = node.get("/market", params=params).expect(200)
        assert page["count"] == len(page["active_auctions"]) <= 3, page
        seen.extend(page["active_auctions"])
        if made[0] in page["active_auctions"]:  # made[3] is at least 3 entries later: on a page not read yet
            node.post(f"/auctions/{made[3]}/close").expect(200)
        if page["next"] is None:
            break
        assert isinstance(page["next"], str), page
        params = {"limit": 3, "after": page["next"]}
    assert len(seen) == len(set(seen)), "an auction appeared on two pages"
    mine = [a for a in seen if a in made]
    assert mine == [a for a in made if a != made[3]], f"creation order, without the closed one: {mine}"


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "after=x", "after=-2", "after=1.5"])
def test_market_refuses_bad_paging_parameters(node, query):
    name = query.split("=")[0]
    body = node.get(f"/market?{query}").error(400, "invalid_field")
    assert body["field"] == name, body


def test_market_answer_is_bounded_whatever_the_node_holds(node):
    for _ in range(3):
        create_auction(node, "english", starting_price=1, duration_s=600)
    page = node.get("/market", params={"limit": 2}).expect(200)
    assert page["count"] == 2 and page["next"] is not None and page["total"] >= 3, page
    assert node.get("/market", params={"limit": 1000}).expect(200)["count"] <= 1000


def test_unknown_auction_is_404(node):
    missing = uid("auction")
    node.get(f"/auctions/{missing}").error(404, "not_found")
    node.post(f"/auctions/{missing}/close").error(404, "not_found")
    node.post(f"/auctions/{missing}/cancel").error(404, "not_found")
    node.post(f"/auctions/{missing}/bids", {"bidder": "b", "amount": 1}).error(404, "not_found")


# -- accounts and transactions --------------------------------------------------


def test_accounts_answer_and_refuse_duplicates(node):
    account_id = create_account(node, 100)
    assert node.get(f"/accounts/{account_id}").expect(200) == {"id": account_id, "balance": 100}
    node.post("/accounts", {"id": account_id, "balance": 5}).error(409, "already_exists")
    assert balance(node, account_id) == 100
    listing = node.get("/accounts").expect(200)
    assert {"id": account_id, "balance": 100} in listing["accounts"]
    assert listing["total"] == pytest.approx(sum(a["balance"] for a in listing["accounts"]))
    node.get(f"/accounts/{uid('nobody')}").error(404, ("unknown_account", "not_found"))


def test_transaction_settles_and_publishes_completed(node, events):
    payer, payee = create_account(node, 100), create_account(node, 10)
    mark = events.head()
    reference = uid("ref")
    submitted = node.post("/transactions", {"from": payer, "to": payee, "amount": 30, "reference": reference}).expect(
        202
    )
    assert submitted["status"] == "pending" and isinstance(submitted["transaction_id"], str)
    tid = submitted["transaction_id"]
    tx = settled(node, tid)
    assert tx == {
        **tx,
        "transaction_id": tid,
        "from": payer,
        "to": payee,
        "amount": 30,
        "reference": reference,
        "status": "completed",
    }
    assert (balance(node, payer), balance(node, payee)) == (70, 40)
    event = events.wait_for(
        "economics.transaction.completed", lambda e: e["data"].get("transaction_id") == tid, after=mark
    )[0]
    assert event["data"]["from"] == payer and event["data"]["amount"] == 30


def test_transaction_without_funds_fails_and_moves_nothing(node, events):
    payer, payee = create_account(node, 5), create_account(node, 0)
    mark = events.head()
    tid = node.post("/transactions", {"from": payer, "to": payee, "amount": 6}).expect(202)["transaction_id"]
    tx = settled(node, tid)
    assert tx["status"] == "failed" and tx["reason"] == "insufficient_funds"
    assert (balance(node, payer), balance(node, payee)) == (5, 0)
    event = events.wait_for(
        "economics.transaction.failed", lambda e: e["data"].get("transaction_id") == tid, after=mark
    )[0]
    assert event["data"]["reason"] == "insufficient_funds"


def test_transaction_to_unknown_account_fails_with_unknown_account(node):
    """docs/api.md allows two readings: 404 ``unknown_account`` at submission, or
    202 then settlement failing with reason ``unknown_account``.  Either way no
    money moves."""
    payer = create_account(node, 50)
    reply = node.post("/transactions", {"from": payer, "to": uid("nobody"), "amount": 1})
    if reply.status == 404:
        reply.error(404, "unknown_account")
    else:
        tx = settled(node, reply.expect(202)["transaction_id"])
        assert tx["status"] == "failed" and tx["reason"] == "unknown_account"
    assert balance(node, payer) == 50


def test_unknown_transaction_is_404(node):
    node.get(f"/transactions/{uid('tx')}").error(404, "not_found")


# -- analytics -------------------------------------------------------------------


@pytest.mark.parametrize("window", ["last_hour", "last_day", "all"])
def test_recent_auctions_report_lists_a_closed_auction(node, window):
    auction_id = create_auction(node, "sealed_bid", duration_s=600)["id"]
    winner = uid("w")
    accepted_bid(node, auction_id, winner, 11)
    node.post(f"/auctions/{auction_id}/close").expect(200)

    def listed():
        report = node.get("/analytics/recent_auctions", params={"window": window}).expect(200)
        assert report["report"] == "recent_auctions" and report["window"] == window
        found = [a for a in report["completed_auctions"] if a["auction_id"] == auction_id]
        assert found, f"{auction_id} not in the {window} report"
        return found[0]

    entry = eventually(listed, timeout=5)
    assert entry["type"] == "sealed_bid" and entry["winner"] == winner and entry["price"] == 11
    assert isinstance(entry["closed_at"], (int, float))


def test_volume_report_grows_with_a_close(node):
    def volume():
        return node.get("/analytics/volume", params={"window": "all"}).expect(200)

    before = volume()
    assert before["report"] == "volume" and before["window"] == "all"
    assert isinstance(before["generated_at"], (int, float))
    auction_id = create_auction(node, "english", starting_price=1, duration_s=600)["id"]
    accepted_bid(node, auction_id, uid("w"), 40)
    node.post(f"/auctions/{auction_id}/close").expect(200)

    def grew():
        after = volume()
        assert after["auctions_closed"] >= before["auctions_closed"] + 1, after
        assert after["volume"] >= before["volume"] + 40, after
        return after

    eventually(grew, timeout=5, description="volume report updated after a close (cache invalidated)")


@pytest.mark.parametrize(
    "path,params", [("/analytics/nonsense", {"window": "all"}), ("/analytics/volume", {"window": "last_century"})]
)
def test_analytics_refuses_unknown_report_or_window(node, path, params):
    reply = node.get(path, params=params)
    assert reply.status in (400, 404), reply
    assert reply.body.get("error") in ("invalid_field", "not_found"), reply.body
