"""``ReplicatedLog``: the node's ``Log`` when it is one member of a Raft cluster.

One ``RaftNode`` per process. Everything that touches it (ticks, received
messages, proposals, reads, membership changes) runs synchronously on the
event loop and hands the resulting ``Output`` to ``_handle``, which persists,
sends, applies and reacts in the order the core requires. No await happens
between a call into the core and the handling of its output, so the core is
never re-entered half-way.

A write (``submit``):

* on the leader with quorum: ``propose``; the request waits (bounded by
  ``commit_timeout``) for its entry to come out committed with the same index
  and term, and gets the apply result (or the DomainError apply raised);
* on a follower: forwarded as ``POST /raft/propose`` to the leader through
  the peer address; the leader's answer is this node's answer, given once
  this node has applied the entry too (the leader's answer carries the
  entry's index): a handler that reads the local state after ``submit``
  sees its own write, and so does the client's next local read.  A node
  that has not applied it within ``commit_timeout`` answers 503
  ``catching_up`` (the write did commit);
* without quorum (or without a known leader): 503 ``no_quorum`` at once.

A timeout or a lost leadership while waiting is also 503 ``no_quorum``, with
a detail saying the outcome is unknown: the entry may still commit later.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DomainError, Unavailable, from_body
from ..machine import Command, StateMachine
from ..raft import (
    COMMAND,
    BecameLeader,
    LogEntry,
    Message,
    NotLeader,
    Output,
    RaftInvariantError,
    RaftNode,
    ReadFailed,
    ReadReady,
    SteppedDown,
    message_from_dict,
)
from . import modes
from .auth import Verifier
from .membership import Membership
from .storage import DiskStorage, NullStorage
from .transport import PeerUnreachable, Transport

if TYPE_CHECKING:
    from ..node import Node

#: exit status of a node that stopped because its Raft state was impossible
EXIT_INVARIANT_BROKEN = 70

log = logging.getLogger("mabeam.replication")

HELLO_EVERY_TICKS = 5  # a node without quorum greets every peer this often
FORWARD_MAX_INFLIGHT = 4  # forwarded-write requests on their way to the leader at once
FORWARD_STALL_S = 0.02  # a forward unanswered this long no longer holds back the next batch


@dataclass
class ClusterOptions:
    node_id: str
    peers: dict[str, str]  # every other initial member -> address used to reach it
    secret: bytes
    data_dir: Path | None = None
    tick_s: float = 0.05
    election_ticks: int = 10
    member_grace_s: float = 3.0
    commit_timeout_s: float = 2.0
    snapshot_every: int = 1000  # applied entries between compactions
    join: bool = False
    fsync: bool = False
    seed: int | None = None


def remote_error(status: int, body: Any) -> DomainError:
    """Rebuild the leader's error answer so the follower answers exactly the same."""
    return from_body(status, body)


class ReplicatedLog:
    def __init__(self, machine: StateMachine, options: ClusterOptions) -> None:
        self.machine = machine
        self.options = options
        self.node_id = options.node_id
        self.storage: DiskStorage | NullStorage = (
            DiskStorage(options.data_dir, fsync=options.fsync) if options.data_dir else NullStorage()
        )
        self.fresh = self.storage.empty
        self.incarnation = f"{random.SystemRandom().getrandbits(64):016x}"  # this process start
        persisted = self.storage.state()
        bootstrap: tuple[str, ...] = (
            () if options.join and self.fresh else tuple(sorted({options.node_id, *options.peers}))
        )
        seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**32)
        self.raft = RaftNode(
            options.node_id,
            bootstrap,
            seed=seed,
            election_ticks=options.election_ticks,
            heartbeat_ticks=1,
            state=persisted if not self.fresh else None,
        )
        self._restore_from = persisted.snapshot if not self.fresh else None
        self.transport = Transport(
            options.node_id,
            options.peers,
            options.secret,
            message_timeout=max(0.3, options.tick_s * options.election_ticks),
        )
        self.transport.on_reply = self._on_reply
        self.verifier = Verifier(options.secret, options.node_id)  # the peer requests this node receives
        self.membership = Membership(set(options.peers), int(options.member_grace_s / options.tick_s))
        self.heard: dict[str, float] = {}  # peer -> monotonic time of its last message to us
        self.reach_window = options.tick_s * options.election_ticks * 2
        self._pending: dict[int, tuple[int, asyncio.Future[Applied]]] = {}  # index -> (term, future)
        self._batch: list[_Waiting] = []  # writes of this loop iteration, not proposed yet
        self._flush_scheduled = False
        self._forwards: dict[str, list[tuple[Command, asyncio.Future[Applied]]]] = {}  # leader -> writes to forward
        self._forward_scheduled = False
        self._forwarding: set[asyncio.Task[None]] = set()
        self._forward_inflight: dict[str, int] = {}
        self._forward_last: dict[str, float] = {}  # loop time the latest batch left, per leader
        self._forward_recheck_at = 0.0
        self._reads: dict[int, asyncio.Future[int]] = {}
        self._read_ids = itertools.count(1)
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []  # heap of (index, seq, future)
        self._waiter_seq = itertools.count()
        self._last_compact = persisted.snapshot.index if persisted.snapshot and not self.fresh else 0
        self._node: Node | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._ticks = 0

    # -- wiring ------------------------------------------------------------------

    def attach(self, node: Node) -> None:
        """Called by the Node once it exists: snapshot installs need its runtime."""
        self._node = node
        if self._restore_from is not None and self._restore_from.data:
            node.install_snapshot(self._restore_from.data)

    async def start(self) -> None:
        await self.transport.start()
        self._task = asyncio.create_task(self._drive(), name="mabeam-raft")

    async def stop(self) -> None:
        self._stopped = True  # writes that still arrive are refused with a clean 503
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in self._forwarding:
            task.cancel()
        await asyncio.gather(*self._forwarding, return_exceptions=True)
        for batch in self._forwards.values():
            for _, future in batch:
                _fail(future, "this node is shutting down (outcome unknown)")
        self._forwards = {}
        self._fail_all("this node is shutting down (outcome unknown)")
        waiters, self._applied_waiters = self._applied_waiters, []
        for _, _, waiter in waiters:
            _fail(waiter, "this node is shutting down")
        await self.transport.stop()
        self.storage.close()

    # -- the Log protocol ------------------------------------------------------------

    def is_leader(self) -> bool:
        return self.raft.is_leader and self.raft.has_quorum()

    def mode(self) -> str:
        reach = modes.reachable((self.heard, self.transport.last_ok), self.reach_window)
        return modes.mode(self.raft.has_quorum(), self.node_id, self.raft.voters, reach)

    def stale(self) -> bool:
        """May a local read miss writes acknowledged elsewhere?"""
        return not self.is_leader()

    def status(self) -> dict[str, Any]:
        raft = self.raft
        return {
            "role": "candidate" if raft.role.value.endswith("candidate") else raft.role.value,
            "leader": raft.leader_id,
            "term": raft.term,
            "commit_index": raft.commit_index,
            "members": list(raft.voters),
        }

    async def submit(self, command: Command) -> Any:
        if self._stopped:
            raise Unavailable("no_quorum", "this node is shutting down (nothing was written)")
        if self.raft.is_leader:
            return await self.submit_local(command)
        leader = self.raft.leader_id
        if leader is None or self.mode() != modes.NORMAL:
            raise self._no_quorum()
        # Forwarded together with the writes that arrive meanwhile (one request
        # to the leader, answered per command): see _flush_forwards.
        future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self._forwards.setdefault(leader, []).append((command, future))
        self._schedule_forwards()
        applied = await future
        if applied.index is not None:
            await self.wait_own_write(applied.index)
        return applied.unwrap()

    async def wait_own_write(self, index: int) -> None:
        """Until this node applied ``index``, an entry the leader committed for a
        write forwarded from here (guarantee 5: the write's answer, and the
        client's next read here, see it).  503 ``catching_up`` past the commit timeout."""
        timeout = self.options.commit_timeout_s
        if not await self._until_applied(index, timeout):
            raise Unavailable(
                "catching_up",
                f"the write committed at index {index}, but this node (applied {self.raft.applied_index}) "
                f"did not apply it within {timeout:g} s; it is done: read it back on the leader or later",
                outcome="committed",
                index=index,
            )

    def _flush_forwards(self) -> None:
        """Send each leader the writes waiting for it, as one request. While a
        request is on its way the next writes wait for its answer (and grow
        into one batch), unless it is older than FORWARD_STALL_S."""
        self._forward_scheduled = False
        loop = asyncio.get_running_loop()
        now = loop.time()
        for leader in list(self._forwards):
            inflight = self._forward_inflight.get(leader, 0)
            if inflight >= FORWARD_MAX_INFLIGHT:
                continue  # its answer flushes again
            if inflight:
                due = self._forward_last.get(leader, 0.0) + FORWARD_STALL_S
                if due > now:
                    if self._forward_recheck_at <= now:
                        delay = max(due - now, 0.001)
                        self._forward_recheck_at = now + delay
                        loop.call_later(delay, self._schedule_forwards)
                    continue
            batch = self._forwards.pop(leader)
            self._forward_inflight[leader] = inflight + 1
            self._forward_last[leader] = now
            task = asyncio.create_task(self._forward(leader, batch))
            self._forwarding.add(task)
            task.add_done_callback(self._forwarding.discard)

    def _schedule_forwards(self) -> None:
        if self._forwards and not self._forward_scheduled:
            self._forward_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_forwards)

    async def _forward(self, leader: str, batch: list[tuple[Command, asyncio.Future[Applied]]]) -> None:
        """``POST /raft/propose {"commands": [...]}``: the leader's answer for each
        command is this node's answer for it."""
        try:
            await self._forward_batch(leader, batch)
        finally:
            self._forward_inflight[leader] -= 1
            self._schedule_forwards()

    async def _forward_batch(self, leader: str, batch: list[tuple[Command, asyncio.Future[Applied]]]) -> None:
        deadline = self.options.commit_timeout_s + 1.0
        try:
            status, body = await self.transport.request(
                leader, "POST", "/raft/propose", {"commands": [c for c, _ in batch]}, deadline
            )
            if status >= 300:
                error = remote_error(status, body)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                return
            answers = body.get("answers") if isinstance(body, dict) else None
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise ValueError(
                    f"the leader answered {len(answers) if isinstance(answers, list) else 'no'} "
                    f"results for {len(batch)} commands"
                )
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():
                    continue
                if not isinstance(answer, dict):
                    answer = {}
                index = answer.get("index")  # the entry's index, when it was applied on the leader
                index = index if isinstance(index, int) and not isinstance(index, bool) else None
                if "error" in answer:
                    error = remote_error(int(answer.get("status", 500)), answer["error"])
                    if index is None:
                        future.set_exception(error)
                    else:  # refused by apply: applied (as a refusal) at that index
                        future.set_result(Applied(None, error, index))
                else:
                    future.set_result(Applied(answer.get("result"), None, index))
        except PeerUnreachable as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(
                        Unavailable(
                            "no_quorum", f"leader {leader} did not answer the forwarded write ({exc}; outcome unknown)"
                        )
                    )
        except BaseException as exc:  # never leave a request waiting forever
            if not isinstance(exc, Exception):
                for _, future in batch:
                    future.cancel()
                raise
            log.exception("forwarding %d writes to %s failed", len(batch), leader)
            for _, future in batch:
                if not future.done():
                    error = DomainError("internal", f"forwarding the write to leader {leader} failed (outcome unknown)")
                    error.status = 500
                    future.set_exception(error)

    async def submit_local(self, command: Command) -> Any:
        """Propose on this node, which must be the leader with quorum; wait for the commit."""
        return (await self.propose(command)).unwrap()

    async def propose(self, command: Command) -> Applied:
        """Propose on this node, which must be the leader with quorum; wait for the
        commit and the local apply: the result (or apply's refusal) and the index.

        Group commit: the command joins the batch of this loop iteration; the
        batch is proposed as one (one log write, one append per follower) by
        ``_flush_proposals`` as soon as the iteration's other handlers ran. The
        answer still waits for the entry to come out committed, as before."""
        if self._stopped:
            raise Unavailable("no_quorum", "this node is shutting down (nothing was written)")
        if not self.raft.is_leader or not self.raft.has_quorum():
            raise self._no_quorum()
        waiting = _Waiting(command, asyncio.get_running_loop().create_future())
        self._batch.append(waiting)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_proposals)
        future = waiting.future
        timeout = self.options.commit_timeout_s
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            index = waiting.index
            if index is not None and self._pending.get(index, (0, None))[1] is future:
                del self._pending[index]
            raise Unavailable("no_quorum", f"not committed within {timeout:g} s (outcome unknown)") from None

    def _flush_proposals(self) -> None:
        """Propose every command that arrived since the last flush, as one batch."""
        self._flush_scheduled = False
        batch, self._batch = self._batch, []
        if not batch:
            return
        if not self.raft.is_leader or not self.raft.has_quorum():
            error = self._no_quorum()
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(error)
            return
        try:
            out = self._core(self.raft.propose_many, [w.command for w in batch])
        except NotLeader:
            error = self._no_quorum()
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(error)
            return
        for w, proposal in zip(batch, out.proposals, strict=True):
            w.index = proposal.index
            self._pending[proposal.index] = (proposal.term, w.future)
        try:
            self._handle(out)
        except Exception as exc:  # e.g. the disk failed: these requests fail, as they did inline
            log.exception("handling a batch of %d proposals failed", len(batch))
            for w in batch:
                if self._pending.get(w.index, (0, None))[1] is w.future:  # type: ignore[arg-type]
                    del self._pending[w.index]  # type: ignore[arg-type]
                if not w.future.done():
                    w.future.set_exception(exc)

    def _no_quorum(self) -> Unavailable:
        leader = self.raft.leader_id
        where = f"leader {leader}" if leader else "no leader known"
        return Unavailable("no_quorum", f"this node has no quorum (mode {self.mode()}, {where})")

    # -- linearizable reads -------------------------------------------------------------

    async def read_barrier(self) -> None:
        """Return once this node's state includes every write acknowledged before the call."""
        timeout = self.options.commit_timeout_s
        if self.raft.is_leader:
            index = await self.read_index(timeout)
        else:
            leader = self.raft.leader_id
            if leader is None or self.mode() != modes.NORMAL:
                raise self._no_quorum()
            try:
                status, body = await self.transport.request(leader, "POST", "/raft/read_index", {}, timeout + 0.5)
            except PeerUnreachable as exc:
                raise Unavailable("no_quorum", f"leader {leader} did not confirm the read ({exc})") from None
            if status >= 300:
                raise remote_error(status, body)
            index = int(body["index"])
        await self.wait_applied(index, timeout)

    async def read_index(self, timeout: float) -> int:
        """Leader: a read point confirmed by a majority (ReadIndex)."""
        if not self.raft.has_quorum():
            raise self._no_quorum()
        read_id = next(self._read_ids)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reads[read_id] = future
        try:
            out = self._core(self.raft.read_index, read_id)
        except NotLeader:
            self._reads.pop(read_id, None)
            raise self._no_quorum() from None
        self._handle(out)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise Unavailable("no_quorum", f"leadership not confirmed within {timeout:g} s") from None
        finally:
            self._reads.pop(read_id, None)

    async def wait_applied(self, index: int, timeout: float) -> None:
        if not await self._until_applied(index, timeout):
            raise Unavailable("no_quorum", f"did not catch up to index {index} within {timeout:g} s")

    async def _until_applied(self, index: int, timeout: float) -> bool:
        """Wait (bounded by ``timeout``) until this node applied ``index``; whether it did."""
        if self.raft.applied_index >= index:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._applied_waiters, (index, next(self._waiter_seq), future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False  # the cancelled future leaves the heap when the index is reached
        return True

    # -- inputs from peers ---------------------------------------------------------------

    def receive(self, raw: list[Any]) -> list[dict[str, Any]]:
        """Messages from ``POST /raft/message``; ValueError on garbage (-> 400).

        Returns the messages their handling produced for their sender (all of a
        batch come from one sender): the endpoint answers with them, so they
        travel back on the same exchange. They are only returned after the
        storage writes they depend on, like any sent message."""
        messages: list[Message] = [message_from_dict(m) for m in raw]
        if not messages:
            return []
        sender = messages[0].src
        one_sender = all(m.src == sender for m in messages)
        replies = self.transport.capture(sender) if one_sender else []
        try:
            self._receive(messages)
        finally:
            if one_sender:
                self.transport.release()
        return replies

    def _on_reply(self, raw: list[Any]) -> None:
        """Messages a peer answered one of our batches with."""
        self._receive([message_from_dict(m) for m in raw])

    def _receive(self, messages: list[Message]) -> None:
        now = time.monotonic()
        for m in messages:
            self.heard[m.src] = now
            if m.src not in self.raft.voters:
                self.membership.shown_up(m.src)
            self._handle(self._core(self.raft.receive, m))
        if self.raft.is_leader:
            # Answers may have committed entries: followers learn it now, not at
            # the next heartbeat (a write forwarded by one waits for its apply there).
            self._handle(self._core(self.raft.announce_commit))

    def hello(self, peer: str, fresh: str | None) -> dict[str, Any]:
        """A peer without quorum greeting us: it is reachable, and may want to (re)join.
        ``fresh`` is the incarnation id of a ``--join`` process that has no data."""
        self.heard[peer] = time.monotonic()
        if peer not in self.raft.voters or fresh:
            self.membership.shown_up(peer, fresh)
        return {"node": self.node_id, **self.status()}

    # -- the driver -------------------------------------------------------------------

    def _core(self, method, *args):
        """Call into the Raft core.  ``RaftInvariantError`` means this node found
        its own state impossible (e.g. a corrupted data dir): it must stop, not
        keep serving answers built on that state, so it exits with code 70 and
        the harness sees a dead node with the reason at the end of its log."""
        try:
            return method(*args)
        except RaftInvariantError as exc:
            log.critical("%s: raft invariant broken, stopping this node: %s", self.node_id, exc)
            logging.shutdown()
            os._exit(EXIT_INVARIANT_BROKEN)

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.options.tick_s
        next_at = loop.time()
        while True:
            next_at += tick
            delay = next_at - loop.time()
            if delay < -tick * 4:
                next_at = loop.time()  # fell far behind (a paused process): do not burst
            await asyncio.sleep(max(0.0, delay))
            try:
                self._tick()
            except Exception:  # the driver must outlive one bad round
                log.exception("raft driver round failed")

    def _tick(self) -> None:
        self._ticks += 1
        self._handle(self._core(self.raft.tick))
        out = self.membership.step(self.raft)
        if out is not None:
            log.warning("%s: membership change, members now %s", self.node_id, list(self.raft.voters))
            self._handle(out)
        if self._ticks % HELLO_EVERY_TICKS == 0:
            # Only a --join node that never received a log claims to have lost its old identity;
            # it greets until it has one, even if a leader (that still counts it) talks to it.
            fresh = self.incarnation if self.options.join and self.fresh and self.raft.last_index == 0 else None
            if fresh or not self.raft.has_quorum():
                self._greet(fresh)

    def _greet(self, fresh: str | None) -> None:
        for peer in self.options.peers:
            task = asyncio.create_task(self._hello(peer, fresh))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _hello(self, peer: str, fresh: str | None) -> None:
        try:
            await self.transport.request(
                peer, "POST", "/raft/hello", {"node": self.node_id, "fresh": fresh}, self.transport.message_timeout
            )
        except PeerUnreachable:
            pass

    # -- handling one Output, in the order the core requires -------------------------

    def _handle(self, out: Output) -> None:
        self.storage.save(out)  # 1. durable before anything it enables is sent
        for m in out.messages:  # 2. send
            self.transport.send(m.dst, m.to_dict())
        if out.snapshot is not None:  # 3. install, then apply
            self._install(out.snapshot.index, out.snapshot.data)
        for entry in out.committed:
            self._apply(entry)
        if out.committed or out.snapshot is not None:
            self._wake_applied()
            self._maybe_compact()
        for effect in out.effects:  # 4. react
            self._react(effect)

    def _install(self, index: int, data: bytes) -> None:
        if self._node is not None:
            self._node.install_snapshot(data)
        else:
            self.machine.restore_bytes(data)
        self._last_compact = index
        for i in [i for i in self._pending if i <= index]:
            _, future = self._pending.pop(i)
            _fail(future, "replaced by a snapshot before this node saw it commit (outcome unknown)")

    def _apply(self, entry: LogEntry) -> None:
        result: Any = None
        error: DomainError | None = None
        if entry.kind == COMMAND:
            try:
                result = self.machine.apply(entry.data)
            except DomainError as exc:
                error = exc
            except Exception:  # a bug in apply: every replica hits it the same way
                log.exception("apply failed at index %d", entry.index)
                error = DomainError("internal", "the command failed to apply; see the node log")
                error.status = 500
        waiting = self._pending.pop(entry.index, None)
        if waiting is None:
            return
        term, future = waiting
        if future.done():
            return
        if term != entry.term:
            _fail(future, "superseded by another leader's entry (not applied)")
        else:
            future.set_result(Applied(result, error, entry.index))

    def _wake_applied(self) -> None:
        applied = self.raft.applied_index
        waiters = self._applied_waiters
        while waiters and waiters[0][0] <= applied:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    def _maybe_compact(self) -> None:
        applied = self.raft.applied_index
        if applied - self._last_compact < self.options.snapshot_every:
            return
        self._last_compact = applied
        self._handle(self._core(self.raft.compact, applied, self.machine.snapshot_bytes()))

    def _react(self, effect: Any) -> None:
        if isinstance(effect, ReadReady):
            future = self._reads.get(effect.read_id)
            if future is not None and not future.done():
                future.set_result(effect.index)
        elif isinstance(effect, ReadFailed):
            future = self._reads.get(effect.read_id)
            if future is not None and not future.done():
                future.set_exception(Unavailable("no_quorum", f"read not confirmed: {effect.reason}"))
        elif isinstance(effect, SteppedDown):
            log.warning("%s: stepped down (%s) in term %d", self.node_id, effect.reason, effect.term)
            self._fail_all(f"leadership lost ({effect.reason}) before the commit (outcome unknown)")
        elif isinstance(effect, BecameLeader):
            log.warning("%s: leader in term %d", self.node_id, effect.term)
            if self._node is not None:
                self._node.runtime.resync()  # wake the drivers: they act now

    def _fail_all(self, detail: str) -> None:
        batch, self._batch = self._batch, []
        for w in batch:
            _fail(w.future, detail)
        pending, self._pending = self._pending, {}
        for _, future in pending.values():
            _fail(future, detail)
        for read in self._reads.values():
            _fail(read, detail)


class Applied:
    """A command's outcome once applied at ``index``: apply's result, or the
    DomainError apply refused it with (a refusal holds its log position too).
    ``index`` is None for a forwarded write whose leader did not say it."""

    __slots__ = ("result", "error", "index")

    def __init__(self, result: Any, error: DomainError | None, index: int | None) -> None:
        self.result = result
        self.error = error
        self.index = index

    def unwrap(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class _Waiting:
    """A write waiting for its batch to be proposed, then for its commit."""

    __slots__ = ("command", "future", "index")

    def __init__(self, command: Command, future: asyncio.Future[Applied]) -> None:
        self.command = command
        self.future = future
        self.index: int | None = None


def _fail(future: asyncio.Future[Any], detail: str) -> None:
    if not future.done():
        future.set_exception(Unavailable("no_quorum", detail))
