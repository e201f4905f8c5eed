"""Pipes between toxic stages, and the end-of-stream markers they carry.

Why not ``asyncio.Queue``: a stage must be removable from a live chain without
losing or reordering bytes.  That needs synchronous access to everything still
queued (``drain_to``), a byte count for backpressure, and a wait that an API
update can interrupt; a tiny deque-plus-future does all three cheaply.

Items are ``(timestamp, payload)``; payload is ``bytes`` or a ``Marker``.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Marker:
    """End of a direction: EOF (the source ended), CLOSE (a toxic ended it), RESET (RST)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


EOF = Marker("EOF")
CLOSE = Marker("CLOSE")
RESET = Marker("RESET")


class Pipe:
    """Unbounded FIFO with one waiting consumer; bounded by the link's byte budget."""

    __slots__ = ("items", "_waiter")

    def __init__(self) -> None:
        self.items: deque = deque()
        self._waiter: asyncio.Future | None = None

    def put(self, item: tuple) -> None:
        self.items.append(item)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(True)

    def pop(self) -> tuple:
        return self.items.popleft()

    def wake(self) -> None:
        """Interrupt a waiting consumer (an update changed its settings)."""
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(False)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until an item is queued; False on timeout or ``wake()``."""
        if self.items:
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiter = fut
        handle = None
        if timeout is not None:
            handle = loop.call_later(timeout, _resolve, fut, False)
        try:
            await fut
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()
        return bool(self.items)

    def drain_to(self, other: Pipe) -> None:
        """Move every queued item, in order, to ``other`` (used on stage removal)."""
        while self.items:
            other.put(self.items.popleft())


def _resolve(fut: asyncio.Future, value: bool) -> None:
    if not fut.done():
        fut.set_result(value)
