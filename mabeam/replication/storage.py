"""The data dir: hard state, log and snapshot of one member, so a restart is the same member.

Layout (all JSON, written with orjson):

* ``hard_state.json``: ``{"term", "voted_for"}``, replaced atomically (write a
  temporary file, rename) whenever it changes.
* ``snapshot.json``: ``Snapshot.to_dict()`` (state bytes in base64), replaced
  atomically on each compaction or installed snapshot.
* ``log.jsonl``: one line per log operation since the snapshot:
  ``{"append": [entry, ...]}`` or ``{"truncate": from_index}``. It is rewritten
  (atomically) after every snapshot so it only holds what follows it.

Writes happen before the messages they enable are sent (the Raft rule), with a
flush to the OS; that survives a process crash (SIGKILL). ``fsync=True`` also
survives a machine crash at the cost of a disk sync per write; it is off by
default. A torn last line (crash mid-write) is ignored on load.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from ..raft import (
    AppendOp,
    HardState,
    LogEntry,
    MemoryStorage,
    Output,
    PersistentState,
    Snapshot,
    SnapshotOp,
    TruncateOp,
)


def _write_atomic(path: Path, data: bytes, fsync: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(tmp, path)


def _empty(st: PersistentState) -> bool:
    return st.hard_state.term == 0 and st.snapshot is None and not st.entries


class DiskStorage:
    """Persists each Output's durable part; ``load`` rebuilds the PersistentState."""

    def __init__(self, directory: str | Path, *, fsync: bool = False) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._mirror = MemoryStorage(self.load())  # what is on disk, to rewrite the log after a snapshot
        self._log = open(self.dir / "log.jsonl", "ab")

    @property
    def empty(self) -> bool:
        """Nothing was ever stored: a brand-new member (or one that lost its disk)."""
        return _empty(self._mirror.state())

    @classmethod
    def peek_empty(cls, directory: str | Path) -> bool:
        """``empty`` for a data dir, read without opening it for writing (before a node starts)."""
        reader = cls.__new__(cls)
        reader.dir = Path(directory)
        return _empty(reader.load())

    def state(self) -> PersistentState:
        return self._mirror.state()

    def load(self) -> PersistentState:
        hard = HardState()
        path = self.dir / "hard_state.json"
        if path.exists():
            hard = HardState.from_dict(orjson.loads(path.read_bytes()))
        snapshot = None
        path = self.dir / "snapshot.json"
        if path.exists():
            snapshot = Snapshot.from_dict(orjson.loads(path.read_bytes()))
        base = snapshot.index if snapshot else 0
        entries: list[LogEntry] = []
        path = self.dir / "log.jsonl"
        if path.exists():
            for line in path.read_bytes().splitlines():
                try:
                    op: dict[str, Any] = orjson.loads(line)
                except orjson.JSONDecodeError:
                    break  # a torn last line: the write never completed
                if "append" in op:
                    new = [LogEntry.from_dict(e) for e in op["append"]]
                    if new:
                        entries = [e for e in entries if e.index < new[0].index] + new
                elif "truncate" in op:
                    entries = [e for e in entries if e.index < op["truncate"]]
        entries = [e for e in entries if e.index > base]
        if entries and entries[0].index != base + 1:
            entries = []  # a gap: the log does not continue the snapshot; re-learn it
        return PersistentState(hard, snapshot, entries)

    def save(self, out: Output) -> None:
        if out.hard_state is None and not out.log_ops:
            return
        self._mirror.apply(out)
        if out.hard_state is not None:
            _write_atomic(self.dir / "hard_state.json", orjson.dumps(out.hard_state.to_dict()), self.fsync)
        lines: list[bytes] = []
        rewrite = False
        for op in out.log_ops:
            if isinstance(op, AppendOp):
                lines.append(orjson.dumps({"append": [e.to_dict() for e in op.entries]}))
            elif isinstance(op, TruncateOp):
                lines.append(orjson.dumps({"truncate": op.from_index}))
            elif isinstance(op, SnapshotOp):
                _write_atomic(self.dir / "snapshot.json", orjson.dumps(op.snapshot.to_dict()), self.fsync)
                rewrite = True
        if rewrite:
            self._rewrite_log()
        elif lines:
            self._log.write(b"\n".join(lines) + b"\n")
            self._log.flush()
            if self.fsync:
                os.fsync(self._log.fileno())

    def _rewrite_log(self) -> None:
        entries = self._mirror.state().entries
        data = orjson.dumps({"append": [e.to_dict() for e in entries]}) + b"\n" if entries else b""
        self._log.close()
        _write_atomic(self.dir / "log.jsonl", data, self.fsync)
        self._log = open(self.dir / "log.jsonl", "ab")

    def close(self) -> None:
        self._log.close()


class NullStorage:
    """No data dir: the Raft state lives only in memory (a restart is a new member)."""

    empty = True

    def state(self) -> PersistentState:
        return PersistentState()

    def save(self, out: Output) -> None:
        return None

    def close(self) -> None:
        return None
