"""The name registry: register, lookup, list, unregister."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..node import Node
from .respond import body, json_response


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    async def register(request: web.Request) -> web.Response:
        fields = await body(request)
        result = await node.submit(
            "registry.register", name=fields.text("name"), ref=fields.text("ref"), meta=fields.mapping("meta", {})
        )
        return json_response(result, 201)

    async def lookup(request: web.Request) -> web.Response:
        return json_response(node.state.registry.lookup(request.match_info["name"]))

    async def listing(request: web.Request) -> web.Response:
        return json_response({"entries": list(node.state.registry.entries.values())})

    async def unregister(request: web.Request) -> web.Response:
        return json_response(await node.submit("registry.unregister", name=request.match_info["name"]))

    return [
        ("POST", "/registry", "registry.register", register),
        ("GET", "/registry", "registry.list", listing),
        ("GET", "/registry/{name}", "registry.lookup", lookup),
        ("DELETE", "/registry/{name}", "registry.unregister", unregister),
    ]
