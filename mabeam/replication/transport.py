"""Peer HTTP client: Raft messages out, forwarded requests to the leader.

Messages are fire-and-forget: each peer has a queue; whatever accumulated is
sent as one batch (``POST /raft/message {"messages": [...]}``), with at most
``max_inflight`` batches on the wire per peer so that one blackholed
connection (a Toxiproxy ``timeout`` toxic) does not stall the link for longer
than ``message_timeout``. Failures are dropped silently: Raft retries by
itself. The queue is bounded (oldest dropped) for the same reason.

Every successful answer from a peer is recorded (``last_ok``): it proves the
link works both ways, which is what the modes count as "reachable".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

import aiohttp
import orjson

from .auth import FROM_HEADER, HEADER, sign

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
        queue_limit: int = 1024,
    ) -> None:
        self.node_id = node_id
        self.peers = dict(peers)  # id -> host:port
        self.secret = secret
        self.message_timeout = message_timeout
        self.max_inflight = max_inflight
        self.last_ok: dict[str, float] = {}
        self._queues: dict[str, deque[dict[str, Any]]] = {p: deque(maxlen=queue_limit) for p in peers}
        self._wake: dict[str, asyncio.Event] = {}
        self._inflight: dict[str, int] = {p: 0 for p in peers}
        self._tasks: list[asyncio.Task[None]] = []
        self._posts: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None)
        self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        for peer in self.peers:
            self._wake[peer] = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._sender(peer), name=f"mabeam-send-{peer}"))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._posts]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._posts, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()

    def send(self, dst: str, message: dict[str, Any]) -> None:
        queue = self._queues.get(dst)
        if queue is None:
            return  # a member we have no address for (it joined elsewhere)
        queue.append(message)
        wake = self._wake.get(dst)
        if wake is not None:
            wake.set()

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        return {
            HEADER: sign(self.secret, method, path, body),
            FROM_HEADER: self.node_id,
            "Content-Type": "application/json",
        }

    async def _sender(self, peer: str) -> None:
        queue, wake = self._queues[peer], self._wake[peer]
        while True:
            await wake.wait()
            wake.clear()
            if not queue or self._inflight[peer] >= self.max_inflight:
                continue  # a finishing post sets wake again
            batch = list(queue)
            queue.clear()
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
                headers=self._headers("POST", path, body),
                timeout=aiohttp.ClientTimeout(total=self.message_timeout),
            ) as resp:
                await resp.read()
                if resp.status < 300:
                    self.last_ok[peer] = time.monotonic()
                elif resp.status == 401:
                    log.warning("peer %s refused our cluster secret", peer)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass  # lost; Raft resends what matters
        finally:
            self._inflight[peer] -= 1
            if self._queues[peer]:
                self._wake[peer].set()

    async def request(
        self, peer: str, method: str, path: str, payload: Any, timeout: float
    ) -> tuple[int, Any]:
        """One authenticated JSON request to a peer: (status, decoded body)."""
        address = self.peers.get(peer)
        if address is None:
            raise PeerUnreachable(f"no address for {peer}")
        body = orjson.dumps(payload) if payload is not None else b""
        try:
            assert self._session is not None
            async with self._session.request(
                method,
                f"http://{address}{path}",
                data=body,
                headers=self._headers(method, path, body),
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                raw = await resp.read()
                self.last_ok[peer] = time.monotonic()
                try:
                    return resp.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return resp.status, {"error": "internal", "detail": raw[:200].decode(errors="replace")}
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise PeerUnreachable(f"{peer} at {address}: {type(exc).__name__} {exc}".strip()) from None
