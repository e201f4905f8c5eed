"""Agents hosted on nodes: the things that register, bid, vote and fail.

Stopping or crashing an agent only records the fact and publishes
``coordination.agent.stopped|crashed``; the registry and the allocations react
to that event inside the same apply, and agent groups notice it through their
failure detector, so each domain keeps its own rules.
"""

from __future__ import annotations

from typing import Any

from .errors import Conflict, NotFound

RUNNING = "running"
DOWN_TOPICS = ("coordination.agent.stopped", "coordination.agent.crashed")


class Agents:
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}

    def snapshot(self) -> dict[str, Any]:
        return self.by_id

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Agents:
        agents = cls()
        agents.by_id = data
        return agents

    def get(self, agent_id: str, field: str | None = None) -> dict[str, Any]:
        agent = self.by_id.get(agent_id)
        if agent is None:
            if field is None:
                raise NotFound("not_found", f"no agent '{agent_id}'")
            raise NotFound("unknown_agent", f"no agent '{agent_id}'", field)
        return agent

    def is_running(self, agent_id: str) -> bool:
        agent = self.by_id.get(agent_id)
        return agent is not None and agent["status"] == RUNNING

    def require_running(self, agent_id: str, field: str) -> dict[str, Any]:
        agent = self.get(agent_id, field)
        if agent["status"] != RUNNING:
            raise Conflict("agent_not_running", f"agent '{agent_id}' is {agent['status']}", field)
        return agent

    def running_count(self) -> int:
        return sum(1 for a in self.by_id.values() if a["status"] == RUNNING)


def start(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    agent_id = cmd["id"]
    if agent_id in state.agents.by_id:
        raise Conflict("already_exists", f"agent '{agent_id}' already exists", "id")
    agent = {
        "id": agent_id,
        "node": cmd["node"],
        "kind": cmd.get("kind", "generic"),
        "meta": cmd.get("meta") or {},
        "status": RUNNING,
        "started_at": cmd["time"],
    }
    state.agents.by_id[agent_id] = agent
    data = {"agent_id": agent_id, "node": cmd["node"]}
    state.events.append("coordination.agent.started", data, cmd["time"], cmd["node"])
    return dict(agent)


def _take_down(state: Any, cmd: dict[str, Any], status: str) -> dict[str, Any]:
    agent = state.agents.get(cmd["id"])
    if agent["status"] != RUNNING:
        raise Conflict("not_running", f"agent '{agent['id']}' is already {agent['status']}")
    agent["status"] = status
    agent["stopped_at"] = cmd["time"]
    data = {"agent_id": agent["id"], "node": agent["node"]}
    state.events.append(f"coordination.agent.{status}", data, cmd["time"], cmd["node"])
    return dict(agent)


def stop(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    return _take_down(state, cmd, "stopped")


def crash(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    return _take_down(state, cmd, "crashed")


OPS = {"agent.start": start, "agent.stop": stop, "agent.crash": crash}
