"""Reading requests and writing answers, with the error shapes of docs/api.md."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..errors import BadRequest, DomainError, TooLarge, invalid
from ..fields import Fields

BODY_LIMIT = 1024 * 1024  # bytes; larger bodies get 413 body_too_large
JSON = "application/json"


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


def error_response(exc: DomainError) -> web.Response:
    return json_response(exc.body(), exc.status)


def too_large() -> TooLarge:
    return TooLarge("body_too_large", f"the body is over the limit of {BODY_LIMIT} bytes")


async def body(request: web.Request, *, optional: bool = False) -> Fields:
    """The request body as a JSON object; an empty body is {} when ``optional``."""
    if request.content_length is not None and request.content_length > BODY_LIMIT:
        raise too_large()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None
    if not raw.strip():
        if optional:
            return Fields({})
        raise BadRequest("bad_json", "the body is empty; a JSON object is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("bad_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_json", f"the body must be a JSON object, not {type(data).__name__}")
    return Fields(data)


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if value < lo or (hi is not None and value > hi):
        raise invalid(name, f"an integer >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    return value


def query_float(request: web.Request, name: str, default: float, lo: float, hi: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (lo <= value <= hi):
        raise invalid(name, f"a number >= {lo:g} and <= {hi:g}")
    return value


def query_flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "").lower()
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("", "false", "0", "no"):
        return False
    raise invalid(name, "'true' or 'false'")
