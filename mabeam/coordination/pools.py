"""Resource pools and the allocations that share them.

An allocation may use what its pool has minus what the pool's other
allocations currently hold, so allocations on one pool never overcommit it.
Every membership or demand change recomputes the allocation and publishes
``coordination.resources.reallocated``; an agent going down is such a change.
"""

from __future__ import annotations

from typing import Any

from ..agents import DOWN_TOPICS
from ..errors import Conflict, NotFound
from .strategies import allocate


class Pools:
    def __init__(self) -> None:
        self.pools: dict[str, dict[str, Any]] = {}
        self.allocations: dict[str, dict[str, Any]] = {}
        self.by_agent: dict[str, list[str]] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"pools": self.pools, "allocations": self.allocations, "by_agent": self.by_agent}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Pools:
        pools = cls()
        pools.pools, pools.allocations, pools.by_agent = data["pools"], data["allocations"], data["by_agent"]
        return pools

    def pool(self, pool_id: str, field: str | None = None) -> dict[str, Any]:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise NotFound("not_found", f"no pool '{pool_id}'", field)
        return pool

    def allocation(self, allocation_id: str) -> dict[str, Any]:
        allocation = self.allocations.get(allocation_id)
        if allocation is None:
            raise NotFound("not_found", f"no allocation '{allocation_id}'")
        return allocation

    # -- reads ---------------------------------------------------------------

    def held(self, pool: dict[str, Any], skip: str | None = None) -> dict[str, float]:
        """Totals per resource held by the pool's allocations (except ``skip``)."""
        totals: dict[str, float] = {name: 0 for name in pool["resources"]}
        for allocation_id in pool["allocations"]:
            if allocation_id == skip:
                continue
            for shares in self.allocations[allocation_id]["allocations"].values():
                for name, amount in shares.items():
                    totals[name] = totals.get(name, 0) + amount
        return totals

    def pool_view(self, pool: dict[str, Any]) -> dict[str, Any]:
        held = self.held(pool)
        return {
            "id": pool["id"],
            "resources": pool["resources"],
            "allocated": held,
            "available": {name: cap - held.get(name, 0) for name, cap in pool["resources"].items()},
            "allocations": list(pool["allocations"]),
        }

    def agent_resources(self, agent_id: str) -> dict[str, float]:
        totals: dict[str, float] = {}
        for allocation_id in self.by_agent.get(agent_id, ()):
            for name, amount in self.allocations[allocation_id]["allocations"].get(agent_id, {}).items():
                totals[name] = totals.get(name, 0) + amount
        return totals


def _member(agent: dict[str, Any]) -> dict[str, Any]:
    return {"id": agent["id"], "demand": dict(agent["demand"]), "priority": agent.get("priority", 0)}


def _recompute(pools: Pools, allocation: dict[str, Any]) -> None:
    pool = pools.pools[allocation["pool_id"]]
    held_elsewhere = pools.held(pool, skip=allocation["id"])
    members = allocation["agents"]
    names: dict[str, None] = {}
    for member in members:
        names.update(dict.fromkeys(member["demand"]))
    shares: dict[str, dict[str, float]] = {m["id"]: {} for m in members}
    priorities = [m["priority"] for m in members]
    for name in names:
        capacity = pool["resources"].get(name, 0) - held_elsewhere.get(name, 0)
        demands = [m["demand"].get(name, 0) for m in members]
        for member, share in zip(members, allocate(allocation["strategy"], capacity, demands, priorities), strict=True):
            if name in member["demand"]:
                shares[member["id"]][name] = share
    allocation["allocations"] = shares


def _reallocated(state: Any, allocation: dict[str, Any], reason: str, t: float, node: str) -> dict[str, Any]:
    pools: Pools = state.pools
    _recompute(pools, allocation)
    allocation["reallocations"] += 1
    allocation["updated_at"] = t
    state.events.append(
        "coordination.resources.reallocated",
        {"allocation_id": allocation["id"], "reason": reason, "allocations": allocation["allocations"]},
        t,
        node,
    )
    return allocation


def _unlink(pools: Pools, agent_id: str, allocation_id: str) -> None:
    ids = pools.by_agent[agent_id]
    ids.remove(allocation_id)
    if not ids:
        del pools.by_agent[agent_id]


def create_pool(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    pools: Pools = state.pools
    if cmd["id"] in pools.pools:
        raise Conflict("already_exists", f"pool '{cmd['id']}' already exists", "id")
    pool = {"id": cmd["id"], "resources": dict(cmd["resources"]), "allocations": [], "created_at": cmd["time"]}
    pools.pools[pool["id"]] = pool
    return pools.pool_view(pool)


def create_allocation(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    pools: Pools = state.pools
    pool = pools.pool(cmd["pool_id"], "pool_id")
    if cmd["id"] in pools.allocations:
        raise Conflict("already_exists", f"allocation '{cmd['id']}' already exists", "id")
    allocation = {
        "id": cmd["id"],
        "pool_id": pool["id"],
        "strategy": cmd["strategy"],
        "agents": [_member(a) for a in cmd["agents"]],
        "allocations": {},
        "reallocations": 0,
        "created_at": cmd["time"],
        "updated_at": cmd["time"],
    }
    pools.allocations[allocation["id"]] = allocation
    pool["allocations"].append(allocation["id"])
    for member in allocation["agents"]:
        pools.by_agent.setdefault(member["id"], []).append(allocation["id"])
    _recompute(pools, allocation)
    state.events.append(
        "coordination.resources.allocated",
        {"allocation_id": allocation["id"], "pool_id": pool["id"], "allocations": allocation["allocations"]},
        cmd["time"],
        cmd["node"],
    )
    return allocation


def _find(allocation: dict[str, Any], agent_id: str) -> dict[str, Any]:
    for member in allocation["agents"]:
        if member["id"] == agent_id:
            return member
    raise NotFound("unknown_agent", f"agent '{agent_id}' is not in allocation '{allocation['id']}'", "agent_id")


def join(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    pools: Pools = state.pools
    allocation = pools.allocation(cmd["id"])
    member = _member(cmd["agent"])
    if any(m["id"] == member["id"] for m in allocation["agents"]):
        raise Conflict("already_exists", f"agent '{member['id']}' is already in allocation '{allocation['id']}'", "id")
    allocation["agents"].append(member)
    pools.by_agent.setdefault(member["id"], []).append(allocation["id"])
    return _reallocated(state, allocation, "join", cmd["time"], cmd["node"])


def change_demand(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    allocation = state.pools.allocation(cmd["id"])
    member = _find(allocation, cmd["agent_id"])
    member["demand"] = dict(cmd["demand"])
    if cmd.get("priority") is not None:
        member["priority"] = cmd["priority"]
    return _reallocated(state, allocation, "demand_change", cmd["time"], cmd["node"])


def _drop(state: Any, allocation: dict[str, Any], agent_id: str, reason: str, t: float, node: str) -> dict[str, Any]:
    member = _find(allocation, agent_id)
    allocation["agents"].remove(member)
    _unlink(state.pools, agent_id, allocation["id"])
    return _reallocated(state, allocation, reason, t, node)


def leave(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    allocation = state.pools.allocation(cmd["id"])
    return _drop(state, allocation, cmd["agent_id"], "leave", cmd["time"], cmd["node"])


def _agent_down(state: Any, event: dict[str, Any]) -> None:
    agent_id = event["data"]["agent_id"]
    for allocation_id in list(state.pools.by_agent.get(agent_id, ())):
        _drop(state, state.pools.allocations[allocation_id], agent_id, "agent_down", event["time"], event["node"])


OPS = {
    "pool.create": create_pool,
    "allocation.create": create_allocation,
    "allocation.join": join,
    "allocation.demand": change_demand,
    "allocation.leave": leave,
}
REACTIONS = {topic: _agent_down for topic in DOWN_TOPICS}
