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

from .economics import auctions, ledger
from .errors import DomainError

if TYPE_CHECKING:
    from .log import Log
    from .machine import State

log = logging.getLogger("mabeam.runtime")

BATCH = 256  # pending bids or transactions decided per command
PRUNE_SLACK = 0.1  # prune once history exceeds what is kept by this fraction (at least 100 items)
TIMER_MAX_S = 0.25  # longest sleep of the deadline driver (covers clock drift)
STOP_WAIT_S = 0.5  # how long stop waits for the drivers to end
HEAP_SLACK = 1024  # stale deadline entries tolerated before a heap is compacted


_HISTORY_GROWS = frozenset(
    {
        "economics.auction.closed",
        "economics.auction.cancelled",
        "economics.transaction.completed",
        "economics.transaction.failed",
    }
)


def _chunks(ids: list[str]) -> list[list[str]]:
    """What is pending now, in batches; later arrivals wake the driver again."""
    return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]


class Deadlines:
    """A heap of (due time, id) kept by listening; stale entries are skipped on pop."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, key: str) -> None:
        heapq.heappush(self._heap, (due, key))

    def keep_only(self, alive: Callable[[str], bool]) -> None:
        """Drop the entries of what is gone (closed before it was due). A
        follower never pops, so without this its heaps would grow with history."""
        self._heap = [entry for entry in self._heap if alive(entry[1])]
        heapq.heapify(self._heap)

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
    keep_closed_auctions: int
    keep_settled_transactions: int

    @property
    def state(self) -> State: ...

    async def submit(self, op: str, **fields: Any) -> Any: ...


class Runtime:
    def __init__(self, node: Driven) -> None:
        self.node = node
        self.auction_deadlines = Deadlines()
        self.ballot_deadlines = Deadlines()
        self.round_deadlines = Deadlines()  # work groups' next rounds
        self._check_groups = False  # an agent went down: look for it in the live groups
        self._wake = {name: asyncio.Event() for name in ("bids", "settle", "timers", "groups", "prune")}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

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
        self._rebuild_rounds()
        self._check_groups = True
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
                if len(self.auction_deadlines) > 2 * len(state.auctions.open) + HEAP_SLACK:
                    self.auction_deadlines.keep_only(state.auctions.open.__contains__)
                self._wake["timers"].set()
            elif topic == "coordination.consensus.started":
                self.ballot_deadlines.push(event["data"]["expires_at"], event["data"]["consensus_id"])
                if len(self.ballot_deadlines) > 2 * len(state.consensus.open) + HEAP_SLACK:
                    self.ballot_deadlines.keep_only(state.consensus.open.__contains__)
                self._wake["timers"].set()
            elif topic == "coordination.agent.stopped" or topic == "coordination.agent.crashed":
                self._check_groups = True
                self._wake["groups"].set()
            elif topic == "coordination.group.started":
                self._push_round(event["data"]["coordination_id"])
            elif topic in _HISTORY_GROWS and self._history_over():
                self._wake["prune"].set()
        if command.get("op") == "coordination.round":
            self._push_round(command.get("id"))

    def _rebuild_rounds(self) -> None:
        """One entry per live work group: its next round."""
        groups = self.node.state.groups
        self.round_deadlines = Deadlines()
        for group_id in groups.live:
            due = groups.by_id[group_id]["next_round_at"]
            if due is not None:
                self.round_deadlines.push(due, group_id)
        self._wake["groups"].set()

    def _history_over(self) -> bool:
        """Does the node hold clearly more closed auctions or settled transactions than it keeps?"""
        node, state = self.node, self.node.state
        over = lambda keep: max(100, int(keep * PRUNE_SLACK))  # noqa: E731
        return state.auctions.prunable(node.keep_closed_auctions) > over(node.keep_closed_auctions) or (
            state.ledger.prunable(node.keep_settled_transactions) > over(node.keep_settled_transactions)
        )

    def _push_round(self, group_id: Any) -> None:
        groups = self.node.state.groups
        group = groups.by_id.get(group_id) if isinstance(group_id, str) else None
        if group is not None and group_id in groups.live and group["next_round_at"] is not None:
            self.round_deadlines.push(group["next_round_at"], group_id)
            if len(self.round_deadlines) > 2 * len(groups.live) + HEAP_SLACK:
                self._rebuild_rounds()  # one entry per round: a follower, which never pops, compacts here
            self._wake["groups"].set()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        for name, body in (
            ("bids", self._decide_bids),
            ("settle", self._settle),
            ("timers", self._expire),
            ("groups", self._watch_groups),
            ("prune", self._prune),
        ):
            self._tasks.append(asyncio.create_task(self._forever(name, body), name=f"mabeam-{name}"))

    async def stop(self) -> None:
        """Cancel every driver and wait (at most STOP_WAIT_S) until they ended.

        A driver also checks ``_stopping`` on each round, so one whose
        cancellation was lost (see ``_sleep``) ends at its next wake-up."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for wake in self._wake.values():
            wake.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_WAIT_S)
            if late:
                log.error("drivers still running %.1f s after stop: %s", STOP_WAIT_S, [t.get_name() for t in late])
        self._tasks.clear()

    @staticmethod
    async def _sleep(wake: asyncio.Event, timeout: float | None) -> None:
        """Until ``wake`` is set or ``timeout`` passed.

        Not ``asyncio.wait_for(wake.wait(), timeout)``: on Python 3.11 a
        wait_for cancelled in the loop iteration its awaitable completes in
        returns the result and swallows the cancellation, so a driver woken
        as the node stopped lived on and the node ignored SIGTERM. A timer
        that sets the event has no such window."""
        if timeout is None:
            await wake.wait()
            return
        timer = asyncio.get_running_loop().call_later(timeout, wake.set)
        try:
            await wake.wait()
        finally:
            timer.cancel()

    async def _forever(self, name: str, body: Callable[[], Awaitable[float | None]]) -> None:
        """Run one driver: wait to be woken (or for its timeout), then act if leader."""
        wake = self._wake[name]
        timeout: float | None = None
        while not self._stopping:
            await self._sleep(wake, timeout)
            wake.clear()
            if self._stopping:
                return
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

    async def _prune(self) -> float | None:
        """Bound the history: forget the oldest closed auctions and settled
        transactions beyond what this node keeps. The limits travel in the
        commands, so every replica forgets exactly the same items."""
        node = self.node
        if not self._history_over():
            return None
        for op, book, keep, batch in (
            ("auction.prune", node.state.auctions, node.keep_closed_auctions, auctions.PRUNE_BATCH),
            ("transaction.prune", node.state.ledger, node.keep_settled_transactions, ledger.PRUNE_BATCH),
        ):
            for _ in range(book.prunable(keep) // batch + 1):  # bounded: each command removes up to a batch
                if not book.prunable(keep):
                    break
                await node.submit(op, keep=keep)
        return None

    async def _watch_groups(self) -> float | None:
        """Failure detection and work rounds, without polling: a group is looked
        at when one of its agents may have gone down (woken by the down event) or
        when its next round is due (a deadline heap, like auctions'), so a node
        holding many groups costs nothing between those moments."""
        node = self.node
        state = node.state
        if self._check_groups:
            self._check_groups = False
            try:
                for group_id in list(state.groups.live):
                    group = state.groups.by_id[group_id]
                    for agent_id in list(group["active_agents"]):
                        if group_id in state.groups.live and not state.agents.is_running(agent_id):
                            await node.submit("coordination.agent_failed", id=group_id, agent_id=agent_id)
            except BaseException:
                self._check_groups = True  # not done: look again next round
                raise
        now = node.clock()
        due = self.round_deadlines.pop_due(now)
        for i, group_id in enumerate(due):
            if group_id not in state.groups.live:
                continue
            next_round_at = state.groups.by_id[group_id]["next_round_at"]
            if next_round_at is None or next_round_at > now:
                continue  # a stale entry: the round that moved it pushed the new one
            try:
                await node.submit("coordination.round", id=group_id)
            except BaseException:
                for rest in due[i:]:  # not done: still due
                    self.round_deadlines.push(now, rest)
                raise
        next_due = self.round_deadlines.next_due()
        if next_due is None:
            return None
        return max(0.0, min(next_due - node.clock(), TIMER_MAX_S))
