"""Pools and allocations: sharing a pool, reallocation on every change."""

from __future__ import annotations

import pytest

from mabeam.errors import Conflict, NotFound


def _setup(run, strategy="fair_share"):
    run("pool.create", id="p", resources={"cpu": 100, "mem": 10})
    members = [
        {"id": "a", "demand": {"cpu": 80}, "priority": 0},
        {"id": "b", "demand": {"cpu": 80, "mem": 4}, "priority": 1},
    ]
    return run("allocation.create", id="al", pool_id="p", strategy=strategy, agents=members)


def test_create_allocates_per_strategy(run):
    allocation = _setup(run)
    assert allocation["allocations"] == {"a": {"cpu": 50}, "b": {"cpu": 50, "mem": 4}}
    pool = run.state.pools.pool_view(run.state.pools.pools["p"])
    assert pool["allocated"] == {"cpu": 100, "mem": 4} and pool["available"] == {"cpu": 0, "mem": 6}


def test_join_leave_demand_each_reallocate_with_an_event(run):
    _setup(run)
    run("allocation.join", id="al", agent={"id": "c", "demand": {"cpu": 10}, "priority": 0})
    assert run.state.pools.allocations["al"]["allocations"]["c"] == {"cpu": 10}
    run("allocation.demand", id="al", agent_id="a", demand={"cpu": 5}, priority=None)
    assert run.state.pools.allocations["al"]["allocations"]["b"] == {"cpu": 80, "mem": 4}
    run("allocation.leave", id="al", agent_id="c")
    allocation = run.state.pools.allocations["al"]
    assert set(allocation["allocations"]) == {"a", "b"} and allocation["reallocations"] == 3
    reasons = [
        e["data"]["reason"] for e in run.state.events.events if e["topic"] == "coordination.resources.reallocated"
    ]
    assert reasons == ["join", "demand_change", "leave"]


def test_agent_down_reallocates_without_it(run):
    run.agent("a")
    _setup(run)
    run("agent.crash", id="a")
    allocation = run.state.pools.allocations["al"]
    assert [m["id"] for m in allocation["agents"]] == ["b"]
    assert allocation["allocations"] == {"b": {"cpu": 80, "mem": 4}}
    last = run.state.events.events[-1]
    assert last["topic"] == "coordination.resources.reallocated" and last["data"]["reason"] == "agent_down"
    assert run.state.pools.agent_resources("a") == {}


def test_two_allocations_never_overcommit_a_pool(run):
    _setup(run, "priority")
    run(
        "allocation.create",
        id="al2",
        pool_id="p",
        strategy="fair_share",
        agents=[{"id": "z", "demand": {"cpu": 50}, "priority": 0}],
    )
    assert run.state.pools.allocations["al2"]["allocations"] == {"z": {"cpu": 0}}
    run("allocation.leave", id="al", agent_id="b")  # al now holds only a's 80
    run("allocation.demand", id="al2", agent_id="z", demand={"cpu": 50}, priority=None)
    assert run.state.pools.allocations["al2"]["allocations"] == {"z": {"cpu": 20}}
    assert run.state.pools.agent_resources("a") == {"cpu": 80}


def test_errors(run):
    with pytest.raises(NotFound) as info:
        run("allocation.create", id="x", pool_id="nope", strategy="fair_share", agents=[])
    assert info.value.field == "pool_id"
    _setup(run)
    with pytest.raises(Conflict):
        run("allocation.join", id="al", agent={"id": "a", "demand": {"cpu": 1}})
    with pytest.raises(NotFound) as info:
        run("allocation.leave", id="al", agent_id="ghost")
    assert info.value.code == "unknown_agent"
    with pytest.raises(Conflict):
        run("pool.create", id="p", resources={"cpu": 1})
