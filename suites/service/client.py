"""A small black-box client for one mabeam node's HTTP API (docs/api.md).

Suites talk to the node only through this module, so they test what a real
client sees: status codes and JSON bodies.  Three pieces:

* :class:`Api` — a ``requests.Session`` bound to the node's base URL whose
  helpers return a :class:`Reply` ``(status, body)``; ``reply.expect(201)``
  turns an unexpected answer into an assertion that shows the whole exchange.
* :class:`EventLog` — reads the event log by pattern through long-poll
  ``GET /events`` with a cursor, and waits for events matching a predicate.
* :class:`SseStream` — reads ``GET /events/stream`` (Server-Sent Events) on a
  background thread and hands complete events to the test through a queue, so
  a test can wait for the next event with a deadline instead of blocking.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import requests

__all__ = ["Api", "Reply", "EventLog", "SseStream", "SseEvent", "MISSING", "uid"]

MISSING: Any = object()


def uid(prefix: str = "t") -> str:
    """A short unique id.  Tests on a shared node use one for every name, id
    and topic they create, so they never see each other's data."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Reply(NamedTuple):
    """One HTTP answer: ``status`` and the decoded JSON ``body`` (``None`` if
    the body is empty or not JSON; the raw text is then in ``text``)."""

    status: int
    body: Any
    method: str = ""
    path: str = ""
    text: str = ""

    def expect(self, *statuses: int) -> Any:
        """Assert the status is one of ``statuses`` and return the body."""
        assert self.status in statuses, (
            f"{self.method} {self.path} answered {self.status}, expected "
            f"{' or '.join(map(str, statuses))}: {self.text[:2000]}"
        )
        return self.body

    def error(self, status: int, code: str | Iterable[str]) -> dict:
        """Assert an error answer of the docs/api.md shape; return its body."""
        codes = {code} if isinstance(code, str) else set(code)
        body = self.expect(status)
        assert isinstance(body, dict), f"{self.method} {self.path}: error body not a JSON object: {self.text[:500]}"
        assert body.get("error") in codes, (
            f"{self.method} {self.path}: error {body.get('error')!r}, expected one of {sorted(codes)}: {body}"
        )
        assert isinstance(body.get("detail"), str) and body["detail"], (
            f"{self.method} {self.path}: error without a detail text: {body}"
        )
        return body


class Api:
    """JSON over HTTP to one node.  ``json=MISSING`` sends no body; ``data``
    sends raw bytes (for malformed-body tests)."""

    def __init__(self, base_url: str, timeout: float = 15.0, name: str = "") -> None:
        self.url = base_url.rstrip("/")
        self.name = name
        self.timeout = timeout
        self.session = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = MISSING,
        *,
        data: bytes | str | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        timeout: float | None = None,
    ) -> Reply:
        kwargs: dict[str, Any] = {"params": params, "headers": headers, "timeout": timeout or self.timeout}
        if json_body is not MISSING:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
            kwargs["headers"] = {"Content-Type": "application/json", **(headers or {})}
        answer = self.session.request(method, self.url + path, **kwargs)
        text = answer.text
        try:
            body = answer.json() if text else None
        except ValueError:
            body = None
        shown = path if not params else f"{path}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
        return Reply(answer.status_code, body, method, shown, text)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = MISSING, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = MISSING, **kwargs: Any) -> Reply:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.session.close()


# -- events by long-poll -------------------------------------------------------


class EventLog:
    """Read the node's event log through ``GET /events`` with a cursor.

    ``head()`` returns the id of the newest event so far (a test's starting
    mark); ``wait_for`` long-polls from a mark until enough matching events
    arrived.  Tests stay independent on a shared node by matching on their own
    unique topics or ids, never on "the next event".
    """

    PAGE = 1000

    def __init__(self, api: Api) -> None:
        self.api = api
        self._head = 0

    def read(
        self, pattern: str = "**", after: int = 0, limit: int | None = None, wait: float | None = None
    ) -> tuple[list[dict], int]:
        """One ``GET /events``; returns ``(events, cursor)``."""
        params: dict[str, Any] = {"pattern": pattern, "after": after}
        if limit is not None:
            params["limit"] = limit
        if wait is not None:
            params["wait"] = wait
        timeout = (wait or 0) + 15
        body = self.api.get("/events", params=params, timeout=timeout).expect(200)
        assert isinstance(body.get("events"), list) and isinstance(body.get("cursor"), int), (
            f"GET /events answered {body}"
        )
        return body["events"], body["cursor"]

    def read_all(self, pattern: str = "**", after: int = 0) -> list[dict]:
        """Every event matching ``pattern`` after ``after``, page by page."""
        found: list[dict] = []
        while True:
            events, cursor = self.read(pattern, after=after, limit=self.PAGE)
            found.extend(events)
            if len(events) < self.PAGE or cursor <= after:
                return found
            after = cursor

    def head(self) -> int:
        """The id of the newest event in the log (0 when empty)."""
        while True:
            events, cursor = self.read("**", after=self._head, limit=self.PAGE)
            newest = max([self._head, cursor, *(e["id"] for e in events)])
            if len(events) < self.PAGE or newest == self._head:
                self._head = newest
                return newest
            self._head = newest

    def wait_for(
        self,
        pattern: str,
        where: Callable[[dict], bool] = lambda e: True,
        *,
        after: int = 0,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[dict]:
        """Long-poll until ``count`` events matching ``pattern`` and ``where``
        have appeared after ``after``; return them (in log order).  Fails with
        the matching-topic events seen so far if the deadline passes."""
        deadline = time.monotonic() + timeout
        matched: list[dict] = []
        seen: list[dict] = []
        cursor = after
        while True:
            left = deadline - time.monotonic()
            events, new_cursor = self.read(pattern, after=cursor, wait=max(0.0, min(2.0, left)), limit=self.PAGE)
            seen.extend(events)
            matched.extend(e for e in events if _safe(where, e))
            if events:
                cursor = max(new_cursor, events[-1]["id"])
            if len(matched) >= count:
                return matched
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{len(matched)} of {count} events matching {pattern!r} and the "
                    f"predicate within {timeout:g}s after id {after}; "
                    f"events on that pattern: {seen[-20:]}"
                )


def _safe(where: Callable[[dict], bool], event: dict) -> bool:
    """A predicate that cannot parse an event does not match it: anyone may
    publish any data under any concrete topic, so a foreign event shaped
    differently must not crash a test that waits for its own."""
    try:
        return bool(where(event))
    except (AttributeError, KeyError, TypeError, IndexError):
        return False


# -- events by Server-Sent Events ----------------------------------------------


@dataclass
class SseEvent:
    """One SSE message: the ``id:``, ``event:`` and ``data:`` fields."""

    id: str | None
    event: str | None
    data: str
    json: Any = field(default=None)


class SseStream:
    """A live ``GET /events/stream`` subscription.

    A daemon thread reads the stream, parses it per the SSE format (fields
    ``id``, ``event``, ``data``; ``data`` lines joined by newlines; lines that
    start with ``:`` are comments; a blank line ends a message) and queues each
    message; :meth:`next` takes one with a deadline.  Use as a context manager
    so the connection is always closed.
    """

    def __init__(
        self,
        api: Api,
        pattern: str = "**",
        after: int | None = None,
        last_event_id: int | None = None,
        read_timeout: float = 40.0,
    ) -> None:
        params: dict[str, Any] = {"pattern": pattern}
        if after is not None:
            params["after"] = after
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.response = api.session.get(
            api.url + "/events/stream", params=params, headers=headers, stream=True, timeout=(5, read_timeout)
        )
        self.status = self.response.status_code
        self.content_type = self.response.headers.get("Content-Type", "")
        self.comments: list[str] = []
        self._queue: queue.Queue[SseEvent | BaseException | None] = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="sse-reader", daemon=True)
        if self.status == 200:
            self._thread.start()

    def _lines(self) -> Iterable[str]:
        """Lines as they arrive (``read1`` returns whatever the socket has, so a
        message is seen as soon as it is sent).  Ends on LF or CRLF; the node
        never uses a lone CR."""
        raw = self.response.raw
        buffer = b""
        while not self._closed.is_set():
            chunk = raw.read1(65536)
            if not chunk:
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.removesuffix(b"\r").decode("utf-8", errors="replace")

    def _pump(self) -> None:
        fields: dict[str, Any] = {"id": None, "event": None, "data": []}
        try:
            for line in self._lines():
                if line == "":
                    if fields["data"]:
                        self._queue.put(self._message(fields))
                    fields = {"id": fields["id"], "event": None, "data": []}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        fields["data"].append(value)
                    elif name in ("id", "event"):
                        fields[name] = value
            self._queue.put(None)  # the server closed the stream
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            if not self._closed.is_set():
                self._queue.put(exc)

    @staticmethod
    def _message(fields: dict[str, Any]) -> SseEvent:
        data = "\n".join(fields["data"])
        try:
            decoded = json.loads(data)
        except ValueError:
            decoded = None
        return SseEvent(fields["id"], fields["event"], data, decoded)

    def next(self, timeout: float = 10.0) -> SseEvent:
        """The next message; AssertionError if none arrives within ``timeout``."""
        if self.status != 200:
            raise AssertionError(f"GET /events/stream answered {self.status}: {self.response.text[:500]}")
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no SSE message within {timeout:g}s") from None
        if item is None:
            raise AssertionError("the node closed the SSE stream")
        if isinstance(item, BaseException):
            raise AssertionError(f"SSE stream failed: {item!r}") from item
        return item

    def collect(
        self, count: int, where: Callable[[SseEvent], bool] = lambda m: True, timeout: float = 10.0
    ) -> list[SseEvent]:
        """The next ``count`` messages satisfying ``where`` (others skipped)."""
        deadline = time.monotonic() + timeout
        found: list[SseEvent] = []
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(found)} of {count} SSE messages within {timeout:g}s: {found}")
            message = self.next(timeout=left)
            if where(message):
                found.append(message)
        return found

    def close(self) -> None:
        self._closed.set()
        try:
            connection = getattr(self.response.raw, "connection", None)
            sock = getattr(connection, "sock", None)
            if sock is not None:  # wakes the reader thread blocked in recv
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.response.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> SseStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
