"""One node: the state machine, the log in front of it, the runtime and telemetry.

HTTP handlers and drivers go through ``Node.submit``, which stamps a command
with the proposer's time and node id; that is the only place a clock value
enters the replicated state.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections.abc import Callable
from typing import Any

from .economics.analytics import ReportCache
from .events import KEEP
from .ids import IdFactory
from .log import LocalLog, Log
from .machine import REQUEST_ID, Command, State, StateMachine
from .runtime import Runtime
from .telemetry import Telemetry

DECIDED = ("economics.auction.bid_accepted", "economics.auction.bid_rejected")
KEEP_CLOSED_AUCTIONS = 10_000  # closed or cancelled auctions (with their bids) kept in the state
KEEP_SETTLED_TRANSACTIONS = 10_000  # settled transactions kept in the state

#: the request id of the client write being handled, and how many commands it made so far
#: (set per HTTP write by ``mabeam.http.app``; a driver's commands carry none)
CURRENT_REQUEST: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("mabeam_request", default=None)


class News:
    """Wakes every reader waiting for new events (long-polls, SSE streams)."""

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None
        self.closed = False
        self.waiting = 0  # readers currently parked (a gauge, and a test hook)

    def notify(self) -> None:
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """True when woken by news (or by close), False on timeout."""
        if self.closed:
            return True
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        self.waiting += 1
        try:
            done, _ = await asyncio.wait((self._future,), timeout=timeout)
        finally:
            self.waiting -= 1
        return bool(done)

    def close(self) -> None:
        self.closed = True
        self.notify()


class BidWaiters:
    """Futures for ``?wait=true`` bids, resolved when the bid is decided."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[None]] = {}

    def expect(self, bid_id: str) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        self._futures[bid_id] = future
        return future

    def forget(self, bid_id: str) -> None:
        self._futures.pop(bid_id, None)

    def decided(self, bid_id: str) -> None:
        future = self._futures.pop(bid_id, None)
        if future is not None and not future.done():
            future.set_result(None)


class Node:
    def __init__(
        self,
        node_id: str,
        *,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        keep_events: int = KEEP,
        log_factory: Callable[[StateMachine], Log] | None = None,
        keep_closed_auctions: int = KEEP_CLOSED_AUCTIONS,
        keep_settled_transactions: int = KEEP_SETTLED_TRANSACTIONS,
    ) -> None:
        self.node_id = node_id
        # History bounds: this node's prune commands carry them (as leader), so
        # replicas stay identical whatever each one was started with.
        self.keep_closed_auctions = keep_closed_auctions
        self.keep_settled_transactions = keep_settled_transactions
        self.clock = clock
        self.rng = random.Random(seed)
        self.ids = IdFactory(node_id, self.rng)
        self.machine = StateMachine(State(keep_events))
        self.log: Log = log_factory(self.machine) if log_factory else LocalLog(self.machine)
        self.telemetry = Telemetry(node_id)
        self.reports = ReportCache()
        self.news = News()
        self.bid_waiters = BidWaiters()
        self.runtime = Runtime(self)
        self.started_monotonic = time.monotonic()
        self.sse_clients = 0
        self.machine.add_listener(self._on_applied)
        attach = getattr(self.log, "attach", None)
        if attach is not None:  # a replicated log installs snapshots through the node
            attach(self)
        self._register_gauges()

    @property
    def state(self) -> State:
        return self.machine.state

    def mode(self) -> str:
        return self.log.mode()

    def cluster_status(self) -> dict[str, Any]:
        """Role, leader, term, commit index and members in cluster mode; {} otherwise."""
        status = getattr(self.log, "status", None)
        return status() if status is not None else {}

    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def command(self, op: str, **fields: Any) -> Command:
        """A command stamped with the proposer's time and node, and with the request
        id of the client write it comes from (the state machine applies a request
        id once). A request that made several commands gives the second ``<id>#2``..."""
        command = {"op": op, "time": self.clock(), "node": self.node_id, **fields}
        current = CURRENT_REQUEST.get()
        if current is not None:
            current[1] += 1
            command[REQUEST_ID] = current[0] if current[1] == 1 else f"{current[0]}#{current[1]}"
        return command

    async def submit(self, op: str, **fields: Any) -> Any:
        return await self.log.submit(self.command(op, **fields))

    def _on_applied(self, command: Command, result: Any, fresh: list[dict[str, Any]]) -> None:
        if fresh:
            self.news.notify()
            for event in fresh:
                if event["topic"] in DECIDED:
                    self.bid_waiters.decided(event["data"]["bid_id"])
        self.runtime.on_applied(command, fresh)

    def install_snapshot(self, data: bytes) -> None:
        """Replace the state by a snapshot (a replicated log catching this node up)."""
        self.machine.restore_bytes(data)
        self.runtime.resync()
        self.news.notify()

    async def start(self) -> None:
        await self.log.start()
        self.runtime.start()

    async def stop(self) -> None:
        self.news.close()
        await self.runtime.stop()
        await self.log.stop()

    def _register_gauges(self) -> None:
        s = lambda: self.state  # noqa: E731 - the state object may be replaced by a snapshot install
        g = self.telemetry.gauge
        g("uptime_s", self.uptime)
        g("commands_applied", lambda: s().applied)
        g("agents_running", lambda: s().agents.running_count())
        g("auctions_open", lambda: len(s().auctions.open))
        g("bids_pending", lambda: len(s().auctions.pending))
        g("transactions_pending", lambda: len(s().ledger.pending))
        g("events_last_id", lambda: s().events.last_id)
        g("events_kept", lambda: len(s().events.events))
        g("groups_live", lambda: len(s().groups.live))
        g("consensus_open", lambda: len(s().consensus.open))
        g("sse_clients", lambda: self.sse_clients)
        g("event_readers_waiting", lambda: self.news.waiting)
