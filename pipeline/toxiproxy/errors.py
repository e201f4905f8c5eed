"""The one error type the server core raises: an HTTP status plus a message.

Why a single type: every failure the core can report maps to one Toxiproxy
API answer ``{"error": message, "status": code}``, so the API layer turns any
``ApiError`` into exactly that without knowing where it came from.
"""

from __future__ import annotations


class ApiError(Exception):
    """A failure with the HTTP status Toxiproxy 2.x would answer."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_json(self) -> dict:
        return {"error": self.message, "status": self.status}


def bad_request(field: str, detail: str) -> ApiError:
    """400 naming the offending field, worded like Toxiproxy's ``bad request body``."""
    return ApiError(400, f"bad request body: {field}: {detail}", field=field)


def missing_field(field: str) -> ApiError:
    return ApiError(400, f"missing required field: {field}", field=field)


PROXY_NOT_FOUND = "proxy not found"
TOXIC_NOT_FOUND = "toxic not found"
PROXY_EXISTS = "proxy already exists"
TOXIC_EXISTS = "toxic already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TOXIC_TYPE = "invalid toxic type"
