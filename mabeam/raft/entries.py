"""The durable records of Raft: log entries, snapshots and the hard state.

They are frozen so that one object can be shared by the log, the outbox and the
storage without anyone mutating it behind the others' backs, and they convert to
plain JSON-able dicts because they travel over HTTP inside messages.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

#: An application command proposed by a client.
COMMAND = "command"
#: A configuration entry; ``data`` is ``{"voters": [ids...]}``.
CONFIG = "config"
#: The empty entry a new leader appends so that it can commit in its own term.
NOOP = "noop"

ENTRY_KINDS = (COMMAND, CONFIG, NOOP)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One slot of the replicated log; ``data`` must be JSON-serialisable."""

    index: int
    term: int
    kind: str = COMMAND
    data: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "term": self.term, "kind": self.kind, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> LogEntry:
        return cls(int(raw["index"]), int(raw["term"]), str(raw["kind"]), raw.get("data"))

    def voters(self) -> tuple[str, ...]:
        """The configuration a CONFIG entry installs (sorted, so order is canonical)."""
        return tuple(sorted(self.data["voters"]))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The application's state up to and including ``index``.

    ``voters`` is the configuration in force at ``index``: the log before it is
    gone, so the snapshot has to carry it. ``data`` is opaque to Raft.
    """

    index: int
    term: int
    voters: tuple[str, ...]
    data: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "term": self.term,
            "voters": list(self.voters),
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Snapshot:
        return cls(
            int(raw["index"]),
            int(raw["term"]),
            tuple(raw["voters"]),
            base64.b64decode(raw["data"]),
        )


@dataclass(frozen=True, slots=True)
class HardState:
    """What a node must remember across a crash besides its log: its term and vote.

    Forgetting the vote would let a restarted node vote twice in one term, which
    is exactly how two leaders get elected.
    """

    term: int = 0
    voted_for: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "voted_for": self.voted_for}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HardState:
        return cls(int(raw["term"]), raw.get("voted_for"))
