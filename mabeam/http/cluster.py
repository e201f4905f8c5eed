"""``GET /cluster/members``: who the members are, as this node sees them (cluster mode only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..node import Node
from ..replication.raftlog import ReplicatedLog
from .respond import json_response


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    rlog = node.log
    if not isinstance(rlog, ReplicatedLog):
        return []

    async def members(request: web.Request) -> web.Response:
        raft = rlog.raft
        return json_response({"members": list(raft.voters), "leader": raft.leader_id, "term": raft.term})

    return [("GET", "/cluster/members", "cluster.members", members)]
