"""Shared state of a Raft node and the helpers every part of the protocol uses.

``RaftNode`` (core.py) is assembled from three mixins over this base, one per
concern: ``Elections`` (election.py), ``Leadership`` (leader.py) and
``Following`` (follower.py). They share the fields declared here and call each
other's methods through ``self``; the split is for reading, not for reuse.
Every log mutation goes through ``_append``/``_truncate`` so that it is mirrored
into ``Output.log_ops`` for the driver to persist.
"""

from __future__ import annotations

import random
from enum import Enum
from typing import TYPE_CHECKING

from .entries import CONFIG, HardState, LogEntry
from .log import RaftLog
from .messages import Message
from .output import (
    AppendOp,
    ConfigChanged,
    LeaderChanged,
    NotLeader,
    Output,
    RaftInvariantError,
    TruncateOp,
)
from .progress import PendingRead, Progress

#: Deliberate bugs the simulator must catch (see tests/mabeam/test_raft_sim.py).
#: Selected with ``RaftNode(planted_bug=...)``; never set outside tests.
PLANTED_BUGS = frozenset(
    {
        "commit_without_majority",  # commit once half (not a majority) has the entry
        "double_vote",  # grant a second vote in the same term
        "keep_conflicting",  # on a log conflict keep our entry instead of truncating
        "commit_previous_term",  # count replicas for entries of older terms (Figure 8)
        "read_without_quorum",  # serve ReadIndex without a heartbeat round
    }
)


class Role(str, Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class NodeState:
    """Fields and log/config helpers common to all roles."""

    id: str
    election_ticks: int
    heartbeat_ticks: int
    max_batch: int
    max_inflight: int
    pre_vote: bool
    _bug: str | None
    _rng: random.Random

    # durable (mirrored into Output.hard_state / Output.log_ops)
    term: int
    voted_for: str | None
    log: RaftLog
    _saved_hard_state: HardState
    # (index, voters) of the snapshot's config, then of every config entry after it
    _configs: list[tuple[int, tuple[str, ...]]]

    # volatile
    commit_index: int
    _applied: int
    role: Role
    leader_id: str | None
    _now: int
    _election_elapsed: int
    _timeout: int
    _heartbeat_elapsed: int
    _last_leader_contact: int | None
    _votes: dict[str, bool]
    _progress: dict[str, Progress]
    _reads: list[PendingRead]
    _read_seq: int
    _out: Output

    if TYPE_CHECKING:
        # Role changes each mixin triggers in another: Elections (election.py)
        # defines the first two, Leadership (leader.py) the third, and RaftNode
        # (core.py) combines them. Declared for the checker only, so a call from
        # one mixin is checked against the signature without the mixins
        # importing each other.
        def _become_follower(self, term: int, leader: str | None) -> None: ...

        def _step_down(self, term: int, reason: str) -> None: ...

        def _become_leader(self) -> None: ...

    @property
    def voters(self) -> tuple[str, ...]:
        """The configuration in force (the latest in the log, committed or not)."""
        return self._configs[-1][1]

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def last_index(self) -> int:
        return self.log.last_index

    @property
    def applied_index(self) -> int:
        """The last index handed out as committed (or installed by snapshot)."""
        return self._applied

    def hard_state(self) -> HardState:
        return HardState(self.term, self.voted_for)

    def config_pending(self) -> bool:
        """Is a membership change appended but not yet committed?"""
        return self._configs[-1][0] > self.commit_index

    def quorum(self, voters: tuple[str, ...] | None = None) -> int:
        n = len(self.voters if voters is None else voters)
        return n // 2 + 1

    def _require_leader(self) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.leader_id)

    def _set_leader(self, leader: str | None) -> None:
        if leader != self.leader_id:
            self.leader_id = leader
            self._out.effects.append(LeaderChanged(leader, self.term))

    def _send(self, m: Message) -> None:
        self._out.messages.append(m)

    def _append(self, entries: tuple[LogEntry, ...] | list[LogEntry]) -> None:
        if not entries:
            return
        before = self.voters
        self.log.append(entries)
        self._out.log_ops.append(AppendOp(tuple(entries)))
        for e in entries:
            if e.kind == CONFIG:
                self._configs.append((e.index, e.voters()))
        self._config_changed(before)

    def _truncate(self, index: int) -> None:
        if index <= self.commit_index:
            raise RaftInvariantError(f"{self.id}: asked to truncate at {index} <= commit index {self.commit_index}")
        before = self.voters
        self.log.truncate_from(index)
        self._out.log_ops.append(TruncateOp(index))
        while len(self._configs) > 1 and self._configs[-1][0] >= index:
            self._configs.pop()
        self._config_changed(before)

    def _config_changed(self, before: tuple[str, ...]) -> None:
        if self.voters != before:
            self._out.effects.append(ConfigChanged(self.voters, self._configs[-1][0]))

    def _config_at(self, index: int) -> tuple[str, ...]:
        voters = self._configs[0][1]
        for i, v in self._configs:
            if i <= index:
                voters = v
        return voters

    def _forget_configs_before(self, index: int) -> None:
        base = (index, self._config_at(index))
        self._configs = [base] + [(i, v) for i, v in self._configs if i > index]
