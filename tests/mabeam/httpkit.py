"""Run a node in-process behind aiohttp's test server, for HTTP-level tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from mabeam.http.app import build_app
from mabeam.node import Node

Scenario = Callable[[TestClient, Node], Awaitable[None]]


def drive(scenario: Scenario, **node_kwargs: Any) -> None:
    """Start a node and a client on 127.0.0.1, run ``scenario``, stop everything."""

    async def main() -> None:
        node = Node("t1", seed=1, **node_kwargs)
        await node.start()
        try:
            async with TestClient(TestServer(build_app(node), host="127.0.0.1")) as client:
                await scenario(client, node)
        finally:
            await node.stop()

    asyncio.run(main())


async def until(node: Node, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for ``predicate`` to hold, woken by each new event; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"condition not reached within {timeout}s")
        await node.news.wait(min(left, 0.05))


async def until_true(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``predicate`` (for conditions no event announces); fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s")
        await asyncio.sleep(0.002)
    return True
