"""Agent groups: bid tasks, work rounds, failure detection, replacement."""

from __future__ import annotations

import pytest

from mabeam.errors import BadRequest, Conflict, NotFound


def _agents(run, n, prefix="a"):
    ids = [f"{prefix}{i}" for i in range(n)]
    for agent_id in ids:
        run.agent(agent_id)
    return ids


def _work(run, agents, rounds=3, round_ms=100):
    return run(
        "coordination.start",
        id="g",
        agents=agents,
        task={"type": "work", "rounds": rounds, "round_ms": round_ms},
        heartbeat_timeout_ms=500,
    )


def test_bid_task_completes_when_every_bid_is_decided(run):
    agents = _agents(run, 3)
    run.auction("e", type="english", min_increment=1)
    amounts = {"a0": 10, "a1": 20, "a2": 15}
    group = run(
        "coordination.start",
        id="g",
        agents=agents,
        task={"type": "bid", "auction_id": "e", "amounts": amounts},
        heartbeat_timeout_ms=500,
        bid_ids={a: f"bid-{a}" for a in agents},
    )
    assert group["status"] == "running" and group["results"]["a0"] == {"bid_id": "bid-a0", "status": "pending"}
    run("auction.decide_bids", bid_ids=list(run.state.auctions.pending))
    group = run.state.groups.by_id["g"]
    assert group["status"] == "completed"
    assert [group["results"][a]["status"] for a in agents] == ["accepted", "accepted", "rejected"]
    assert run.topics("coordination.group.")[-1] == "coordination.group.completed"


def test_bid_task_needs_an_open_auction(run):
    agents = _agents(run, 1)
    with pytest.raises(NotFound) as info:
        run(
            "coordination.start",
            id="g",
            agents=agents,
            task={"type": "bid", "auction_id": "nope", "amounts": {"a0": 1}},
            heartbeat_timeout_ms=500,
            bid_ids={"a0": "b"},
        )
    assert info.value.field == "task.auction_id"
    assert "g" not in run.state.groups.by_id


def test_members_must_be_running_agents(run):
    _agents(run, 1)
    run("agent.stop", id="a0")
    with pytest.raises(Conflict) as info:
        _work(run, ["a0"])
    assert info.value.code == "agent_not_running"
    with pytest.raises(NotFound) as info:
        _work(run, ["ghost"])
    assert info.value.code == "unknown_agent"


def test_work_rounds_count_only_at_full_strength(run):
    agents = _agents(run, 3)
    _work(run, agents, rounds=2)
    run.advance(0.1)
    run("coordination.round", id="g")
    assert run.state.groups.by_id["g"]["rounds_done"] == 1
    run("agent.crash", id="a1")
    run("coordination.agent_failed", id="g", agent_id="a1")
    group = run.state.groups.by_id["g"]
    assert group["status"] == "recovering" and group["recovery_initiated"] and group["failed_agents"] == ["a1"]
    run("coordination.round", id="g")
    assert run.state.groups.by_id["g"]["rounds_done"] == 1  # short-handed: does not count
    run.agent("r1")
    group = run("coordination.replace", id="g", agent_id="r1")
    assert group["status"] == "running" and group["active_agents"] == ["a0", "a2", "r1"]
    assert group["replacements"] == ["r1"]
    run("coordination.round", id="g")
    group = run.state.groups.by_id["g"]
    assert group["status"] == "completed" and group["rounds_done"] == 2
    assert group["results"] == {"a0": 2, "a1": 1, "a2": 2, "r1": 1}
    assert run.topics("coordination.group.") == [
        "coordination.group.started",
        "coordination.group.agent_failed",
        "coordination.group.recovery_initiated",
        "coordination.group.agent_replaced",
        "coordination.group.completed",
    ]


def test_failure_report_for_a_running_agent_is_ignored(run):
    agents = _agents(run, 2)
    _work(run, agents)
    run("coordination.agent_failed", id="g", agent_id="a0")
    assert run.state.groups.by_id["g"]["status"] == "running"


def test_group_fails_when_nobody_is_left(run):
    agents = _agents(run, 1)
    _work(run, agents)
    run("agent.crash", id="a0")
    run("coordination.agent_failed", id="g", agent_id="a0")
    assert run.state.groups.by_id["g"]["status"] == "failed"
    assert "g" not in run.state.groups.live


def test_replace_errors(run):
    agents = _agents(run, 2)
    _work(run, agents)
    run.agent("spare")
    with pytest.raises(Conflict) as info:
        run("coordination.replace", id="g", agent_id="spare")
    assert info.value.code == "group_full"
    with pytest.raises(Conflict) as info:
        run("coordination.replace", id="g", agent_id="a0")
    assert info.value.code == "already_member"
    with pytest.raises(NotFound):
        run("coordination.replace", id="g", agent_id="ghost")


def test_bid_task_on_a_combinatorial_auction_needs_bundles(run):
    agents = _agents(run, 2)
    run.auction("c", type="combinatorial", items=["x", "y"])
    task = {"type": "bid", "auction_id": "c", "amounts": {"a0": 5, "a1": 6}, "items": {"a0": ["x"]}}
    with pytest.raises(BadRequest) as info:
        run(
            "coordination.start",
            id="g",
            agents=agents,
            task=task,
            heartbeat_timeout_ms=500,
            bid_ids={"a0": "b0", "a1": "b1"},
        )
    assert info.value.field == "task.items.a1"
    task["items"]["a1"] = ["x", "y"]
    run(
        "coordination.start",
        id="g",
        agents=agents,
        task=task,
        heartbeat_timeout_ms=500,
        bid_ids={"a0": "b0", "a1": "b1"},
    )
    run("auction.decide_bids", bid_ids=["b0", "b1"])
    assert run("auction.close", auction_id="c")["winners"][0]["bidder"] == "a1"  # 6 for both beats 5 for x
