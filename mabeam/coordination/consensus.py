"""Consensus ballots: start, vote, expire.

The decision is recomputed after every vote from the votes themselves, so it
never depends on anything but the log; expiry is a command sent by the
runtime when ``expires_at`` has passed.
"""

from __future__ import annotations

from typing import Any

from ..errors import Conflict, NotFound
from . import voting

OPEN = "open"


class Ballots:
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.open: dict[str, None] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"by_id": self.by_id, "open": list(self.open)}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Ballots:
        ballots = cls()
        ballots.by_id = data["by_id"]
        ballots.open = dict.fromkeys(data["open"])
        return ballots

    def get(self, ballot_id: str) -> dict[str, Any]:
        ballot = self.by_id.get(ballot_id)
        if ballot is None:
            raise NotFound("not_found", f"no consensus '{ballot_id}'")
        return ballot


def view(ballot: dict[str, Any]) -> dict[str, Any]:
    out = dict(ballot)
    out["votes"] = dict(ballot["votes"])
    out["tally"] = voting.tally(ballot)
    return out


def _finish(state: Any, ballot: dict[str, Any], result: str, t: float, node: str) -> None:
    ballot["status"] = result
    ballot["decided_at"] = t
    state.consensus.open.pop(ballot["id"], None)
    state.events.append("coordination.consensus.completed", {"consensus_id": ballot["id"], "result": result}, t, node)


def start(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    ballots: Ballots = state.consensus
    if cmd["id"] in ballots.by_id:
        raise Conflict("already_exists", f"consensus '{cmd['id']}' already exists", "id")
    ballot = {
        "id": cmd["id"],
        "proposal": cmd.get("proposal"),
        "rule": cmd["rule"],
        "voters": list(cmd["voters"]),
        "weights": cmd.get("weights"),
        "threshold": cmd.get("threshold", 0.5),
        "status": OPEN,
        "votes": {},
        "created_at": cmd["time"],
        "expires_at": cmd["time"] + cmd["timeout_s"],
        "decided_at": None,
    }
    ballots.by_id[ballot["id"]] = ballot
    ballots.open[ballot["id"]] = None
    state.events.append(
        "coordination.consensus.started",
        {
            "consensus_id": ballot["id"],
            "rule": ballot["rule"],
            "voters": list(ballot["voters"]),
            "expires_at": ballot["expires_at"],
        },
        cmd["time"],
        cmd["node"],
    )
    return view(ballot)


def vote(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    ballot = state.consensus.get(cmd["id"])
    agent = cmd["agent_id"]
    if ballot["status"] != OPEN:
        raise Conflict("closed", f"consensus '{ballot['id']}' is {ballot['status']}")
    if agent not in ballot["voters"]:
        raise NotFound("unknown_agent", f"'{agent}' is not a voter of consensus '{ballot['id']}'", "agent_id")
    if agent in ballot["votes"]:
        raise Conflict("already_voted", f"'{agent}' already voted {ballot['votes'][agent]}", "agent_id")
    ballot["votes"][agent] = cmd["vote"]
    result = voting.verdict(ballot["rule"], ballot["threshold"], voting.tally(ballot), len(ballot["voters"]))
    if result != OPEN:
        _finish(state, ballot, result, cmd["time"], cmd["node"])
    return view(ballot)


def expire(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    expired = []
    for ballot_id in cmd["ids"]:
        ballot = state.consensus.by_id.get(ballot_id)
        if ballot is not None and ballot["status"] == OPEN and cmd["time"] >= ballot["expires_at"]:
            _finish(state, ballot, "expired", cmd["time"], cmd["node"])
            expired.append(ballot_id)
    return {"expired": expired}


OPS = {"consensus.start": start, "consensus.vote": vote, "consensus.expire": expire}
