"""A write forwarded by a follower returns only once the follower applied it.

The follower here is a real ``ReplicatedLog`` in a ``Node``, not started (no
network): the leader ``b`` is played by the test, which hands the follower
AppendEntries through ``receive`` (the ``/raft/message`` path) and answers the
forwarded ``/raft/propose`` request in place of the transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mabeam.errors import DomainError, Unavailable
from mabeam.node import Node
from mabeam.raft import COMMAND, NOOP, AppendEntries, LogEntry
from mabeam.replication.raftlog import ClusterOptions, ReplicatedLog

LEADER = "b"


def follower(commit_timeout_s: float = 5.0) -> tuple[Node, ReplicatedLog]:
    options = ClusterOptions(
        node_id="a",
        peers={"b": "127.0.0.1:9", "c": "127.0.0.1:9"},
        secret=b"s",
        commit_timeout_s=commit_timeout_s,
        seed=1,
    )
    node = Node("a", log_factory=lambda machine: ReplicatedLog(machine, options))
    rlog = node.log
    assert isinstance(rlog, ReplicatedLog)
    return node, rlog


def append(rlog: ReplicatedLog, prev: int, entries: list[LogEntry], commit: int) -> None:
    """The leader's AppendEntries, through the follower's /raft/message path."""
    prev_term = 1 if prev else 0
    message = AppendEntries(LEADER, "a", 1, prev, prev_term, tuple(entries), commit)
    rlog.receive([message.to_dict()])


class FakeLeader:
    """Stands in for ``transport.request``: answers each forwarded batch with ``answers``."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.forwarded: list[dict[str, Any]] = []
        self.called = asyncio.Event()

    async def __call__(self, peer: str, method: str, path: str, payload: Any, timeout: float) -> tuple[int, Any]:
        assert (peer, method, path) == (LEADER, "POST", "/raft/propose")
        self.forwarded.extend(payload["commands"])
        self.called.set()
        return 200, {"answers": self.answers}


async def parked(rlog: ReplicatedLog, count: int = 1) -> None:
    """Until ``count`` requests wait for this node to apply an index (bounded)."""
    for _ in range(1000):
        if len(rlog._applied_waiters) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"no write waited for its index: {rlog._applied_waiters}")


def test_a_forwarded_write_returns_once_this_node_applied_its_entry() -> None:
    async def scenario() -> None:
        node, rlog = follower()
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        assert rlog.raft.leader_id == LEADER and rlog.raft.applied_index == 1
        leader = FakeLeader([{"result": {"id": "x", "balance": 5}, "index": 2}])
        rlog.transport.request = leader  # type: ignore[method-assign]

        write = asyncio.create_task(node.submit("account.create", id="x", balance=5))
        await parked(rlog)
        assert not write.done(), "answered before this node applied the entry"
        assert "x" not in node.state.ledger.balances

        # the entry reaches this node, committed: the write's answer follows, and the state has it
        append(rlog, 1, [LogEntry(2, 1, COMMAND, leader.forwarded[0])], 2)
        assert await asyncio.wait_for(write, 5) == {"id": "x", "balance": 5}
        assert node.state.ledger.balances["x"] == 5
        assert not rlog._applied_waiters

    asyncio.run(scenario())


def test_a_refusal_from_apply_also_waits_for_its_index() -> None:
    async def scenario() -> None:
        node, rlog = follower()
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        refusal = {"error": "already_exists", "detail": "account 'x' already exists"}
        rlog.transport.request = FakeLeader([{"status": 409, "error": refusal, "index": 2}])  # type: ignore[method-assign]

        write = asyncio.create_task(node.submit("account.create", id="x", balance=5))
        await parked(rlog)
        assert not write.done()
        append(rlog, 1, [LogEntry(2, 1, NOOP, None)], 2)
        with pytest.raises(DomainError) as caught:
            await asyncio.wait_for(write, 5)
        assert (caught.value.status, caught.value.code) == (409, "already_exists")

    asyncio.run(scenario())


def test_a_leader_refusal_without_index_is_answered_at_once() -> None:
    async def scenario() -> None:
        node, rlog = follower()
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        rlog.transport.request = FakeLeader(  # type: ignore[method-assign]
            [{"status": 503, "error": {"error": "no_quorum", "detail": "not committed (outcome unknown)"}}]
        )
        with pytest.raises(DomainError) as caught:
            await asyncio.wait_for(node.submit("account.create", id="x", balance=5), 5)
        assert (caught.value.status, caught.value.code) == (503, "no_quorum")
        assert not rlog._applied_waiters

    asyncio.run(scenario())


def test_a_node_that_does_not_catch_up_answers_a_clear_503() -> None:
    async def scenario() -> None:
        node, rlog = follower(commit_timeout_s=0.05)
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        rlog.transport.request = FakeLeader([{"result": {"id": "x"}, "index": 7}])  # type: ignore[method-assign]
        with pytest.raises(Unavailable) as caught:
            await asyncio.wait_for(node.submit("account.create", id="x", balance=5), 5)
        error = caught.value
        assert (error.status, error.code) == (503, "catching_up")
        assert error.body()["outcome"] == "committed" and error.body()["index"] == 7
        assert "index 7" in error.detail

        # the timed-out waiter leaves the heap once the index is reached; later waiters still wake
        append(rlog, 1, [LogEntry(i, 1, NOOP, None) for i in range(2, 8)], 7)
        assert not rlog._applied_waiters

    asyncio.run(scenario())


def test_waiters_wake_in_index_order_whatever_order_they_came_in() -> None:
    async def scenario() -> None:
        _, rlog = follower()
        append(rlog, 0, [LogEntry(1, 1, NOOP, None)], 1)
        woken: list[int] = []

        async def wait(index: int) -> None:
            await rlog.wait_own_write(index)
            woken.append(index)

        tasks = [asyncio.create_task(wait(i)) for i in (4, 2, 3, 9)]
        await parked(rlog, 4)
        append(rlog, 1, [LogEntry(i, 1, NOOP, None) for i in range(2, 5)], 3)
        await asyncio.sleep(0)
        append(rlog, 4, [], 4)
        for _ in range(10):
            await asyncio.sleep(0)
        assert sorted(woken) == [2, 3, 4] and not tasks[3].done()
        tasks[3].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
