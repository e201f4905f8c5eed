"""Agent groups working on a task, with failure detection and replacement.

The group itself never looks at a clock: the runtime's group watcher notices a
member that went down (``coordination.agent_failed``) and paces work rounds
(``coordination.round``). A bid task completes by reacting to the decisions of
its members' bids, inside the apply that decides them.
"""

from __future__ import annotations

from typing import Any

from ..economics import auctions
from ..errors import Conflict, NotFound

RUNNING, RECOVERING, COMPLETED, FAILED = "running", "recovering", "completed", "failed"
LIVE = (RUNNING, RECOVERING)
TASKS = ("bid", "work")
_INTERNAL = ("next_round_at",)


class Groups:
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.live: dict[str, None] = {}
        self.bid_owner: dict[str, str] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"by_id": self.by_id, "live": list(self.live), "bid_owner": self.bid_owner}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Groups:
        groups = cls()
        groups.by_id, groups.bid_owner = data["by_id"], data["bid_owner"]
        groups.live = dict.fromkeys(data["live"])
        return groups

    def get(self, group_id: str) -> dict[str, Any]:
        group = self.by_id.get(group_id)
        if group is None:
            raise NotFound("not_found", f"no coordination '{group_id}'")
        return group


def view(group: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in group.items() if k not in _INTERNAL}
    for key in ("agents", "active_agents", "failed_agents", "replacements"):
        out[key] = list(group[key])
    out["results"] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in group["results"].items()}
    return out


def _emit(state: Any, group: dict[str, Any], what: str, t: float, node: str, **data: Any) -> None:
    state.events.append(f"coordination.group.{what}", {"coordination_id": group["id"], **data}, t, node)


def _end(state: Any, group: dict[str, Any], status: str, t: float, node: str) -> None:
    group["status"] = status
    group["completed_at"] = t
    state.groups.live.pop(group["id"], None)
    results = view(group)["results"]
    _emit(state, group, status, t, node, rounds_done=group["rounds_done"], results=results)


def start(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    groups: Groups = state.groups
    t, node, task = cmd["time"], cmd["node"], cmd["task"]
    if cmd["id"] in groups.by_id:
        raise Conflict("already_exists", f"coordination '{cmd['id']}' already exists", "id")
    for agent_id in cmd["agents"]:
        state.agents.require_running(agent_id, "agents")
    auction = None
    if task["type"] == "bid":
        auction = state.auctions.get(task["auction_id"], "task.auction_id")
        auctions.check_open(auction, t)
        for agent_id in cmd["agents"]:
            auctions.check_items(auction, (task.get("items") or {}).get(agent_id), f"task.items.{agent_id}")
            if cmd["bid_ids"][agent_id] in state.auctions.bids:
                raise Conflict("already_exists", f"bid '{cmd['bid_ids'][agent_id]}' already exists", "bid_ids")
    group = {
        "id": cmd["id"],
        "status": RUNNING,
        "task": task,
        "target_size": len(cmd["agents"]),
        "agents": list(cmd["agents"]),
        "active_agents": list(cmd["agents"]),
        "failed_agents": [],
        "recovery_initiated": False,
        "replacements": [],
        "results": {},
        "rounds_done": 0,
        "heartbeat_timeout_ms": cmd["heartbeat_timeout_ms"],
        "created_at": t,
        "completed_at": None,
        "next_round_at": t + task["round_ms"] / 1000 if task["type"] == "work" else None,
    }
    groups.by_id[group["id"]] = group
    groups.live[group["id"]] = None
    _emit(state, group, "started", t, node, agents=list(group["agents"]), task_type=task["type"])
    if auction is not None:
        for agent_id in cmd["agents"]:
            bid_id = cmd["bid_ids"][agent_id]
            items = (task.get("items") or {}).get(agent_id)
            auctions.place(state, auction, bid_id, agent_id, task["amounts"][agent_id], items, t, group["id"])
            groups.bid_owner[bid_id] = group["id"]
            group["results"][agent_id] = {"bid_id": bid_id, "status": "pending"}
    return view(group)


def agent_failed(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    group = state.groups.get(cmd["id"])
    agent_id, t, node = cmd["agent_id"], cmd["time"], cmd["node"]
    if group["status"] not in LIVE or agent_id not in group["active_agents"] or state.agents.is_running(agent_id):
        return view(group)  # already handled, or a stale observation
    group["active_agents"].remove(agent_id)
    group["failed_agents"].append(agent_id)
    _emit(state, group, "agent_failed", t, node, agent_id=agent_id)
    if not group["active_agents"]:
        _end(state, group, FAILED, t, node)
    elif group["status"] == RUNNING:
        group["status"] = RECOVERING
        group["recovery_initiated"] = True
        _emit(state, group, "recovery_initiated", t, node, failed_agents=list(group["failed_agents"]))
    return view(group)


def replace(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    group = state.groups.get(cmd["id"])
    agent_id, t, node = cmd["agent_id"], cmd["time"], cmd["node"]
    if group["status"] not in LIVE:
        raise Conflict("closed", f"coordination '{group['id']}' is {group['status']}")
    state.agents.require_running(agent_id, "agent_id")
    if agent_id in group["active_agents"]:
        raise Conflict("already_member", f"agent '{agent_id}' is already active in '{group['id']}'", "agent_id")
    if len(group["active_agents"]) >= group["target_size"]:
        raise Conflict("group_full", f"coordination '{group['id']}' is at full strength", "agent_id")
    group["active_agents"].append(agent_id)
    if agent_id not in group["agents"]:
        group["agents"].append(agent_id)
    group["replacements"].append(agent_id)
    _emit(state, group, "agent_replaced", t, node, agent_id=agent_id)
    if group["status"] == RECOVERING and len(group["active_agents"]) >= group["target_size"]:
        group["status"] = RUNNING
    return view(group)


def work_round(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    """One tick of a work task; it counts only while the group is at full strength."""
    group = state.groups.get(cmd["id"])
    task = group["task"]
    if task["type"] != "work" or group["status"] not in LIVE:
        return view(group)
    group["next_round_at"] = cmd["time"] + task["round_ms"] / 1000
    if group["status"] == RUNNING and len(group["active_agents"]) == group["target_size"]:
        group["rounds_done"] += 1
        for agent_id in group["active_agents"]:
            group["results"][agent_id] = group["results"].get(agent_id, 0) + 1
        if group["rounds_done"] >= task["rounds"]:
            _end(state, group, COMPLETED, cmd["time"], cmd["node"])
    return view(group)


def _bid_decided(state: Any, event: dict[str, Any]) -> None:
    groups: Groups = state.groups
    group_id = groups.bid_owner.pop(event["data"]["bid_id"], None)
    if group_id is None:
        return
    group = groups.by_id[group_id]
    result = group["results"][event["data"]["bidder"]]
    result["status"] = "accepted" if event["topic"].endswith("accepted") else "rejected"
    if "reason" in event["data"]:
        result["reason"] = event["data"]["reason"]
    if group["status"] in LIVE and all(r["status"] != "pending" for r in group["results"].values()):
        _end(state, group, COMPLETED, event["time"], event["node"])


OPS = {
    "coordination.start": start,
    "coordination.agent_failed": agent_failed,
    "coordination.replace": replace,
    "coordination.round": work_round,
}
REACTIONS = {
    "economics.auction.bid_accepted": _bid_decided,
    "economics.auction.bid_rejected": _bid_decided,
}
