"""Node-to-node endpoints (``/raft/...``), only in cluster mode.

Every request must carry the HMAC of the cluster secret, a time and a fresh
nonce (``replication.auth``); without them, or replayed, the answer is 401
``unauthorized`` before the body is even parsed.

* ``POST /raft/message`` ``{"messages": [...]}``: Raft messages for this node;
  answered 200 ``{"messages": [...]}`` with the messages their handling
  produced for the sender (e.g. AppendResponses), or 204 if there are none.
* ``POST /raft/propose`` ``{"command": {...}}``: a write forwarded by a
  follower; answered with the apply result and the entry's index
  (``{"result": ..., "index": i}``) or the error.
  ``{"commands": [...]}``: several (a follower forwards together the writes
  that arrived while its previous forward was on its way); answered ``{"answers": [...]}``, one per command in
  order, each ``{"result": ..., "index": i}`` or ``{"status": code, "error": body, "index"?: i}`` (``index``
  when apply itself refused the command at that index). The follower answers its client only once it
  has applied ``index`` too.
* ``POST /raft/read_index``: the leader's confirmed read point ``{"index"}``.
* ``POST /raft/hello`` ``{"node", "fresh": incarnation|null}``: a peer without quorum says it is
  there (reachability, and a request to be re-added if it is not a member).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web

from ..errors import BadRequest, DomainError, invalid, missing
from ..node import Node
from ..replication.raftlog import Applied, ReplicatedLog
from .respond import BODY_LIMIT, json_response

# Snapshots travel inside messages, so peers may send more than a client may.
PEER_BODY_LIMIT = 64 * BODY_LIMIT


log = logging.getLogger("mabeam.http.raft")


class Unauthorized(DomainError):
    status = 401


async def _refuse(error: DomainError) -> Any:
    raise error


async def _authentic(request: web.Request, rlog: ReplicatedLog) -> dict[str, Any]:
    raw = await request.read()
    refused = rlog.verifier.check(request.method, request.path, raw, request.headers)
    if refused is not None:
        raise Unauthorized("unauthorized", refused)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_json", "the body must be a JSON object")
    return data


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    rlog = node.log
    if not isinstance(rlog, ReplicatedLog):
        return []

    async def message(request: web.Request) -> web.Response:
        data = await _authentic(request, rlog)
        messages = data.get("messages")
        if messages is None:
            raise missing("messages")
        if not isinstance(messages, list):
            raise invalid("messages", "a list of Raft messages")
        try:
            replies = rlog.receive(messages)
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("invalid_field", f"field 'messages' holds a bad message: {exc}", "messages") from None
        if not replies:
            return web.Response(status=204)
        # The sender's messages travel back in the answer (already persisted before, like any send).
        return web.Response(body=orjson.dumps({"messages": replies}), content_type="application/json")

    async def propose(request: web.Request) -> web.Response:
        data = await _authentic(request, rlog)
        commands = data.get("commands")
        if commands is not None:
            return await propose_many(commands)
        command = data.get("command")
        if command is None:
            raise missing("command")
        if not isinstance(command, dict) or not isinstance(command.get("op"), str):
            raise invalid("command", "a command object with an 'op'")
        applied = await rlog.propose(command)
        return json_response({"result": applied.unwrap(), "index": applied.index})

    async def propose_many(commands: Any) -> web.Response:
        """Several forwarded writes: each is proposed (they share a group commit) and
        answered on its own, ``{"result": ...}`` or ``{"status", "error": body}``
        exactly as a single forwarded write would have been answered."""
        if not isinstance(commands, list) or not commands:
            raise invalid("commands", "a non-empty list of command objects")
        runs: list[Any] = []
        for command in commands:
            if not isinstance(command, dict) or not isinstance(command.get("op"), str):
                runs.append(_refuse(invalid("command", "a command object with an 'op'")))
            else:
                runs.append(rlog.propose(command))
        outcomes = await asyncio.gather(*runs, return_exceptions=True)
        answers: list[dict[str, Any]] = []
        for outcome in outcomes:
            if isinstance(outcome, Applied):
                if outcome.error is None:
                    answers.append({"result": outcome.result, "index": outcome.index})
                    continue
                error = outcome.error
                node.telemetry.count("errors." + error.code)
                answers.append({"status": error.status, "error": error.body(), "index": outcome.index})
            elif isinstance(outcome, DomainError):
                node.telemetry.count("errors." + outcome.code)
                answers.append({"status": outcome.status, "error": outcome.body()})
            elif isinstance(outcome, asyncio.CancelledError):
                raise outcome
            elif isinstance(outcome, BaseException):
                node.telemetry.count("errors.internal")
                log.error("forwarded write failed", exc_info=outcome)
                answers.append(
                    {"status": 500, "error": {"error": "internal", "detail": "unexpected error; see the node log"}}
                )
        return json_response({"answers": answers})

    async def read_index(request: web.Request) -> web.Response:
        await _authentic(request, rlog)
        if not rlog.raft.is_leader:
            raise rlog._no_quorum()
        return json_response({"index": await rlog.read_index(rlog.options.commit_timeout_s)})

    async def hello(request: web.Request) -> web.Response:
        data = await _authentic(request, rlog)
        peer = data.get("node")
        if not isinstance(peer, str) or not peer:
            raise invalid("node", "the sender's node id")
        fresh = data.get("fresh")
        if fresh is not None and not isinstance(fresh, str):
            raise invalid("fresh", "null or the incarnation id of a process without data")
        return json_response(rlog.hello(peer, fresh or None))

    return [
        ("POST", "/raft/message", "raft.message", message),
        ("POST", "/raft/propose", "raft.propose", propose),
        ("POST", "/raft/read_index", "raft.read_index", read_index),
        ("POST", "/raft/hello", "raft.hello", hello),
    ]
