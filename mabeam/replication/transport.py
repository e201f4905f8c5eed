"""Peer HTTP client: Raft messages out, forwarded requests to the leader.

Messages are fire-and-forget: each peer has a queue; whatever accumulated is
sent as one batch (``POST /raft/message {"messages": [...]}``). Normally one
batch is on the wire per peer and what arrives meanwhile waits for it to be
answered (then goes as the next batch): under load the batches grow instead
of the number of requests, which is what costs CPU. A batch unanswered for
``stall_after`` may be overtaken by another, up to ``max_inflight`` on the
wire, so that one blackholed connection (a Toxiproxy ``timeout`` toxic) does
not stall the link for longer than that. Failures are dropped silently: Raft
retries by itself. The queue is bounded (oldest dropped) for the same reason.

The receiver answers a batch with the messages its handling produced for the
sender (``{"messages": [...]}``, 200; 204 if none), e.g. the AppendResponses
to a batch of AppendEntries: they ride back on the same exchange instead of
costing one request of their own. ``on_reply`` gets them.

Every successful answer from a peer is recorded (``last_ok``): it proves the
link works both ways, which is what the modes count as "reachable".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from .auth import peer_headers

log = logging.getLogger("mabeam.replication.transport")


class PeerUnreachable(Exception):
    """A forwarded request got no answer (connection refused, timeout...)."""


class Transport:
    def __init__(
        self,
        node_id: str,
        peers: dict[str, str],
        secret: bytes,
        *,
        message_timeout: float = 0.5,
        max_inflight: int = 4,
        stall_after: float = 0.02,
        queue_limit: int = 1024,
    ) -> None:
        self.node_id = node_id
        self.peers = dict(peers)  # id -> host:port
        self.secret = secret
        self.message_timeout = message_timeout
        self.max_inflight = max_inflight
        self.stall_after = stall_after
        self.last_ok: dict[str, float] = {}
        self._queues: dict[str, deque[dict[str, Any]]] = {p: deque(maxlen=queue_limit) for p in peers}
        self._wake: dict[str, asyncio.Event] = {}
        self._inflight: dict[str, int] = {p: 0 for p in peers}
        self._last_post: dict[str, float] = {p: 0.0 for p in peers}  # loop time the latest batch left
        self._recheck: dict[str, asyncio.TimerHandle] = {}
        self._recheck_at: dict[str, float] = {}  # loop time of the pending recheck per peer
        self._tasks: list[asyncio.Task[None]] = []
        self._posts: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        #: messages a peer sent back in the answer to one of our batches
        self.on_reply: Callable[[list[Any]], None] | None = None
        self._capture: tuple[str, list[dict[str, Any]]] | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None)
        self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        for peer in self.peers:
            self._wake[peer] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._sender(peer), name=f"mabeam-send-{peer}"))

    async def stop(self) -> None:
        for handle in self._recheck.values():
            handle.cancel()
        for task in [*self._tasks, *self._posts]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._posts, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    def capture(self, peer: str) -> list[dict[str, Any]]:
        """Until ``release``: messages for ``peer`` go to the returned list (the
        answer to the request being handled) instead of its queue."""
        replies: list[dict[str, Any]] = []
        self._capture = (peer, replies)
        return replies

    def release(self) -> None:
        self._capture = None

    def send(self, dst: str, message: dict[str, Any]) -> None:
        capture = self._capture
        if capture is not None and capture[0] == dst:
            capture[1].append(message)
            return
        queue = self._queues.get(dst)
        if queue is None:
            return  # a member we have no address for (it joined elsewhere)
        queue.append(message)
        wake = self._wake.get(dst)
        if wake is not None:
            wake.set()

    def _headers(self, peer: str, method: str, path: str, body: bytes) -> dict[str, str]:
        return peer_headers(self.secret, method, path, body, self.node_id, peer)

    async def _sender(self, peer: str) -> None:
        queue, wake = self._queues[peer], self._wake[peer]
        loop = asyncio.get_running_loop()
        while True:
            await wake.wait()
            wake.clear()
            try:
                self._maybe_post(peer, queue, wake, loop)
            except Exception:  # this task must outlive one bad round, or the link dies
                log.exception("sending to %s failed", peer)

    def _maybe_post(
        self, peer: str, queue: deque[dict[str, Any]], wake: asyncio.Event, loop: asyncio.AbstractEventLoop
    ) -> None:
        inflight = self._inflight[peer]
        if not queue or inflight >= self.max_inflight:
            return  # a finishing post sets wake again
        if inflight:
            now = loop.time()
            due = self._last_post[peer] + self.stall_after
            if due > now:  # the batch on the wire will likely be answered first: let this one grow
                if self._recheck_at.get(peer, 0.0) <= now:  # no recheck pending yet
                    delay = max(due - now, 0.001)  # uvloop turns a sub-ms delay into call_soon
                    self._recheck_at[peer] = now + delay
                    self._recheck[peer] = loop.call_later(delay, wake.set)
                return
        batch = list(queue)
        queue.clear()
        self._last_post[peer] = loop.time()
        self._inflight[peer] += 1
        task = asyncio.create_task(self._post(peer, batch))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post(self, peer: str, batch: list[dict[str, Any]]) -> None:
        body = orjson.dumps({"messages": batch})
        path = "/raft/message"
        try:
            assert self._session is not None
            async with self._session.post(
                f"http://{self.peers[peer]}{path}",
                data=body,
                headers=self._headers(peer, "POST", path, body),
                timeout=aiohttp.ClientTimeout(total=self.message_timeout),
            ) as resp:
                raw = await resp.read()
                if resp.status < 300:
                    self.last_ok[peer] = time.monotonic()
                    if raw and self.on_reply is not None:
                        self._replied(peer, raw)
                elif resp.status == 401:
                    log.warning("peer %s refused our cluster secret", peer)
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass  # lost; Raft resends what matters
        finally:
            self._inflight[peer] -= 1
            if self._queues[peer]:
                self._wake[peer].set()

    def _replied(self, peer: str, raw: bytes) -> None:
        try:
            replies = orjson.loads(raw)["messages"]
            assert self.on_reply is not None
            self.on_reply(replies)
        except Exception as exc:  # like a lost message: Raft copes; but say so, it is a bug
            log.warning("bad reply from %s: %r", peer, exc)

    async def request(self, peer: str, method: str, path: str, payload: Any, timeout: float) -> tuple[int, Any]:
        """One authenticated JSON request to a peer: (status, decoded body)."""
        address = self.peers.get(peer)
        if address is None:
            raise PeerUnreachable(f"no address for {peer}")
        body = orjson.dumps(payload) if payload is not None else b""
        if self._session is None or self._session.closed:
            raise PeerUnreachable(f"{peer}: this node's transport is stopped")
        try:
            async with self._session.request(
                method,
                f"http://{address}{path}",
                data=body,
                headers=self._headers(peer, method, path, body),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                self.last_ok[peer] = time.monotonic()
                try:
                    return resp.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return resp.status, {"error": "internal", "detail": raw[:200].decode(errors="replace")}
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise PeerUnreachable(f"{peer} at {address}: {type(exc).__name__} {exc}".strip()) from None
