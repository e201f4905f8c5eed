"""A seeded, single-threaded simulation of a Raft cluster on a hostile network.

One seed fixes everything: cluster size, timing, network faults (delay, loss,
duplication, reordering, partitions), crashes and restarts (a restarted node
keeps only what its ``MemoryStorage`` persisted), snapshots, membership changes
and client traffic. The ``Checker`` watches every step for the Raft safety
properties; after the chaos phase the network heals and a leader must be elected
and a fresh proposal committed within a bound of ticks (liveness).

Replay one seed: ``python -m mabeam.raft.sim --seed 1234 --trace`` or
``RAFT_SIM_SEED=1234 pytest tests/mabeam/test_raft_sim.py -k replay``.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .core import PLANTED_BUGS, RaftNode
from .entries import COMMAND, LogEntry, Snapshot
from .messages import InstallSnapshot, Message, message_from_dict
from .output import (
    BecameLeader,
    ConfigChanged,
    ConfigChangeRejected,
    NotLeader,
    Output,
    RaftInvariantError,
    ReadFailed,
    ReadReady,
)
from .proposals import COMMITTED, Outcome, ProposalTracker
from .storage import MemoryStorage


class SimFailure(AssertionError):
    """A property the simulator checks was violated; ``kind`` names which."""

    def __init__(self, kind: str, detail: str, *, seed: int | None = None, tick: int = 0) -> None:
        self.kind = kind
        self.detail = detail
        self.seed = seed
        self.tick = tick
        super().__init__(self._text())

    def _text(self) -> str:
        return f"[{self.kind}] seed={self.seed} tick={self.tick}: {self.detail}"

    def locate(self, seed: int, tick: int) -> SimFailure:
        self.seed, self.tick = seed, tick
        self.args = (self._text(),)
        return self


class SafetyViolation(SimFailure):
    """Election safety, log matching, leader completeness, state machine safety,
    durability of acknowledged writes or read linearizability broke."""


class LivenessViolation(SimFailure):
    """No leader, or no new commit, within the bound after the network healed."""


def replay_command(seed: int, planted_bug: str | None = None) -> str:
    env = f"RAFT_SIM_SEED={seed}"
    if planted_bug:
        env += f" RAFT_SIM_BUG={planted_bug}"
    return f"{env} /work/venv/bin/pytest tests/mabeam/test_raft_sim.py -k replay -s"


# -- configuration ---------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """Everything a run depends on; ``from_seed`` derives it from the seed alone."""

    seed: int
    nodes: int = 5
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    max_delay: int = 2
    drop_rate: float = 0.05
    dup_rate: float = 0.05
    chaos_ticks: int = 150
    propose_rate: float = 0.4
    read_rate: float = 0.1
    partition_rate: float = 0.03
    heal_rate: float = 0.05
    crash_rate: float = 0.015
    restart_rate: float = 0.05
    snapshot_rate: float = 0.03
    max_batch: int = 16
    membership: bool = False
    wire: bool = False
    planted_bug: str | None = None
    check_every: int = 25

    @property
    def liveness_ticks(self) -> int:
        """Bound for electing a leader and committing a new entry after healing:
        a handful of randomized election rounds, plus the round trips a new
        leader may need to bring a majority up to date over the whole chaos
        phase's writes (``max_batch`` entries per append, 4 appends in flight)."""
        round_trip = 2 * self.max_delay + 1
        backlog = -(-int(self.chaos_ticks * self.propose_rate) // (4 * self.max_batch))
        return 25 * self.election_ticks + 10 * self.max_delay + backlog * round_trip

    @classmethod
    def from_seed(cls, seed: int, *, planted_bug: str | None = None, chaos_ticks: int | None = None) -> SimConfig:
        r = random.Random(f"raft-sim-config/{seed}")
        election = r.choice([6, 8, 10, 12])
        return cls(
            seed=seed,
            nodes=r.choice([3, 3, 5, 5, 5, 7]),
            election_ticks=election,
            heartbeat_ticks=r.choice([1, 2, 2, 3]),
            max_delay=r.randint(1, max(1, election // 4)),
            drop_rate=r.choice([0.0, 0.02, 0.05, 0.15, 0.3]),
            dup_rate=r.choice([0.0, 0.02, 0.1, 0.3]),
            chaos_ticks=chaos_ticks if chaos_ticks is not None else r.choice([100, 150, 200]),
            propose_rate=r.choice([0.1, 0.4, 1.0]),
            read_rate=r.choice([0.0, 0.1, 0.3]),
            partition_rate=r.choice([0.0, 0.02, 0.05, 0.1]),
            heal_rate=r.choice([0.02, 0.05, 0.15]),
            crash_rate=r.choice([0.0, 0.01, 0.03, 0.06]),
            restart_rate=r.choice([0.03, 0.1, 0.2]),
            snapshot_rate=r.choice([0.0, 0.03, 0.1]),
            max_batch=r.choice([1, 2, 4, 16, 64]),
            membership=r.random() < 0.4,
            wire=r.random() < 0.15,
            planted_bug=planted_bug,
        )


# -- the application: an append-only list of commands --------------------------


class StateMachine:
    """Applied commands in order. Its snapshot is the whole list, which lets the
    checker verify snapshots against the global history."""

    __slots__ = ("last_index", "cmds")

    def __init__(self, last_index: int = 0, cmds: list[list[Any]] | None = None) -> None:
        self.last_index = last_index
        self.cmds: list[list[Any]] = cmds if cmds is not None else []  # [index, term, data]

    def apply(self, e: LogEntry) -> None:
        if e.index != self.last_index + 1:
            raise SafetyViolation("apply_gap", f"applied {e.index} after {self.last_index}")
        self.last_index = e.index
        if e.kind == COMMAND:
            self.cmds.append([e.index, e.term, e.data])

    def snapshot(self) -> bytes:
        return json.dumps({"last": self.last_index, "cmds": self.cmds}).encode()

    @classmethod
    def restore(cls, data: bytes) -> StateMachine:
        if not data:
            return cls()
        raw = json.loads(data)
        return cls(raw["last"], raw["cmds"])


# -- the checker -------------------------------------------------------------------


@dataclass(slots=True)
class Committed:
    term: int
    kind: str
    data: Any
    seen_in_term: int  # the applier's term when first seen: >= the term it committed in


class Checker:
    """Records everything committed anywhere and fails on the first contradiction."""

    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}
        self.history: dict[int, Committed] = {}
        self.command_at: dict[Any, int] = {}
        self.max_committed = 0
        self.acked: dict[str, tuple[int, int]] = {}

    def on_leader(self, node: str, term: int, raft: RaftNode) -> None:
        other = self.leaders.setdefault(term, node)
        if other != node:
            raise SafetyViolation("election_safety", f"{other} and {node} both lead term {term}")
        # Leader completeness: whatever was committed in an earlier term is in our log.
        log = raft.log
        for i in range(log.snapshot.index + 1, self.max_committed + 1):
            c = self.history.get(i)
            if c is None or c.seen_in_term >= term:
                continue
            if log.term_at(i) != c.term:
                raise SafetyViolation(
                    "leader_completeness",
                    f"{node} leads term {term} but has term {log.term_at(i)} at {i}, committed with term {c.term}",
                )

    def on_apply(self, node: str, e: LogEntry, node_term: int) -> None:
        c = self.history.get(e.index)
        if c is None:
            self.history[e.index] = Committed(e.term, e.kind, e.data, node_term)
            if e.index > self.max_committed:
                self.max_committed = e.index
            if e.kind == COMMAND and isinstance(e.data, str):
                first = self.command_at.setdefault(e.data, e.index)
                if first != e.index:
                    raise SafetyViolation("duplicate_apply", f"{e.data!r} committed at {first} and {e.index}")
        elif c.term != e.term or c.kind != e.kind or c.data != e.data:
            raise SafetyViolation(
                "state_machine_safety",
                f"{node} applied ({e.term}, {e.data!r}) at {e.index}; another node applied ({c.term}, {c.data!r})",
            )

    def on_restore(self, node: str, snap: Snapshot, sm: StateMachine) -> None:
        if sm.last_index != snap.index:
            raise SafetyViolation("snapshot", f"{node}: snapshot at {snap.index} holds {sm.last_index}")
        for index, term, data in sm.cmds:
            c = self.history.get(index)
            if c is None or c.term != term or c.data != data:
                raise SafetyViolation(
                    "state_machine_safety",
                    f"{node} restored a snapshot with ({term}, {data!r}) at {index}, history has {c}",
                )
        if snap.index > self.max_committed:
            self.max_committed = snap.index

    def check_read(self, node: str, index: int, required: int) -> None:
        if index < required:
            raise SafetyViolation(
                "stale_read",
                f"{node} served a read at index {index}, but {required} was committed before it was asked",
            )

    def check_log_matching(self, rafts: list[RaftNode]) -> None:
        """Same (index, term) in two logs implies identical prefixes."""
        for a_pos, a in enumerate(rafts):
            for b in rafts[a_pos + 1 :]:
                la, lb = a.log, b.log
                lo = max(la.snapshot.index, lb.snapshot.index) + 1
                i = min(la.last_index, lb.last_index)
                while i >= lo and la.term_at(i) != lb.term_at(i):
                    i -= 1
                if i < lo:
                    continue
                if la.slice(lo, i + 1) != lb.slice(lo, i + 1):
                    raise SafetyViolation(
                        "log_matching",
                        f"{a.id} and {b.id} agree on the term at {i} but differ in [{lo}, {i}]",
                    )

    def check_durable(self, sm: StateMachine, holder: str) -> None:
        """Every acknowledged write is in the final state of the cluster."""
        held = {index: (term, data) for index, term, data in sm.cmds}
        for cmd, (index, term) in self.acked.items():
            if index > sm.last_index:
                raise SafetyViolation("lost_write", f"{cmd!r} acked at {index} but {holder} stops at {sm.last_index}")
            if held.get(index) != (term, cmd):
                raise SafetyViolation(
                    "lost_write", f"{cmd!r} acked at ({index}, {term}); {holder} has {held.get(index)}"
                )


# -- the cluster -------------------------------------------------------------------


@dataclass(slots=True)
class SimNode:
    id: str
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    raft: RaftNode | None = None
    sm: StateMachine | None = None
    incarnation: int = 0
    changed_at: int = 0  # tick of the last crash or restart
    proposals: ProposalTracker = field(default_factory=ProposalTracker)  # tokens: commands
    reads: dict[int, int] = field(default_factory=dict)  # read id -> required index


@dataclass
class SimReport:
    seed: int
    config: SimConfig
    ticks: int = 0
    heal_tick: int = 0
    commit_after_heal: int = 0  # ticks from heal to the probe being acknowledged
    stats: Counter = field(default_factory=Counter)


class Simulation:
    def __init__(self, config: SimConfig, *, trace: bool = False) -> None:
        self.cfg = config
        self.rng = random.Random(f"raft-sim/{config.seed}")
        self.ids = [f"n{i}" for i in range(1, config.nodes + 1)]
        self.nodes = {i: SimNode(i) for i in self.ids}
        self.checker = Checker()
        self.now = 0
        self.drop_rate = config.drop_rate
        self.dup_rate = config.dup_rate
        self.groups: dict[str, int] | None = None
        self._queue: list[tuple[int, float, int, Message]] = []
        self._seq = 0
        self._next_cmd = 0
        self._next_read = 0
        self.report = SimReport(config.seed, config)
        self.stats = self.report.stats
        self.trace: list[str] | None = [] if trace else None
        for i in self.ids:
            self._start(self.nodes[i])

    # -- running -----------------------------------------------------------------

    def run(self) -> SimReport:
        try:
            self._run()
        except SimFailure as failure:
            raise failure.locate(self.cfg.seed, self.now) from None
        except RaftInvariantError as exc:
            raise SafetyViolation("core_invariant", str(exc), seed=self.cfg.seed, tick=self.now) from exc
        return self.report

    def _run(self) -> None:
        cfg = self.cfg
        while self.now < cfg.chaos_ticks:
            self._chaos()
            self._step()
        self._heal()
        probe = self._await_probe()
        self._await_convergence(probe)
        self.checker.check_log_matching(self._live())
        leader = self._leader()
        assert leader is not None and leader.sm is not None
        self.checker.check_durable(leader.sm, leader.id)
        self.report.ticks = self.now

    def _step(self) -> None:
        self.now += 1
        q = self._queue
        while q and q[0][0] <= self.now:
            m = heapq.heappop(q)[3]
            dst = self.nodes[m.dst]
            if dst.raft is None or (self.groups and self.groups[m.src] != self.groups[m.dst]):
                self.stats["lost"] += 1
                continue
            self.stats["delivered"] += 1
            if isinstance(m, InstallSnapshot):
                self.stats["snapshots_delivered"] += 1
            self._handle(dst, dst.raft.receive(m))
            if dst.raft is not None and dst.raft.is_leader:  # as the real driver does after each receive
                self._handle(dst, dst.raft.announce_commit())
        order = [n for n in self.nodes.values() if n.raft is not None]
        self.rng.shuffle(order)
        for n in order:
            if n.raft is not None:
                self._handle(n, n.raft.tick())
        if self.now % self.cfg.check_every == 0:
            self.checker.check_log_matching(self._live())

    def _handle(self, node: SimNode, out: Output) -> None:
        if out.is_empty():
            return
        raft, sm = node.raft, node.sm
        assert raft is not None and sm is not None
        node.storage.apply(out)
        for m in out.messages:
            self._send(m)
        if out.snapshot is not None:
            sm = node.sm = StateMachine.restore(out.snapshot.data)
            self.checker.on_restore(node.id, out.snapshot, sm)
            self.stats["snapshots_installed"] += 1
            self._log(f"{node.id} installed snapshot at {out.snapshot.index}")
        for e in out.committed:
            sm.apply(e)
            self.checker.on_apply(node.id, e, raft.term)
        for outcome in node.proposals.resolve(out):
            self._answer_client(outcome)
        for eff in out.effects:
            if isinstance(eff, BecameLeader):
                self.stats["elections"] += 1
                self._log(f"{node.id} leads term {eff.term}")
                self.checker.on_leader(node.id, eff.term, raft)
            elif isinstance(eff, ReadReady):
                required = node.reads.pop(eff.read_id)
                self.checker.check_read(node.id, eff.index, required)
                self.stats["reads_served"] += 1
            elif isinstance(eff, ReadFailed):
                node.reads.pop(eff.read_id, None)
                self.stats["reads_failed"] += 1
            elif isinstance(eff, ConfigChanged):
                self._log(f"{node.id} config {eff.voters} at {eff.index}")
            elif self.trace is not None:
                self._log(f"{node.id} {eff}")

    def _answer_client(self, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        if outcome.status == COMMITTED:
            assert outcome.entry is not None
            self.checker.acked[outcome.token] = (outcome.entry.index, outcome.entry.term)
        self.stats[outcome.status] += 1

    def _send(self, m: Message) -> None:
        if self.cfg.wire:
            m = message_from_dict(json.loads(json.dumps(m.to_dict())))
        rng = self.rng
        if rng.random() < self.drop_rate:
            self.stats["dropped"] += 1
            return
        copies = 2 if rng.random() < self.dup_rate else 1
        for _ in range(copies):
            self._seq += 1
            at = self.now + 1 + int(rng.random() * self.cfg.max_delay)
            heapq.heappush(self._queue, (at, rng.random(), self._seq, m))
        if copies == 2:
            self.stats["duplicated"] += 1

    # -- faults ------------------------------------------------------------------

    def _chaos(self) -> None:
        cfg, r = self.cfg, self.rng
        if r.random() < cfg.propose_rate:
            self._client_propose()
        if r.random() < cfg.read_rate:
            self._client_read()
        if self.groups is None:
            if r.random() < cfg.partition_rate:
                self._partition()
        elif r.random() < cfg.heal_rate:
            self.groups = None
            self._log("heal")
        if r.random() < cfg.crash_rate:
            leader = self._leader()
            up = [n for n in self.nodes.values() if n.raft is not None]
            if leader is not None and r.random() < 0.5:
                self._crash(leader)  # leader crashes are the interesting ones
            elif up:
                self._crash(r.choice(up))
        if r.random() < cfg.restart_rate:
            down = [n for n in self.nodes.values() if n.raft is None]
            if down:
                self._start(r.choice(down))
        if r.random() < cfg.snapshot_rate:
            self._compact(r.choice(self.ids))
        if cfg.membership:
            self._operator()

    def _partition(self) -> None:
        """Random groups, or half the time the leader cut off with at most one
        other node (the minority side keeps a stale leader for a while)."""
        r = self.rng
        leader = self._leader()
        if leader is not None and r.random() < 0.5:
            self.groups = {i: 1 for i in self.ids}
            self.groups[leader.id] = 0
            if r.random() < 0.5:
                self.groups[r.choice(self.ids)] = 0
        else:
            k = r.choice([2, 2, 3])
            self.groups = {i: r.randrange(k) for i in self.ids}
        self.stats["partitions"] += 1
        self._log(f"partition {self.groups}")

    def _crash(self, node: SimNode) -> None:
        node.raft = node.sm = None
        node.proposals = ProposalTracker()  # the clients' connections died with it
        node.reads.clear()
        node.changed_at = self.now
        self.stats["crashes"] += 1
        self._log(f"{node.id} crashed")

    def _start(self, node: SimNode) -> None:
        """Boot (or reboot) from whatever the node's storage holds."""
        cfg = self.cfg
        node.incarnation += 1
        state = node.storage.state()
        node.raft = RaftNode(
            node.id,
            self.ids,
            seed=f"{cfg.seed}/{node.id}/{node.incarnation}",
            election_ticks=cfg.election_ticks,
            heartbeat_ticks=cfg.heartbeat_ticks,
            max_batch=cfg.max_batch,
            state=state,
            planted_bug=cfg.planted_bug,
        )
        node.sm = StateMachine.restore(state.snapshot.data) if state.snapshot else StateMachine()
        if state.snapshot is not None:
            self.checker.on_restore(node.id, state.snapshot, node.sm)
        node.changed_at = self.now
        if node.incarnation > 1:
            self.stats["restarts"] += 1
            self._log(f"{node.id} restarted (term {node.raft.term})")

    def _compact(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.raft is None or node.sm is None:
            return
        index = node.raft.applied_index
        if index - node.raft.log.snapshot.index < 3:
            return
        self._handle(node, node.raft.compact(index, node.sm.snapshot()))
        self.stats["compactions"] += 1

    def _heal(self) -> None:
        """Reconnect everyone, stop losing messages, and bring nodes back up —
        all of them, or (fixed membership only) all but a random minority that
        stays down: a majority must be enough to make progress."""
        self.groups = None
        self.drop_rate = self.dup_rate = 0.0
        stay_down: set[str] = set()
        if not self.cfg.membership and self.rng.random() < 0.5:
            minority = self.rng.randint(1, (self.cfg.nodes - 1) // 2)
            stay_down = set(self.rng.sample(self.ids, minority))
        for node in self.nodes.values():
            if node.id in stay_down:
                if node.raft is not None:
                    self._crash(node)
            elif node.raft is None:
                self._start(node)
        self.report.heal_tick = self.now
        self._log(f"healed: no loss, down: {sorted(stay_down)}")

    # -- clients and operator ----------------------------------------------------------

    def _connected(self, a: str, b: str) -> bool:
        return self.groups is None or self.groups[a] == self.groups[b]

    def _client_propose(self, cmd: str | None = None) -> SimNode | None:
        """Send a command to a random node, which forwards it once to its leader."""
        up = [n for n in self.nodes.values() if n.raft is not None]
        if not up:
            return None
        node = self.rng.choice(up)
        if cmd is None:
            self._next_cmd += 1
            cmd = f"c{self._next_cmd}"
        for _ in range(2):
            assert node.raft is not None
            try:
                out = node.raft.propose(cmd)
            except NotLeader as exc:
                hint = self.nodes.get(exc.leader_id) if exc.leader_id else None
                if hint is None or hint.raft is None or not self._connected(node.id, hint.id):
                    return None
                node = hint
                continue
            assert out.proposal is not None
            self._answer_client(node.proposals.track(out.proposal, cmd))
            self.stats["proposed"] += 1
            self._handle(node, out)
            return node
        return None

    def _client_read(self) -> None:
        up = [n for n in self.nodes.values() if n.raft is not None and n.raft.is_leader]
        if not up:
            return
        node = self.rng.choice(up)
        assert node.raft is not None
        self._next_read += 1
        node.reads[self._next_read] = self.checker.max_committed
        self.stats["reads"] += 1
        self._handle(node, node.raft.read_index(self._next_read))

    def _leader(self) -> SimNode | None:
        best = None
        for n in self.nodes.values():
            if n.raft is not None and n.raft.is_leader:
                if best is None or n.raft.term > best.raft.term:  # type: ignore[union-attr]
                    best = n
        return best

    def _operator(self) -> None:
        """What the node wrapper does: drop a voter unreachable past a grace
        period, add back a node that is up but not a voter."""
        leader = self._leader()
        if leader is None or leader.raft is None or leader.raft.config_pending():
            return
        raft = leader.raft
        voters = raft.voters
        grace = 3 * self.cfg.election_ticks
        minimum = max(2, self.cfg.nodes // 2)
        try:
            for peer, age in raft.peer_contact_ages().items():
                if age > grace and len(voters) > minimum:
                    self._handle(leader, raft.change_membership(remove=peer))
                    self.stats["removals"] += 1
                    self._log(f"operator: {leader.id} removes {peer}")
                    return
            for n in self.nodes.values():
                if (
                    n.id not in voters
                    and n.raft is not None
                    and self.now - n.changed_at > grace
                    and self._connected(n.id, leader.id)
                ):
                    self._handle(leader, raft.change_membership(add=n.id))
                    self.stats["additions"] += 1
                    self._log(f"operator: {leader.id} adds {n.id}")
                    return
        except ConfigChangeRejected:
            return

    # -- liveness -------------------------------------------------------------------

    def _await_probe(self) -> int:
        """After healing, a leader must commit a brand-new command within the bound."""
        deadline = self.now + self.cfg.liveness_ticks
        self._next_cmd += 1
        attempt = 0
        pending: tuple[SimNode, int, int, str] | None = None
        while True:
            if pending is not None:
                node, index, term, cmd = pending
                if cmd in self.checker.acked:
                    self.report.commit_after_heal = self.now - self.report.heal_tick
                    return index
                r = node.raft
                if r is None or not r.is_leader or r.term != term:
                    pending = None
            if pending is None:
                leader = self._leader()
                if leader is not None and leader.raft is not None:
                    attempt += 1
                    cmd = f"probe-{attempt}"
                    out = leader.raft.propose(cmd)
                    assert out.proposal is not None
                    self._answer_client(leader.proposals.track(out.proposal, cmd))
                    pending = (leader, out.proposal.index, out.proposal.term, cmd)
                    self._handle(leader, out)
            if self.now >= deadline:
                raise LivenessViolation(
                    "liveness",
                    f"no new commit {self.cfg.liveness_ticks} ticks after healing; roles {self._roles()}",
                )
            self._step()

    def _await_convergence(self, index: int) -> None:
        """Then every voter that is up must apply up to the probe (snapshots included)."""
        deadline = self.now + self.cfg.liveness_ticks
        while True:
            leader = self._leader()
            if leader is not None and leader.raft is not None:
                behind = [
                    v for v in leader.raft.voters if (r := self.nodes[v].raft) is not None and r.applied_index < index
                ]
                if not behind:
                    return
            if self.now >= deadline:
                raise LivenessViolation("convergence", f"voters still behind index {index}: roles {self._roles()}")
            self._step()

    # -- helpers ----------------------------------------------------------------------

    def _live(self) -> list[RaftNode]:
        return [n.raft for n in self.nodes.values() if n.raft is not None]

    def _roles(self) -> dict[str, str]:
        return {n.id: (f"{n.raft.role.value}@{n.raft.term}" if n.raft else "down") for n in self.nodes.values()}

    def _log(self, line: str) -> None:
        if self.trace is not None:
            self.trace.append(f"{self.now:5d} {line}")


def trace_digest(seed: int, *, planted_bug: str | None = None) -> str:
    """A fingerprint of a whole traced run: equal digests mean identical runs
    (used to prove a seed replays the same way in any process)."""
    sim = Simulation(SimConfig.from_seed(seed, planted_bug=planted_bug), trace=True)
    try:
        outcome = json.dumps(sorted(sim.run().stats.items()))
    except SimFailure as failure:
        outcome = str(failure)
    assert sim.trace is not None
    return hashlib.sha256("\n".join([*sim.trace, outcome]).encode()).hexdigest()


def run_seed(
    seed: int,
    *,
    planted_bug: str | None = None,
    chaos_ticks: int | None = None,
    trace: bool = False,
) -> SimReport:
    """Run one seeded simulation; raises SimFailure (with the seed) on a violation."""
    cfg = SimConfig.from_seed(seed, planted_bug=planted_bug, chaos_ticks=chaos_ticks)
    return Simulation(cfg, trace=trace).run()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--count", type=int, default=1, help="number of consecutive seeds")
    p.add_argument("--bug", choices=sorted(PLANTED_BUGS), help="plant a bug in every node")
    p.add_argument("--chaos-ticks", type=int, help="override the chaos phase length")
    p.add_argument("--trace", action="store_true", help="print the event trace of each run")
    args = p.parse_args(argv)
    failures = 0
    for seed in range(args.seed, args.seed + args.count):
        sim = Simulation(
            SimConfig.from_seed(seed, planted_bug=args.bug, chaos_ticks=args.chaos_ticks),
            trace=args.trace,
        )
        try:
            report = sim.run()
        except SimFailure as failure:
            failures += 1
            if sim.trace:
                print("\n".join(sim.trace[-200:]))
            print(f"FAIL {failure}\n  replay: {replay_command(seed, args.bug)}")
            continue
        if args.trace and sim.trace:
            print("\n".join(sim.trace))
        if args.count == 1 or args.trace:
            print(f"seed {seed}: ok {report.ticks} ticks, {dict(report.stats)}")
    print(f"{args.count - failures}/{args.count} seeds passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
