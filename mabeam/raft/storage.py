"""What a node keeps across a crash, and a reference in-memory store of it.

The node wrapper writes ``Output.hard_state`` and ``Output.log_ops`` to disk
before sending anything; on restart it rebuilds a ``PersistentState`` and passes
it to ``RaftNode(..., state=...)``. ``MemoryStorage`` is the executable
specification of those writes (the simulator uses it to model a crash: the
node object is dropped, the storage survives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .entries import HardState, LogEntry, Snapshot
from .output import AppendOp, Output, SnapshotOp, TruncateOp


@dataclass(slots=True)
class PersistentState:
    """Term, vote, latest snapshot and the log entries after it."""

    hard_state: HardState = HardState()
    snapshot: Snapshot | None = None
    entries: list[LogEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hard_state": self.hard_state.to_dict(),
            "snapshot": self.snapshot.to_dict() if self.snapshot else None,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PersistentState:
        snap = raw.get("snapshot")
        return cls(
            HardState.from_dict(raw["hard_state"]),
            Snapshot.from_dict(snap) if snap else None,
            [LogEntry.from_dict(e) for e in raw["entries"]],
        )


class MemoryStorage:
    """Applies the durable part of each Output, in order, like a disk would."""

    def __init__(self, state: PersistentState | None = None) -> None:
        self._state = state or PersistentState()

    def apply(self, out: Output) -> None:
        st = self._state
        if out.hard_state is not None:
            st.hard_state = out.hard_state
        base = st.snapshot.index if st.snapshot else 0
        for op in out.log_ops:
            if isinstance(op, AppendOp):
                if op.entries and op.entries[0].index != base + len(st.entries) + 1:
                    raise ValueError(f"non-contiguous append at {op.entries[0].index}")
                st.entries.extend(op.entries)
            elif isinstance(op, TruncateOp):
                del st.entries[max(op.from_index - base - 1, 0) :]
            elif isinstance(op, SnapshotOp):
                snap = op.snapshot
                if op.discard_log:
                    st.entries = []
                else:
                    st.entries = [e for e in st.entries if e.index > snap.index]
                st.snapshot = snap
                base = snap.index

    def state(self) -> PersistentState:
        """A copy, as a restarted process would read it back."""
        st = self._state
        return PersistentState(st.hard_state, st.snapshot, list(st.entries))
