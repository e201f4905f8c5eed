"""Build the aiohttp application: routes, per-op instrumentation, the error guard.

Each route is wrapped once at start-up with its op name, so the per-request
cost of telemetry and error mapping is a perf_counter pair and a dict update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from time import perf_counter

from aiohttp import web

from ..errors import BadRequest, DomainError, NotFound
from ..node import CURRENT_REQUEST, Node
from ..replication.raftlog import ReplicatedLog
from . import agents, cluster, coordination, economics, events, raft, registry, system
from .respond import BODY_LIMIT, error_response, json_response, query_flag, too_large

log = logging.getLogger("mabeam.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, str, Handler]  # method, path, op, handler
NODE = web.AppKey("node", Node)

_ROUTE_MODULES = (system, agents, registry, events, economics, coordination, cluster, raft)
STALE_HEADER = "X-Mabeam-Stale"
#: a client's request id for a write (docs/api.md, "Request ids"); answered back on every write
REQUEST_ID_HEADER = "Idempotency-Key"
REQUEST_ID_MAX = 200
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def instrument(node: Node, op: str, handler: Handler) -> Handler:
    observe = node.telemetry.observe
    count = node.telemetry.count

    async def instrumented(request: web.Request) -> web.StreamResponse:
        started = perf_counter()
        try:
            return await handler(request)
        except DomainError as exc:
            count("errors." + exc.code)
            return error_response(exc)
        finally:
            observe(op, perf_counter() - started)

    return instrumented


def guard(node: Node) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Catch-all: aiohttp's own HTTP errors become JSON; anything else is a 500."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except DomainError as exc:
            node.telemetry.count("errors." + exc.code)
            return error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            node.telemetry.count("errors.body_too_large")
            return error_response(too_large())
        except web.HTTPException as exc:
            if exc.status == 404:
                err = NotFound("not_found", f"no route for {request.method} {request.path}")
                node.telemetry.count("errors.not_found")
                return error_response(err)
            if exc.status == 405:
                node.telemetry.count("errors.method_not_allowed")
                return json_response(
                    {"error": "method_not_allowed", "detail": f"{request.method} is not allowed on {request.path}"},
                    405,
                )
            raise
        except Exception:
            node.telemetry.count("errors.internal")
            log.exception("unexpected error in %s %s", request.method, request.path)
            return json_response({"error": "internal", "detail": "unexpected error; see the node log"}, 500)

    return middleware


def request_ids(node: Node) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every client write gets a request id: the client's ``Idempotency-Key``, else
    a fresh one. The commands the write makes carry it (``Node.command``), through
    forwarding, into the log; the state machine applies each request id once, so
    a retry with the same key is answered the first outcome instead of a second write."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in _WRITES or request.path.startswith("/raft/"):
            return await handler(request)
        given = request.headers.get(REQUEST_ID_HEADER)
        if given is None:
            request_id = node.ids.new("req")
        elif 0 < len(given) <= REQUEST_ID_MAX and given.isascii() and given.isprintable() and given.strip() == given:
            request_id = given
        else:
            raise BadRequest(
                "invalid_field",
                f"header '{REQUEST_ID_HEADER}' must be 1 to {REQUEST_ID_MAX} printable ASCII characters",
                REQUEST_ID_HEADER,
            )
        token = CURRENT_REQUEST.set([request_id, 0])
        try:
            response = await handler(request)
        finally:
            CURRENT_REQUEST.reset(token)
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return middleware


def reads(rlog: ReplicatedLog) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Cluster mode: ``?consistent=true`` waits for a ReadIndex barrier before a GET
    is served; every GET answer says whether it may be stale."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET" or request.path.startswith("/raft/"):
            return await handler(request)
        consistent = query_flag(request, "consistent")
        if consistent:
            await rlog.read_barrier()
        stale = "no" if consistent or not rlog.stale() else "maybe"
        request[STALE_HEADER] = stale  # a stream sends its headers itself, before returning
        response = await handler(request)
        if not response.prepared:
            response.headers[STALE_HEADER] = stale
        return response

    return middleware


def build_app(node: Node) -> web.Application:
    middlewares = [guard(node), request_ids(node)]
    limit = BODY_LIMIT
    if isinstance(node.log, ReplicatedLog):
        middlewares.append(reads(node.log))
        limit = raft.PEER_BODY_LIMIT  # client bodies are still capped by respond.body()
    app = web.Application(client_max_size=limit, middlewares=middlewares)
    app[NODE] = node
    for module in _ROUTE_MODULES:
        for method, path, op, handler in module.routes(node):
            app.router.add_route(method, path, instrument(node, op, handler))
    return app
