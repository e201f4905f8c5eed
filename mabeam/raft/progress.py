"""The leader's bookkeeping records: one ``Progress`` per follower, one
``PendingRead`` per ReadIndex request.

Why a module of their own: ``NodeState`` (state.py) declares the fields that
hold them and ``Leadership`` (leader.py) builds on ``NodeState``, so with the
records in leader.py the two modules imported each other.  Plain records with
no behaviour sit below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBE = "probe"  # one append at a time until we find where the logs match
REPLICATE = "replicate"  # logs match: stream entries, advancing next optimistically
SNAPSHOT = "snapshot"  # needs entries we compacted: a snapshot is on its way


@dataclass(slots=True)
class Progress:
    """The leader's view of one follower."""

    match: int = 0
    next: int = 1
    mode: str = PROBE
    paused: bool = False  # PROBE: an append is out, wait for an answer
    snapshot_index: int = 0
    snapshot_sent_at: int = 0
    last_heard: int = 0  # tick of the last answer in this term (CheckQuorum)
    commit_told: int = 0  # the highest commit index this follower can have learnt from us


@dataclass(slots=True)
class PendingRead:
    read_id: Any
    index: int | None  # None until the leader has committed in its own term
    seq: int = 0
    acks: set[str] = field(default_factory=set)
