"""The Raft state machine of one node: pure, deterministic, driven by its caller.

Inputs are ``tick()``, ``receive(message)``, ``propose(command)``,
``read_index(read_id)``, ``change_membership(...)``, ``compact(...)`` and
``campaign()``; each returns an ``Output`` (messages, durable writes, committed
entries, effects). The only randomness is the election timeout, drawn from an
injected seeded RNG. See the package docstring for how a driver uses it.

Protocol choices, and why (details in the mixin modules):

* PreVote and leader stickiness (election.py): a partitioned or removed node
  cannot disrupt a working cluster.
* CheckQuorum (``tick``): a leader that has not heard from a majority of the
  configuration for ``election_ticks`` steps down, so a partitioned leader stops
  taking writes quickly; ``has_quorum()`` reports the same thing.
* Commit only by counting replicas of the current term's entries (leader.py).
* Membership: one voter added or removed at a time; a configuration is in force
  as soon as its entry is in the log; a new change needs the previous one
  committed and the leader to have committed an entry of its own term.
* ReadIndex (leader.py): linearizable reads confirmed by a heartbeat round.
"""

from __future__ import annotations

import random
from typing import Any

from .election import Elections
from .entries import COMMAND, CONFIG, HardState, Snapshot
from .follower import Following
from .leader import Leadership
from .log import RaftLog
from .messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    SnapshotResponse,
    VoteRequest,
    VoteResponse,
)
from .output import (
    ConfigChangeRejected,
    Output,
    RaftInvariantError,
    ReadReady,
    SnapshotOp,
)
from .progress import PendingRead, Progress
from .state import PLANTED_BUGS, Role
from .storage import PersistentState

__all__ = ["PLANTED_BUGS", "RaftNode", "Role"]


class RaftNode(Elections, Leadership, Following):
    """One Raft participant. Not thread-safe: drive it from one task.

    ``seed`` (or ``rng``) feeds the randomized election timeout only; give each
    process start a different seed in production, a fixed one in tests.
    """

    def __init__(
        self,
        node_id: str,
        voters: tuple[str, ...] | list[str] = (),
        *,
        seed: int | str | None = None,
        rng: random.Random | None = None,
        election_ticks: int = 10,
        heartbeat_ticks: int = 1,
        max_batch: int = 64,
        max_inflight: int = 4,
        pre_vote: bool = True,
        state: PersistentState | None = None,
        planted_bug: str | None = None,
    ) -> None:
        if heartbeat_ticks < 1 or election_ticks <= heartbeat_ticks:
            raise ValueError("need 1 <= heartbeat_ticks < election_ticks")
        if planted_bug is not None and planted_bug not in PLANTED_BUGS:
            raise ValueError(f"unknown planted bug {planted_bug!r}")
        self.id = node_id
        self._rng = rng if rng is not None else random.Random(f"{seed}/{node_id}")
        self.election_ticks = election_ticks
        self.heartbeat_ticks = heartbeat_ticks
        self.max_batch = max_batch  # entries per AppendEntries
        self.max_inflight = max_inflight  # unacknowledged batches per follower
        self.pre_vote = pre_vote
        self._bug = planted_bug

        state = state or PersistentState()
        snapshot = state.snapshot or Snapshot(0, 0, tuple(sorted(voters)))
        self.log = RaftLog(snapshot, state.entries)
        self.term = state.hard_state.term
        self.voted_for = state.hard_state.voted_for
        self._saved_hard_state = state.hard_state
        # (index, voters) of the snapshot's config and of every config entry after it.
        self._configs: list[tuple[int, tuple[str, ...]]] = [(snapshot.index, snapshot.voters)]
        self._configs += [(e.index, e.voters()) for e in self.log.entries() if e.kind == CONFIG]
        self.commit_index = snapshot.index
        self._applied = snapshot.index  # last index handed out in Output.committed

        self.role = Role.FOLLOWER
        self.leader_id: str | None = None
        self._now = 0
        self._election_elapsed = 0
        self._timeout = self._random_timeout()
        self._heartbeat_elapsed = 0
        self._last_leader_contact: int | None = None
        self._votes: dict[str, bool] = {}
        self._progress: dict[str, Progress] = {}
        self._reads: list[PendingRead] = []
        self._read_seq = 0
        self._out = Output()

    # -- queries (no side effects) -------------------------------------------------

    def leader_contact_age(self) -> int | None:
        """Ticks since this node last knew a majority was behind the current leader.

        On the leader: since a majority of the configuration last answered it
        (the leader counts as answering itself). Elsewhere: since the last
        message from the leader. None if there never was one.
        """
        if self.role is Role.LEADER:
            heard = sorted(
                (self._now if v == self.id else self._progress[v].last_heard)
                for v in self.voters
                if v == self.id or v in self._progress
            )
            need = self.quorum()
            if len(heard) < need:
                return None
            return self._now - heard[-need]
        if self._last_leader_contact is None:
            return None
        return self._now - self._last_leader_contact

    def has_quorum(self) -> bool:
        """Does this node currently see a leader backed by a majority?

        False on a follower that has not heard from a leader for an election
        timeout (partition suspected) and on a leader that lost its majority.
        """
        age = self.leader_contact_age()
        if self.role is Role.LEADER:
            return age is not None and age <= self.election_ticks
        return self.leader_id is not None and age is not None and age < self.election_ticks

    def peer_contact_ages(self) -> dict[str, int]:
        """Leader only: ticks since each other voter last answered (to decide
        which unreachable node to remove after a grace period)."""
        if self.role is not Role.LEADER:
            return {}
        return {p: self._now - pr.last_heard for p, pr in self._progress.items()}

    def status(self) -> dict[str, Any]:
        """A JSON-able summary for /health-style endpoints."""
        return {
            "id": self.id,
            "role": self.role.value,
            "term": self.term,
            "leader": self.leader_id,
            "voters": list(self.voters),
            "commit_index": self.commit_index,
            "applied_index": self._applied,
            "last_index": self.log.last_index,
            "snapshot_index": self.log.snapshot.index,
            "has_quorum": self.has_quorum(),
            "leader_contact_age": self.leader_contact_age(),
        }

    # -- inputs (each returns the Output to handle) ------------------------------------

    def tick(self) -> Output:
        """Advance logical time by one tick (the driver calls this periodically)."""
        self._now += 1
        if self.role is Role.LEADER:
            age = self.leader_contact_age()
            if age is None or age > self.election_ticks:
                self._step_down(self.term, "check_quorum")
            else:
                self._heartbeat_elapsed += 1
                if self._heartbeat_elapsed >= self.heartbeat_ticks:
                    self._broadcast_heartbeat()
        else:
            self._election_elapsed += 1
            if self._election_elapsed >= self._timeout and self._promotable():
                self._campaign()
        return self._drain()

    def campaign(self) -> Output:
        """Start an election now (as if the election timer fired)."""
        if self.role is not Role.LEADER and self._promotable():
            self._campaign()
        return self._drain()

    def propose(self, command: Any) -> Output:
        """Append ``command`` (JSON-serialisable) if leader; ``Output.proposal``
        tells where. Raises NotLeader otherwise."""
        self._require_leader()
        self._out.proposal = self._leader_append(COMMAND, command)
        return self._drain()

    def propose_many(self, commands: list[Any] | tuple[Any, ...]) -> Output:
        """Group commit: append every command (in order) as one batch, then send
        each follower one append for the lot instead of one per command.
        ``Output.proposals`` tells where each landed (same rule as ``propose``).
        Raises NotLeader otherwise."""
        self._require_leader()
        self._out.proposals = self._leader_append_many(COMMAND, commands)
        return self._drain()

    def change_membership(self, *, add: str | None = None, remove: str | None = None) -> Output:
        """Propose adding or removing exactly one voter (leader only).

        Raises ConfigChangeRejected if a change is still pending, if this leader
        has not committed an entry of its own term yet, or if the change is a
        no-op. The new configuration is in force as soon as this returns.
        """
        self._require_leader()
        if (add is None) == (remove is None):
            raise ConfigChangeRejected("give exactly one of add= or remove=")
        if self.config_pending():
            raise ConfigChangeRejected("a membership change is still pending")
        if self.log.term_at(self.commit_index) != self.term:
            raise ConfigChangeRejected("leader has not committed an entry of its term yet")
        voters = set(self.voters)
        if add is not None:
            if add in voters:
                raise ConfigChangeRejected(f"{add} is already a voter")
            voters.add(add)
        else:
            if remove not in voters:
                raise ConfigChangeRejected(f"{remove} is not a voter")
            if len(voters) == 1:
                raise ConfigChangeRejected("cannot remove the last voter")
            voters.discard(remove)
        data = {"voters": sorted(voters)}
        self._out.proposal = self._leader_append(CONFIG, data)
        return self._drain()

    def announce_commit(self) -> Output:
        """Leader: send followers the commit index now if they hold entries it
        covers and have not been told (a follower answers a forwarded write only
        once it applied it, so waiting for the next heartbeat would add up to a
        tick to every write through a follower). Nothing otherwise."""
        if self.role is Role.LEADER:
            self._announce_commit()
        return self._drain()

    def read_index(self, read_id: Any) -> Output:
        """Ask for a linearizable read point (leader only); answered later by a
        ReadReady or ReadFailed effect carrying ``read_id``."""
        self._require_leader()
        if self._bug == "read_without_quorum":
            self._out.effects.append(ReadReady(read_id, self.commit_index))
            return self._drain()
        read = PendingRead(read_id, None)
        if self.id in self.voters:
            read.acks.add(self.id)
        self._reads.append(read)
        if self.log.term_at(self.commit_index) == self.term:
            self._start_reads()
        return self._drain()

    def compact(self, index: int, data: bytes) -> Output:
        """Replace the log up to ``index`` (already applied) by the application's
        snapshot ``data`` of its state at exactly that index."""
        if index <= self.log.snapshot.index:
            return self._drain()
        if index > self._applied:
            raise ValueError(f"cannot snapshot at {index}: only {self._applied} applied")
        snapshot = Snapshot(index, self.log.term_at(index) or 0, self._config_at(index), data)
        self.log.install(snapshot)
        self._forget_configs_before(index)
        self._out.log_ops.append(SnapshotOp(snapshot))
        return self._drain()

    def receive(self, m: Message) -> Output:
        """Handle one message from a peer."""
        if m.dst != self.id:
            return self._drain()
        if m.term > self.term:
            if isinstance(m, VoteRequest):
                if self._in_lease():
                    return self._drain()  # a leader is alive: ignore the disruption
                if not m.pre_vote:
                    self._become_follower(m.term, None)
            elif isinstance(m, VoteResponse) and m.pre_vote and m.granted:
                pass  # the echo of the term we asked about, not a newer term
            elif isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)):
                self._become_follower(m.term, m.src)
            else:
                self._become_follower(m.term, None)
        elif m.term < self.term:
            if isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot)):
                # A stale leader: tell it our term so it steps down. Without this a
                # node whose term got ahead could be ignored forever.
                self._send(HeartbeatResponse(self.id, m.src, self.term))
            elif isinstance(m, VoteRequest):
                self._send(VoteResponse(self.id, m.src, self.term, m.pre_vote, False))
            return self._drain()

        if isinstance(m, AppendEntries):
            self._on_append(m)
        elif isinstance(m, Heartbeat):
            self._on_heartbeat(m)
        elif isinstance(m, InstallSnapshot):
            self._on_snapshot(m)
        elif isinstance(m, VoteRequest):
            self._on_vote_request(m)
        elif isinstance(m, VoteResponse):
            self._on_vote_response(m)
        elif self.role is Role.LEADER and m.src in self._progress:
            pr = self._progress[m.src]
            pr.last_heard = self._now
            pr.paused = False
            if isinstance(m, AppendResponse):
                self._on_append_response(m, pr)
            elif isinstance(m, HeartbeatResponse):
                self._on_heartbeat_response(m, pr)
            elif isinstance(m, SnapshotResponse):
                self._on_snapshot_response(m, pr)
        return self._drain()

    # -- output -------------------------------------------------------------------------

    def _drain(self) -> Output:
        out, self._out = self._out, Output()
        saved = self._saved_hard_state
        if self.term != saved.term or self.voted_for != saved.voted_for:
            out.hard_state = self._saved_hard_state = HardState(self.term, self.voted_for)
        if self.commit_index > self._applied:
            if self.commit_index > self.log.last_index:
                raise RaftInvariantError(
                    f"{self.id}: commit index {self.commit_index} beyond log end {self.log.last_index}"
                )
            out.committed.extend(self.log.slice(self._applied + 1, self.commit_index + 1))
            self._applied = self.commit_index
        return out
