"""Events: publish, long-poll query, and the Server-Sent Events stream.

Readers hold a cursor (the last event id they saw) and are woken by the
node's News whenever an apply appended events, so a waiting reader costs
nothing until something happens.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from ..errors import invalid
from ..node import Node
from ..patterns import compile_pattern, validate_topic
from .respond import body, json_response, query_float, query_int

MAX_LIMIT = 1000
MAX_WAIT_S = 30.0
KEEPALIVE_S = 15.0
STREAM_BATCH = 500
MAX_CURSOR = 2**53  # ids stay exact in every JSON client


def _cursor(request: web.Request) -> int:
    header = request.headers.get("Last-Event-ID")
    if header:
        try:
            value = int(header)
        except ValueError:
            value = -1
        if not 0 <= value <= MAX_CURSOR:
            raise invalid("Last-Event-ID", f"an integer event id >= 0 and <= {MAX_CURSOR}")
        return value
    return query_int(request, "after", 0, 0, MAX_CURSOR)


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        b"id: %d\nevent: %s\ndata: %s\n\n" % (e["id"], e["topic"].encode(), orjson.dumps(e)) for e in events
    )


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    async def publish(request: web.Request) -> web.Response:
        fields = await body(request)
        topic = validate_topic(fields.raw("topic"))
        return json_response(await node.submit("events.publish", topic=topic, data=fields.raw("data", None)), 201)

    async def query(request: web.Request) -> web.Response:
        matcher = compile_pattern(request.query.get("pattern", "**"))
        cursor = query_int(request, "after", 0, 0, MAX_CURSOR)
        limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
        wait = query_float(request, "wait", 0.0, 0.0, MAX_WAIT_S)
        deadline = time.monotonic() + wait
        while True:
            found, cursor = node.state.events.query(cursor, matcher, limit)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or node.news.closed:
                return json_response({"events": found, "cursor": cursor})
            await node.news.wait(remaining)

    async def stream(request: web.Request) -> web.StreamResponse:
        matcher = compile_pattern(request.query.get("pattern", "**"))
        cursor = _cursor(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        if "X-Mabeam-Stale" in request:  # cluster mode: set by the reads middleware
            response.headers["X-Mabeam-Stale"] = request["X-Mabeam-Stale"]
        await response.prepare(request)
        node.sse_clients += 1
        try:
            await response.write(b": connected\n\n")
            while not node.news.closed:
                found, cursor = node.state.events.query(cursor, matcher, STREAM_BATCH)
                if found:
                    await response.write(_sse(found))
                    continue
                if not await node.news.wait(KEEPALIVE_S):
                    await response.write(b": keepalive\n\n")
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away
        finally:
            node.sse_clients -= 1
        return response

    return [
        ("POST", "/events", "events.publish", publish),
        ("GET", "/events", "events.query", query),
        ("GET", "/events/stream", "events.stream", stream),
    ]
