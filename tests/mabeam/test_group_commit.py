"""Group commit and batched peer traffic: fewer requests per write, same guarantees.

* ``RaftNode.propose_many`` appends a batch as one log write and sends each
  follower one AppendEntries for it; nothing commits before a majority holds it.
* ``ReplicatedLog.receive`` returns the messages produced for the sender (the
  ``/raft/message`` answer carries them back) and persists before returning them.
* ``Transport`` keeps one batch on the wire per peer and lets the rest grow,
  overtaking a batch only once it is ``stall_after`` old; answers' messages go
  to ``on_reply``.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web

from mabeam.raft import AppendEntries, AppendResponse, NotLeader
from mabeam.raft.output import AppendOp
from mabeam.replication.transport import Transport
from tests.mabeam.test_raft_core import Net, settle


def test_propose_many_is_one_append_per_follower_and_commits_only_with_a_majority() -> None:
    net = Net(["a", "b", "c"])
    net.elect("a", ["b", "c"])
    net.heal()
    settle(net)
    before = net.nodes["a"].last_index
    out = net.call("a", "propose_many", [{"n": k} for k in range(10)])
    assert [p.index for p in out.proposals] == list(range(before + 1, before + 11))
    assert len([op for op in out.log_ops if isinstance(op, AppendOp)]) == 1  # one storage write
    appends = [m for m in out.messages if isinstance(m, AppendEntries)]
    assert sorted(m.dst for m in appends) == ["b", "c"]
    assert all(len(m.entries) == 10 for m in appends)
    assert not out.committed  # nobody else holds them yet
    assert net.nodes["a"].commit_index < before + 10

    # Only b answers: a majority (a, b) holds them, so they commit.
    net.deliver(drop=lambda m: m.dst == "c" or m.src == "c")
    assert net.nodes["a"].commit_index == before + 10
    committed = [net.applied["a"][p.index] for p in out.proposals]
    assert [e.data for e in committed] == [{"n": k} for k in range(10)]


def test_propose_many_without_majority_does_not_commit() -> None:
    net = Net(["a", "b", "c"])
    net.elect("a", ["b", "c"])
    net.heal()
    settle(net)
    out = net.call("a", "propose_many", ["x", "y"])
    net.deliver(drop=lambda m: isinstance(m, (AppendEntries, AppendResponse)))
    assert all(p.index > net.nodes["a"].commit_index for p in out.proposals)
    assert not any(p.index in net.applied["a"] for p in out.proposals)


def test_propose_many_off_the_leader_raises_not_leader() -> None:
    net = Net(["a", "b", "c"])
    net.elect("a", ["b", "c"])
    net.heal()
    settle(net)
    with pytest.raises(NotLeader):
        net.nodes["b"].propose_many(["x"])


def test_propose_many_larger_than_a_batch_streams_every_entry() -> None:
    net = Net(["a", "b", "c"], max_batch=4)
    net.elect("a", ["b", "c"])
    net.heal()
    settle(net)
    out = net.call("a", "propose_many", list(range(30)))
    net.deliver()
    settle(net)
    last = out.proposals[-1].index
    for node in ("a", "b", "c"):
        assert net.nodes[node].commit_index >= last


def _server(handler):  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_post("/raft/message", handler)
    return app


def test_transport_batches_behind_the_request_on_the_wire_and_delivers_replies() -> None:
    async def scenario() -> tuple[list[int], list[object]]:
        sizes: list[int] = []
        release = asyncio.Event()
        first_arrived = asyncio.Event()

        async def handler(request: web.Request) -> web.Response:
            batch = orjson.loads(await request.read())["messages"]
            sizes.append(len(batch))
            if len(sizes) == 1:
                first_arrived.set()
                await release.wait()  # hold the first batch on the wire
            return web.json_response({"messages": [{"echo": m["i"]} for m in batch]})

        runner = web.AppRunner(_server(handler))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        replies: list[object] = []
        all_replied = asyncio.Event()

        def on_reply(messages: list[object]) -> None:
            replies.extend(messages)
            if len(replies) >= 6:
                all_replied.set()

        # stall_after far beyond any deadline here: no overtaking in this test
        t = Transport("a", {"b": f"127.0.0.1:{port}"}, b"s", stall_after=600.0)
        t.on_reply = on_reply
        await t.start()
        try:
            t.send("b", {"i": 0})
            await asyncio.wait_for(first_arrived.wait(), 30)
            for i in range(1, 6):  # while batch 1 is unanswered: they wait and grow
                t.send("b", {"i": i})
            await asyncio.sleep(0)  # let the sender run: it must not send a second batch
            assert sizes == [1]
            release.set()
            await asyncio.wait_for(all_replied.wait(), 30)
        finally:
            await t.stop()
            await runner.cleanup()
        return sizes, replies

    sizes, replies = asyncio.run(scenario())
    assert sizes == [1, 5]
    assert sorted(r["echo"] for r in replies) == list(range(6))  # type: ignore[index]


def test_transport_overtakes_a_stalled_batch() -> None:
    async def scenario() -> list[int]:
        sizes: list[int] = []
        never = asyncio.Event()
        first_arrived, second_arrived = asyncio.Event(), asyncio.Event()

        async def handler(request: web.Request) -> web.Response:
            batch = orjson.loads(await request.read())["messages"]
            sizes.append(len(batch))
            (first_arrived if len(sizes) == 1 else second_arrived).set()
            if len(sizes) == 1:
                await never.wait()  # a blackholed request
            return web.Response(status=204)

        runner = web.AppRunner(_server(handler))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        t = Transport("a", {"b": f"127.0.0.1:{port}"}, b"s", stall_after=0.05, message_timeout=5.0)
        await t.start()
        try:
            t.send("b", {"i": 0})
            await asyncio.wait_for(first_arrived.wait(), 30)  # batch 1 is now stuck on the wire
            t.send("b", {"i": 1})
            await asyncio.wait_for(second_arrived.wait(), 30)  # overtakes once 1 is 50 ms old
        finally:
            never.set()
            await t.stop()
            await runner.cleanup()
        return sizes

    assert asyncio.run(scenario()) == [1, 1]


def test_replicated_log_answers_the_sender_with_persisted_replies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mabeam.machine import StateMachine
    from mabeam.raft import LogEntry
    from mabeam.replication.raftlog import ClusterOptions, ReplicatedLog
    from mabeam.replication.storage import DiskStorage

    rlog = ReplicatedLog(
        StateMachine(),
        ClusterOptions(
            node_id="b", peers={"a": "127.0.0.1:9", "c": "127.0.0.1:9"}, secret=b"s", data_dir=tmp_path, seed=1
        ),
    )
    entries = (LogEntry(1, 1, "noop"), LogEntry(2, 1, "command", {"op": "nothing"}))
    append = AppendEntries("a", "b", 1, 0, 0, entries, 0)
    replies = rlog.receive([append.to_dict()])
    assert [(r["type"], r["dst"], r["success"], r["match_index"]) for r in replies] == [
        ("append_response", "a", True, 2)
    ]
    assert not rlog.transport._queues["a"]  # answered in the response, not queued
    # the entries were on disk before the answer was handed out
    assert [e.index for e in DiskStorage(tmp_path).load().entries] == [1, 2]
    rlog.storage.close()


def test_follower_forwards_writes_in_batches_and_answers_each_as_the_leader_did(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mabeam.errors import DomainError
    from mabeam.replication import raftlog

    monkeypatch.setattr(raftlog, "FORWARD_STALL_S", 60.0)  # no overtaking in this test, however slow the machine
    from mabeam.machine import StateMachine
    from mabeam.replication.raftlog import ClusterOptions, ReplicatedLog

    async def scenario() -> tuple[list[list[object]], list[object]]:
        rlog = ReplicatedLog(
            StateMachine(),
            ClusterOptions(node_id="b", peers={"a": "127.0.0.1:9", "c": "127.0.0.1:9"}, secret=b"s", seed=1),
        )
        rlog.raft.leader_id = "a"
        rlog.mode = lambda: "normal"  # type: ignore[method-assign]
        calls: list[list[object]] = []
        first_out = asyncio.Event()
        release = asyncio.Event()

        async def request(peer, method, path, payload, timeout):  # type: ignore[no-untyped-def]
            assert (peer, method, path) == ("a", "POST", "/raft/propose")
            calls.append(payload["commands"])
            if len(calls) == 1:
                first_out.set()
                await release.wait()
            answers = []
            for command in payload["commands"]:
                if command["op"] == "bad":
                    answers.append({"status": 409, "error": {"error": "conflict", "detail": "no", "field": "x"}})
                else:
                    answers.append({"result": {"echo": command["n"]}})
            return 200, {"answers": answers}

        rlog.transport.request = request  # type: ignore[method-assign]
        first = asyncio.ensure_future(rlog.submit({"op": "ok", "n": 0}))
        await first_out.wait()
        rest = [asyncio.ensure_future(rlog.submit({"op": op, "n": n})) for n, op in ((1, "ok"), (2, "bad"), (3, "ok"))]
        await asyncio.sleep(0.01)  # they wait for the first answer
        assert len(calls) == 1
        release.set()
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        rlog.storage.close()
        return calls, outcomes

    calls, outcomes = asyncio.run(scenario())
    assert [[c["n"] for c in batch] for batch in calls] == [[0], [1, 2, 3]]  # type: ignore[index]
    assert outcomes[0] == {"echo": 0} and outcomes[1] == {"echo": 1} and outcomes[3] == {"echo": 3}
    error = outcomes[2]
    assert isinstance(error, DomainError)
    assert (error.status, error.body()) == (409, {"error": "conflict", "detail": "no", "field": "x"})
