"""Messages exchanged between Raft nodes.

Every message names its sender (``src``), its addressee (``dst``) and the
sender's ``term``: that triple is the whole envelope, so the transport only has to
carry ``to_dict()`` to ``dst`` and hand ``message_from_dict()`` of it to
``RaftNode.receive``. The transport may lose, delay, duplicate and reorder
messages; the protocol copes with all four.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .entries import LogEntry, Snapshot


@dataclass(frozen=True, slots=True)
class Message:
    """Common envelope; never sent as such."""

    TYPE: ClassVar[str] = "message"
    src: str
    dst: str
    term: int

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if name == "entries":
                value = [e.to_dict() for e in value]
            elif name == "snapshot":
                value = value.to_dict()
            out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class VoteRequest(Message):
    """RequestVote, or with ``pre_vote`` the PreVote probe: "would you vote for me
    in ``term``?" — answered without changing the voter's term or vote."""

    TYPE: ClassVar[str] = "vote_request"
    pre_vote: bool = False
    last_log_index: int = 0
    last_log_term: int = 0


@dataclass(frozen=True, slots=True)
class VoteResponse(Message):
    """A granted pre-vote echoes the asked-for term; a refusal carries the voter's
    own term so that a stale candidate learns how far behind it is."""

    TYPE: ClassVar[str] = "vote_response"
    pre_vote: bool = False
    granted: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries(Message):
    """Entries after ``prev_index`` (whose term must be ``prev_term`` at the
    follower) plus the leader's commit index."""

    TYPE: ClassVar[str] = "append_entries"
    prev_index: int = 0
    prev_term: int = 0
    entries: tuple[LogEntry, ...] = ()
    commit: int = 0


@dataclass(frozen=True, slots=True)
class AppendResponse(Message):
    """Success: the follower's log matches the leader's up to ``match_index``.
    Refusal of ``reject_index`` (the probed prev_index): ``hint_index`` is the
    last index <= reject_index whose term is <= the probed term, with that term
    in ``hint_term`` — the leader can skip a whole conflicting term at once."""

    TYPE: ClassVar[str] = "append_response"
    success: bool = False
    match_index: int = 0
    reject_index: int = 0
    hint_index: int = 0
    hint_term: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat(Message):
    """Keeps followers from campaigning and carries ``read_seq``, the round a
    ReadIndex waits on. ``commit`` never exceeds what this follower matched."""

    TYPE: ClassVar[str] = "heartbeat"
    commit: int = 0
    read_seq: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse(Message):
    """Proof that ``src`` still followed the leader in ``term`` at round ``read_seq``."""

    TYPE: ClassVar[str] = "heartbeat_response"
    read_seq: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot(Message):
    """The whole snapshot in one message (the HTTP body carries it)."""

    TYPE: ClassVar[str] = "install_snapshot"
    snapshot: Snapshot = Snapshot(0, 0, ())


@dataclass(frozen=True, slots=True)
class SnapshotResponse(Message):
    TYPE: ClassVar[str] = "snapshot_response"
    match_index: int = 0


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        VoteRequest,
        VoteResponse,
        AppendEntries,
        AppendResponse,
        Heartbeat,
        HeartbeatResponse,
        InstallSnapshot,
        SnapshotResponse,
    )
}


_FIELD_NAMES: dict[type[Message], tuple[str, ...]] = {}


def _field_names(cls: type[Message]) -> tuple[str, ...]:
    """The dataclass field names of a message class, computed once per class."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


for _cls in MESSAGE_TYPES.values():
    _field_names(_cls)


def message_from_dict(raw: dict[str, Any]) -> Message:
    """Rebuild a message from ``Message.to_dict()`` output (e.g. a JSON body).

    Raises ``ValueError`` for an unknown type or missing field, so a transport can
    answer 400 instead of crashing the node.
    """
    try:
        cls = MESSAGE_TYPES[raw["type"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"unknown raft message type: {raw!r:.80}") from exc
    kwargs: dict[str, Any] = {}
    try:
        for name in _FIELD_NAMES[cls]:
            value = raw[name]
            if name == "entries":
                value = tuple(LogEntry.from_dict(e) for e in value)
            elif name == "snapshot":
                value = Snapshot.from_dict(value)
            kwargs[name] = value
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed {cls.TYPE}: {exc}") from exc
    return cls(**kwargs)
