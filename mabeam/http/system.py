"""Health, telemetry, metrics, state digest and coordination status."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import exposition
from ..machine import digest
from ..node import Node
from .respond import json_response


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    digest_cache: dict[str, Any] = {"applied": -1, "digest": ""}

    async def health(request: web.Request) -> web.Response:
        out = {
            "status": "ok",
            "node": node.node_id,
            "mode": node.mode(),
            "uptime_s": node.uptime(),
            "applied": node.state.applied,
        }
        out.update(node.cluster_status())  # role, leader, term, commit_index, members (cluster mode)
        return json_response(out)

    async def telemetry(request: web.Request) -> web.Response:
        return json_response(node.telemetry.snapshot())

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=exposition.render(node.telemetry).encode(), headers={"Content-Type": exposition.CONTENT_TYPE}
        )

    async def state_digest(request: web.Request) -> web.Response:
        # The digest covers the whole state; recompute only when it changed.
        state = node.state
        if digest_cache["applied"] != state.applied:
            digest_cache.update(applied=state.applied, digest=digest(state))
        return json_response({"digest": digest_cache["digest"], "applied": state.applied})

    async def status(request: web.Request) -> web.Response:
        return json_response({"node": node.node_id, "mode": node.mode(), **node.cluster_status()})

    return [
        ("GET", "/health", "health", health),
        ("GET", "/telemetry", "telemetry.get", telemetry),
        ("GET", "/metrics", "metrics.get", metrics),
        ("GET", "/state/digest", "state.digest", state_digest),
        ("GET", "/coordination/status", "coordination.status", status),
    ]
