"""Agents hosted on the node: start, list, stop, crash, resources."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import NotFound
from ..node import Node
from .respond import body, json_response


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    state = lambda: node.state  # noqa: E731

    async def start(request: web.Request) -> web.Response:
        fields = await body(request, optional=True)
        agent_id = fields.text("id", None) or node.ids.new("agent")
        result = await node.submit(
            "agent.start", id=agent_id, kind=fields.text("kind", "generic"), meta=fields.mapping("meta", {})
        )
        return json_response(result, 201)

    async def listing(request: web.Request) -> web.Response:
        return json_response({"agents": list(state().agents.by_id.values())})

    async def get(request: web.Request) -> web.Response:
        return json_response(state().agents.get(request.match_info["id"]))

    async def stop(request: web.Request) -> web.Response:
        return json_response(await node.submit("agent.stop", id=request.match_info["id"]))

    async def crash(request: web.Request) -> web.Response:
        return json_response(await node.submit("agent.crash", id=request.match_info["id"]))

    async def resources(request: web.Request) -> web.Response:
        agent_id = request.match_info["id"]
        s = state()
        if agent_id not in s.agents.by_id and agent_id not in s.pools.by_agent:
            raise NotFound("not_found", f"no agent '{agent_id}'")
        return json_response({"agent_id": agent_id, "allocated_resources": s.pools.agent_resources(agent_id)})

    return [
        ("POST", "/agents", "agent.start", start),
        ("GET", "/agents", "agent.list", listing),
        ("GET", "/agents/{id}", "agent.get", get),
        ("DELETE", "/agents/{id}", "agent.stop", stop),
        ("POST", "/agents/{id}/crash", "agent.crash", crash),
        ("GET", "/agents/{id}/resources", "agent.resources", resources),
    ]
