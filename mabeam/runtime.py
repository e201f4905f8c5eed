"""Background drivers: the node's asynchronous behaviour, as commands.

Each driver only observes the state and submits commands through the log,
exactly like an HTTP handler, so everything they cause is replicated and
deterministic. They decide pending bids, settle pending transactions, close
expired auctions and ballots, detect failed members of agent groups and pace
work rounds.

With a replicated log, every replica keeps the drivers' bookkeeping (deadline
heaps) up to date by listening to applied commands, but only the leader acts
(``log.is_leader()``): a follower's drivers stay idle, and a node that becomes
leader starts acting on state it already knows.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import DomainError

if TYPE_CHECKING:
    from .log import Log
    from .machine import State

log = logging.getLogger("mabeam.runtime")

BATCH = 256  # pending bids or transactions decided per command
TIMER_MAX_S = 0.25  # longest sleep of the deadline driver (covers clock drift)
GROUP_POLL_S = 0.05  # failure-detection poll when no down event woke the watcher


def _chunks(ids: list[str]) -> list[list[str]]:
    """What is pending now, in batches; later arrivals wake the driver again."""
    return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]


class Deadlines:
    """A heap of (due time, id) kept by listening; stale entries are skipped on pop."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def push(self, due: float, key: str) -> None:
        heapq.heappush(self._heap, (due, key))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[str]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[1])
        return due


class Driven(Protocol):
    """What the drivers use of their node; ``node.Node`` is the one that runs them.

    Declared here rather than importing ``Node``: the node builds its runtime,
    so an import back would put the two modules in a circle.
    """

    log: Log
    clock: Callable[[], float]

    @property
    def state(self) -> State: ...

    async def submit(self, op: str, **fields: Any) -> Any: ...


class Runtime:
    def __init__(self, node: Driven) -> None:
        self.node = node
        self.auction_deadlines = Deadlines()
        self.ballot_deadlines = Deadlines()
        self._wake = {name: asyncio.Event() for name in ("bids", "settle", "timers", "groups")}
        self._tasks: list[asyncio.Task[None]] = []

    # -- bookkeeping, on every replica ---------------------------------------

    def resync(self) -> None:
        """Rebuild the deadline heaps from the state (after a snapshot install)."""
        state = self.node.state
        self.auction_deadlines = Deadlines()
        self.ballot_deadlines = Deadlines()
        for auction_id in state.auctions.open:
            self.auction_deadlines.push(state.auctions.auctions[auction_id]["ends_at"], auction_id)
        for ballot_id in state.consensus.open:
            self.ballot_deadlines.push(state.consensus.by_id[ballot_id]["expires_at"], ballot_id)
        for wake in self._wake.values():
            wake.set()

    def on_applied(self, command: dict[str, Any], fresh: list[dict[str, Any]]) -> None:
        state = self.node.state
        if state.auctions.pending:
            self._wake["bids"].set()
        if state.ledger.pending:
            self._wake["settle"].set()
        for event in fresh:
            topic = event["topic"]
            if topic == "economics.auction.created":
                self.auction_deadlines.push(event["data"]["ends_at"], event["data"]["auction_id"])
                self._wake["timers"].set()
            elif topic == "coordination.consensus.started":
                self.ballot_deadlines.push(event["data"]["expires_at"], event["data"]["consensus_id"])
                self._wake["timers"].set()
            elif topic.startswith("coordination.agent.") or topic == "coordination.group.started":
                self._wake["groups"].set()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for name, body in (
            ("bids", self._decide_bids),
            ("settle", self._settle),
            ("timers", self._expire),
            ("groups", self._watch_groups),
        ):
            self._tasks.append(asyncio.create_task(self._forever(name, body), name=f"mabeam-{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _forever(self, name: str, body: Callable[[], Awaitable[float | None]]) -> None:
        """Run one driver: wait to be woken (or for its timeout), then act if leader."""
        wake = self._wake[name]
        timeout: float | None = None
        while True:
            if timeout is None:
                await wake.wait()
            else:
                try:
                    await asyncio.wait_for(wake.wait(), timeout)
                except TimeoutError:
                    pass
            wake.clear()
            if not self.node.log.is_leader():
                timeout = TIMER_MAX_S
                continue
            try:
                timeout = await body()
            except DomainError as exc:
                log.debug("driver %s: command refused: %r", name, exc)
                timeout = TIMER_MAX_S
            except Exception:  # a driver must outlive a bug in one round
                log.exception("driver %s failed; retrying", name)
                timeout = TIMER_MAX_S

    # -- drivers ---------------------------------------------------------------

    async def _decide_bids(self) -> float | None:
        for chunk in _chunks(list(self.node.state.auctions.pending)):
            await self.node.submit("auction.decide_bids", bid_ids=chunk)
        return None

    async def _settle(self) -> float | None:
        for chunk in _chunks(list(self.node.state.ledger.pending)):
            await self.node.submit("transaction.settle", ids=chunk)
        return None

    async def _expire(self) -> float | None:
        node = self.node
        now = node.clock()
        state = node.state
        due = [a for a in self.auction_deadlines.pop_due(now) if a in state.auctions.open]
        if due:
            await node.submit("auction.expire", auction_ids=due)
        due = [b for b in self.ballot_deadlines.pop_due(now) if b in state.consensus.open]
        if due:
            await node.submit("consensus.expire", ids=due)
        nexts = [d for d in (self.auction_deadlines.next_due(), self.ballot_deadlines.next_due()) if d is not None]
        if not nexts:
            return None
        return max(0.0, min(min(nexts) - node.clock(), TIMER_MAX_S))

    async def _watch_groups(self) -> float | None:
        node = self.node
        state = node.state
        if not state.groups.live:
            return None
        next_due = node.clock() + GROUP_POLL_S
        for group_id in list(state.groups.live):
            group = state.groups.by_id[group_id]
            for agent_id in list(group["active_agents"]):
                if not state.agents.is_running(agent_id):
                    await node.submit("coordination.agent_failed", id=group_id, agent_id=agent_id)
            if group_id in state.groups.live and group["next_round_at"] is not None:
                if node.clock() >= group["next_round_at"]:
                    await node.submit("coordination.round", id=group_id)
                next_due = min(next_due, group["next_round_at"])
        return max(0.0, next_due - node.clock())
