"""History is bounded: closed auctions and settled transactions beyond what a
node keeps are pruned by commands that carry the limit, so every replica
forgets exactly the same items and the state stays identical."""

from __future__ import annotations

import pytest

from mabeam.economics.views import market
from mabeam.errors import BadRequest, NotFound
from mabeam.machine import StateMachine
from mabeam.node import Node

from .conftest import Proposer
from .httpkit import drive, until


def _closed_auctions(run: Proposer, count: int, bids: int = 2) -> list[str]:
    ids = []
    for i in range(count):
        auction_id = f"c{i}"
        run.auction(auction_id, type="english", starting_price=1)
        for b in range(bids):
            run.bid(auction_id, f"{auction_id}-b{b}", f"p{b}", 1 + b)
        run("auction.close", auction_id=auction_id)
        ids.append(auction_id)
    return ids


def test_prune_keeps_the_newest_closed_auctions_and_every_open_one(run):
    run.auction("open-old", type="english")
    run.bid("open-old", "ob", "p", 5)
    closed = _closed_auctions(run, 10)
    run.auction("cancelled", type="english")
    run("auction.cancel", auction_id="cancelled")
    run.auction("open-new", type="english")

    assert run("auction.prune", keep=4) == {"pruned": 7}
    book = run.state.auctions
    assert list(book.closed_order) == [*closed[-3:], "cancelled"]
    assert set(book.auctions) == {"open-old", "open-new", *closed[-3:], "cancelled"}
    assert all(not b.startswith(("c0-", "c6-")) for b in book.bids) and "ob" in book.bids
    assert [s["auction_id"] for s in book.closed_log] == closed[-4:]  # the newest close summaries
    assert list(market(book, run.now)["active_auctions"]) == ["open-old", "open-new"]
    with pytest.raises(NotFound) as info:
        book.get(closed[0])
    assert info.value.code == "not_found" and "pruned" in info.value.detail
    assert run("auction.prune", keep=4) == {"pruned": 0}  # nothing more to forget


def test_prune_keeps_the_newest_settled_transactions_and_the_money(run):
    run("account.create", id="a", balance=1000)
    run("account.create", id="b", balance=0)
    for i in range(8):
        run("transaction.submit", id=f"t{i}", **{"from": "a", "to": "b"}, amount=10, reference=None)
    run("transaction.settle", ids=[f"t{i}" for i in range(6)])
    assert run("transaction.prune", keep=2) == {"pruned": 4}
    ledger = run.state.ledger
    assert list(ledger.settled) == ["t4", "t5"] and list(ledger.pending) == ["t6", "t7"]
    assert set(ledger.transactions) == {"t4", "t5", "t6", "t7"}
    assert ledger.balances == {"a": 940, "b": 60}
    with pytest.raises(NotFound) as info:
        ledger.transaction("t0")
    assert "pruned" in info.value.detail


def test_prune_is_deterministic_across_replicas_and_snapshots(run):
    _closed_auctions(run, 6)
    run("account.create", id="a", balance=10)
    run("transaction.submit", id="t", **{"from": "a", "to": "zz"}, amount=1, reference=None)
    run("transaction.settle", ids=["t"])
    half = len(run.commands) // 2
    replica = StateMachine()
    for command in run.commands[:half]:
        try:
            replica.apply(command)
        except Exception:  # refusals are part of the log too
            pass
    restored = StateMachine()
    restored.restore_bytes(replica.snapshot_bytes())  # a replica caught up by snapshot
    for command in run.commands[half:]:
        restored.apply(command)
    run("auction.prune", keep=2)
    run("transaction.prune", keep=0)
    restored.apply(run.commands[-2])
    restored.apply(run.commands[-1])
    assert restored.digest() == run.machine.digest()
    assert list(restored.state.auctions.closed_order) == ["c4", "c5"] and not restored.state.ledger.transactions


@pytest.mark.parametrize("keep", [None, -1, "3", True, 1.5])
def test_prune_refuses_a_bad_limit(run, keep):
    for op in ("auction.prune", "transaction.prune"):
        with pytest.raises(BadRequest):
            run(op, keep=keep)


def test_the_leader_prunes_in_the_background_to_its_limits():
    """A node with small limits closes many auctions and settles many
    transactions; its prune driver brings both back to the limit (plus the
    slack that makes pruning run in batches, not on every close)."""

    async def scenario(client, node: Node) -> None:
        await node.submit("account.create", id="a", balance=10_000)
        await node.submit("account.create", id="b", balance=0)
        for i in range(150):
            await node.submit(
                "auction.create",
                id=f"u{i}",
                spec={"type": "sealed_bid", "item": "x", "seller": None, "reserve_price": 0, "duration_s": 600},
            )
            await node.submit("auction.close", auction_id=f"u{i}")
            await node.submit("transaction.submit", id=f"t{i}", **{"from": "a", "to": "b"}, amount=1, reference=None)
        await node.submit(
            "auction.create",
            id="still-open",
            spec={"type": "sealed_bid", "item": "x", "seller": None, "reserve_price": 0, "duration_s": 600},
        )
        state = node.state
        await until(node, lambda: len(state.auctions.closed_order) <= 5 and len(state.ledger.settled) <= 7)
        assert "still-open" in state.auctions.open and state.auctions.auctions["u149"]["status"] == "closed"
        assert state.ledger.balances == {"a": 10_000 - 150, "b": 150}

    drive(scenario, keep_closed_auctions=5, keep_settled_transactions=7)
