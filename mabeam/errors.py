"""Domain errors shared by apply, the reads and the HTTP layer.

One exception type carries the HTTP status, the machine-readable code and the
field at fault, so a rule deep inside ``apply`` can reject a command and the
client still learns exactly which field to fix; nothing in between has to
translate.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the node refuses; never a bug (those become 500s)."""

    status = 400

    def __init__(self, code: str, detail: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.detail!r}, field={self.field!r})"


class BadRequest(DomainError):
    """400: the request itself is malformed (bad_json, missing_field, invalid_field)."""

    status = 400


class NotFound(DomainError):
    """404: an id in the path or body names nothing the node knows."""

    status = 404


class Conflict(DomainError):
    """409: well formed, but a domain rule says no (closed, already_registered, ...)."""

    status = 409


class TooLarge(DomainError):
    """413: the body is over the limit."""

    status = 413


class Unavailable(DomainError):
    """503: the node cannot serve writes right now (no_quorum, later)."""

    status = 503


def missing(field: str) -> BadRequest:
    return BadRequest("missing_field", f"field '{field}' is required", field)


def invalid(field: str, allowed: str) -> BadRequest:
    return BadRequest("invalid_field", f"field '{field}' must be {allowed}", field)


def from_body(status: int, body: Any) -> DomainError:
    """Rebuild an error from its answer (``{"error", "detail", "field"?, ...}``) and status."""
    if not isinstance(body, dict):
        body = {}
    extra = {k: v for k, v in body.items() if k not in ("error", "detail", "field")}
    exc = DomainError(str(body.get("error", "internal")), str(body.get("detail", "")), body.get("field"), **extra)
    exc.status = status
    return exc


def replayed(request_id: str, op: Any, outcome: list[Any]) -> Any:
    """The remembered outcome of an applied request id, for its retry: the
    same result, or the same refusal. A request id reused for another op is a
    client mistake (409 ``request_id_reused``), never a silent success."""
    if outcome[0] != op:
        raise Conflict(
            "request_id_reused",
            f"request id '{request_id}' was already used for a {outcome[0]!r} write, not {op!r}",
            "request_id",
        )
    if outcome[1] == "ok":
        return outcome[2]
    raise from_body(outcome[2], outcome[3])
