"""Request ids (guarantee 6): a retried or re-forwarded write is applied once.

The state machine remembers the outcome of the newest applied request ids (by
log order) and answers a command whose request id it has seen with that
outcome instead of applying it again; the HTTP layer gives every client write
a request id (``Idempotency-Key``, or a fresh one) and the commands carry it
through forwarding into the log.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mabeam.errors import Conflict, DomainError
from mabeam.machine import State, StateMachine
from mabeam.node import CURRENT_REQUEST
from mabeam.raft import COMMAND, NOOP, LogEntry

from .httpkit import drive, until
from .test_forwarded_writes import FakeLeader, append, follower, parked


def cmd(op: str, request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    command = {"op": op, "time": 1.0, "node": "n1", **fields}
    if request_id is not None:
        command["request_id"] = request_id
    return command


def machine(keep_requests: int = 100) -> StateMachine:
    sm = StateMachine(State(keep_requests=keep_requests))
    sm.apply(cmd("account.create", id="x", balance=100))
    sm.apply(cmd("account.create", id="y", balance=0))
    return sm


def transfer(request_id: str | None, tx_id: str, amount: float = 10) -> dict[str, Any]:
    return cmd("transaction.submit", request_id, id=tx_id, **{"from": "x", "to": "y"}, amount=amount, reference=None)


def test_a_retried_write_is_applied_once_and_answered_the_first_result() -> None:
    sm = machine()
    first = sm.apply(transfer("r1", "tx-1"))
    # The retry was decided afresh by the node it reached (a new transaction id), same request id:
    again = sm.apply(transfer("r1", "tx-2"))
    assert again == first == {"transaction_id": "tx-1", "status": "pending"}
    assert list(sm.state.ledger.transactions) == ["tx-1"]
    sm.apply(cmd("transaction.settle", ids=["tx-1", "tx-2"]))
    assert sm.state.ledger.balances == {"x": 90, "y": 10}
    # without a request id nothing is deduplicated: a second write is a second transaction
    sm.apply(transfer(None, "tx-3"))
    assert list(sm.state.ledger.transactions) == ["tx-1", "tx-3"]


def test_a_retry_gets_the_first_outcome_even_when_it_was_a_refusal() -> None:
    sm = machine()
    for agent in ("a", "b"):
        sm.apply(cmd("agent.start", id=agent))
    assert sm.apply(cmd("registry.register", "k1", name="w", ref="a", meta={}))["ref"] == "a"
    with pytest.raises(Conflict) as refused:
        sm.apply(cmd("registry.register", "k2", name="w", ref="b", meta={}))
    assert refused.value.code == "already_registered"
    # k1's retry is the registration that happened (not "already registered"), k2's is the same refusal
    assert sm.apply(cmd("registry.register", "k1", name="w", ref="a", meta={}))["ref"] == "a"
    with pytest.raises(DomainError) as again:
        sm.apply(cmd("registry.register", "k2", name="w", ref="b", meta={}))
    assert (again.value.status, again.value.body()) == (refused.value.status, refused.value.body())
    events = [e for e in sm.state.events.events if e["topic"] == "registry.registered"]
    assert len(events) == 1, events


def test_a_request_id_reused_for_another_op_is_refused() -> None:
    sm = machine()
    sm.apply(cmd("agent.start", id="a"))
    sm.apply(transfer("r1", "tx-1"))
    with pytest.raises(Conflict) as reused:
        sm.apply(cmd("registry.register", "r1", name="w", ref="a", meta={}))
    assert reused.value.code == "request_id_reused" and reused.value.field == "request_id"
    assert "w" not in sm.state.registry.entries


def test_the_remembered_ids_are_bounded_by_log_order_and_equal_on_every_replica() -> None:
    commands = [transfer(f"r{i}", f"tx-{i}", amount=1) for i in range(7)]
    a, b = machine(keep_requests=3), machine(keep_requests=3)
    for c in commands:
        a.apply(c)
        b.apply(c)
    assert list(a.state.requests.outcomes) == ["r4", "r5", "r6"]
    assert a.digest() == b.digest()
    # a snapshot carries them: a replica caught up by snapshot deduplicates the same ids
    restored = machine(keep_requests=3)
    restored.restore_bytes(a.snapshot_bytes())
    assert restored.digest() == a.digest()
    for sm in (a, restored):
        assert sm.apply(transfer("r6", "tx-again")) == {"transaction_id": "tx-6", "status": "pending"}
        sm.apply(transfer("r0", "tx-0-again"))  # evicted long ago: applied as a new write
        assert "tx-0-again" in sm.state.ledger.transactions
    assert restored.digest() == a.digest()


def test_an_older_snapshot_without_request_ids_restores() -> None:
    sm = machine()
    data = sm.state.snapshot()
    del data["requests"]
    restored = State.restore(data)
    assert len(restored.requests) == 0


def test_a_settlement_retried_through_the_replicated_log_settles_once() -> None:
    """A new leader's driver re-sends the settlement of what it still sees pending
    while the old leader's settle entry commits too: both entries reach apply on
    every replica, through the log, and the money moves once."""

    async def scenario() -> None:
        node, rlog = follower()
        entries = [
            LogEntry(1, 1, NOOP, None),
            LogEntry(2, 1, COMMAND, cmd("account.create", "a1", id="x", balance=100)),
            LogEntry(3, 1, COMMAND, cmd("account.create", "a2", id="y", balance=0)),
            LogEntry(4, 1, COMMAND, transfer("t1", "tx-1", amount=30)),
            LogEntry(5, 1, COMMAND, transfer("t1", "tx-1b", amount=30)),  # a client's retry
            LogEntry(6, 1, COMMAND, cmd("transaction.settle", ids=["tx-1"])),  # the old leader's driver
            LogEntry(7, 1, COMMAND, cmd("transaction.settle", ids=["tx-1", "tx-1b"])),  # the new leader's
        ]
        append(rlog, 0, entries, 7)
        assert rlog.raft.applied_index == 7
        assert node.state.ledger.balances == {"x": 70, "y": 30}
        assert node.state.ledger.transactions["tx-1"]["status"] == "completed"
        assert "tx-1b" not in node.state.ledger.transactions
        completed = [e for e in node.state.events.events if e["topic"] == "economics.transaction.completed"]
        assert len(completed) == 1

    asyncio.run(scenario())


def test_a_forwarded_write_carries_its_request_id_to_the_leader() -> None:
    async def scenario() -> None:
        node, rlog = follower()
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        leader = FakeLeader([{"result": {"id": "x", "balance": 5}, "index": 2}])
        rlog.transport.request = leader  # type: ignore[method-assign]
        token = CURRENT_REQUEST.set(["client-key-1", 0])
        try:
            write = asyncio.create_task(node.submit("account.create", id="x", balance=5))
        finally:
            CURRENT_REQUEST.reset(token)
        await parked(rlog)
        assert leader.forwarded[0]["request_id"] == "client-key-1"
        append(rlog, 1, [LogEntry(2, 1, COMMAND, leader.forwarded[0])], 2)
        assert await asyncio.wait_for(write, 5) == {"id": "x", "balance": 5}

    asyncio.run(scenario())


def test_http_writes_retried_with_the_same_idempotency_key_apply_once() -> None:
    async def scenario(client, node) -> None:
        for account, balance in (("x", 100), ("y", 0)):
            assert (await client.post("/accounts", json={"id": account, "balance": balance})).status == 201
        body = {"from": "x", "to": "y", "amount": 25}
        headers = {"Idempotency-Key": "transfer-1"}
        first = await client.post("/transactions", json=body, headers=headers)
        retry = await client.post("/transactions", json=body, headers=headers)
        assert first.status == retry.status == 202
        assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == "transfer-1"
        tx = (await first.json())["transaction_id"]
        assert (await retry.json())["transaction_id"] == tx
        await until(node, lambda: not node.state.ledger.pending)
        assert node.state.ledger.balances == {"x": 75, "y": 25}
        assert len(node.state.ledger.transactions) == 1

        # a registration retried: the same 201, not already_registered
        reg = {"name": "worker", "ref": "a1"}
        await client.post("/agents", json={"id": "a1"})
        answers = [await client.post("/registry", json=reg, headers={"Idempotency-Key": "reg-1"}) for _ in range(2)]
        assert [a.status for a in answers] == [201, 201]
        other = await client.post("/registry", json=reg, headers={"Idempotency-Key": "reg-2"})
        assert (other.status, (await other.json())["error"]) == (409, "already_registered")

        # without a key the node makes one up (and says which), so two posts are two writes
        plain = [await client.post("/transactions", json=body) for _ in range(2)]
        keys = {a.headers["Idempotency-Key"] for a in plain}
        assert len(keys) == 2 and all(k.startswith("req-") for k in keys)
        assert len({(await a.json())["transaction_id"] for a in plain}) == 2

        bad = await client.post("/transactions", json=body, headers={"Idempotency-Key": "x" * 201})
        assert (bad.status, (await bad.json())["field"]) == (400, "Idempotency-Key")

    drive(scenario)


def test_a_bid_retried_with_wait_answers_about_the_first_bid() -> None:
    async def scenario(client, node) -> None:
        await client.post("/accounts", json={"id": "s", "balance": 0})
        spec = {"type": "english", "item": "i", "seller": "s", "starting_price": 1, "duration_s": 60}
        auction = await (await client.post("/auctions", json=spec)).json()
        path = f"/auctions/{auction['id']}/bids"
        bid = {"bidder": "b", "amount": 5}
        headers = {"Idempotency-Key": "bid-1"}
        first = await client.post(path, json=bid, params={"wait": "true"}, headers=headers)
        retry = await client.post(path, json=bid, params={"wait": "true"}, headers=headers)
        assert first.status == retry.status == 201
        assert (await first.json())["bid_id"] == (await retry.json())["bid_id"]
        assert len(node.state.auctions.auctions[auction["id"]]["bids"]) == 1

    drive(scenario)
