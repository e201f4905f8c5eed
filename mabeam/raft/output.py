"""What one call into a RaftNode produces, and the exceptions it can raise.

A node never does I/O. Each call returns an ``Output`` that the driver must
handle in this order, so that a crash at any point loses nothing promised:

1. persist ``hard_state`` and ``log_ops`` (in order) durably;
2. send ``messages``;
3. restore ``snapshot`` into the state machine if set, then apply ``committed``;
4. react to ``effects``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .entries import HardState, LogEntry, Snapshot
from .messages import Message


@dataclass(frozen=True, slots=True)
class AppendOp:
    """Append ``entries`` after the current last index."""

    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class TruncateOp:
    """Delete the entries at ``from_index`` and after (they conflicted with the leader)."""

    from_index: int


@dataclass(frozen=True, slots=True)
class SnapshotOp:
    """Store ``snapshot`` and delete the entries up to its index. If
    ``discard_log`` is set, delete every entry (the log did not continue it)."""

    snapshot: Snapshot
    discard_log: bool = False


LogOp = AppendOp | TruncateOp | SnapshotOp


@dataclass(frozen=True, slots=True)
class Proposal:
    """Where a proposal landed. It is committed if and only if an entry with this
    ``index`` *and* ``term`` is later delivered in ``Output.committed``; an entry
    with the same index but another term means it was superseded (lost with a
    leader change). A snapshot installed past ``index`` leaves it unknown."""

    index: int
    term: int


# -- effects: notifications about the node's role and requests -----------------


@dataclass(frozen=True, slots=True)
class BecameLeader:
    term: int


@dataclass(frozen=True, slots=True)
class SteppedDown:
    """Leadership lost: ``reason`` is ``higher_term``, ``check_quorum`` (no
    majority heard for an election timeout) or ``removed`` (config without us)."""

    term: int
    reason: str


@dataclass(frozen=True, slots=True)
class LeaderChanged:
    """The node's idea of the current leader changed (``leader_id`` may be None)."""

    leader_id: str | None
    term: int


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """The configuration in force is now ``voters`` (from the config entry at
    ``index``; it takes effect when appended, so it can still be rolled back
    until ``index`` is committed)."""

    voters: tuple[str, ...]
    index: int


@dataclass(frozen=True, slots=True)
class ReadReady:
    """Leadership was confirmed after the read was asked: once the state machine
    has applied ``index``, reading it is linearizable."""

    read_id: Any
    index: int


@dataclass(frozen=True, slots=True)
class ReadFailed:
    """The read cannot be served here (leadership lost); retry at the leader."""

    read_id: Any
    reason: str


Effect = BecameLeader | SteppedDown | LeaderChanged | ConfigChanged | ReadReady | ReadFailed


@dataclass(slots=True)
class Output:
    """Everything a call produced; see the module docstring for the handling order."""

    messages: list[Message] = field(default_factory=list)
    committed: list[LogEntry] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    hard_state: HardState | None = None
    log_ops: list[LogOp] = field(default_factory=list)
    snapshot: Snapshot | None = None
    proposal: Proposal | None = None
    #: ``propose_many``: where each command landed, in the order given
    proposals: list[Proposal] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.messages
            or self.committed
            or self.effects
            or self.hard_state
            or self.log_ops
            or self.snapshot
            or self.proposal
            or self.proposals
        )


class RaftError(Exception):
    """Base of the errors a RaftNode raises to its caller."""


class NotLeader(RaftError):
    """Only the leader takes proposals, reads and config changes; forward to
    ``leader_id`` (None if unknown)."""

    def __init__(self, leader_id: str | None) -> None:
        super().__init__(f"not the leader; leader is {leader_id!r}")
        self.leader_id = leader_id


class ConfigChangeRejected(RaftError):
    """A membership change is not allowed now (another one is pending, the leader
    has not committed in its term yet, or the change is not a single voter)."""


class RaftInvariantError(RaftError):
    """The node found its own state impossible (e.g. asked to truncate a committed
    entry). Never raised by a correct implementation on any message sequence."""
