"""The in-memory Raft log: a snapshot followed by the entries after it.

Indices are 1-based and contiguous. Index ``snapshot.index`` is the last one the
log no longer holds but still knows the term of (the snapshot's), which is all the
consistency check of AppendEntries needs at the log's lower edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .entries import LogEntry, Snapshot


class RaftLog:
    """Entries ``snapshot.index + 1 .. last_index`` with O(1) access by index."""

    __slots__ = ("snapshot", "_entries")

    def __init__(self, snapshot: Snapshot, entries: Iterable[LogEntry] = ()) -> None:
        self.snapshot = snapshot
        self._entries: list[LogEntry] = []
        self.append(list(entries))

    @property
    def first_index(self) -> int:
        """The oldest index still held as an entry (may exceed ``last_index``)."""
        return self.snapshot.index + 1

    @property
    def last_index(self) -> int:
        return self.snapshot.index + len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else self.snapshot.term

    def term_at(self, index: int) -> int | None:
        """The term at ``index``, or None if it was compacted away or is not there yet."""
        offset = index - self.snapshot.index
        if offset == 0:
            return self.snapshot.term
        if 0 < offset <= len(self._entries):
            return self._entries[offset - 1].term
        return None

    def entry(self, index: int) -> LogEntry:
        offset = index - self.snapshot.index
        if not 0 < offset <= len(self._entries):
            raise IndexError(f"index {index} not in log [{self.first_index}, {self.last_index}]")
        return self._entries[offset - 1]

    def slice(self, lo: int, hi: int) -> list[LogEntry]:
        """Entries with ``lo <= index < hi`` (clamped to what the log holds)."""
        base = self.snapshot.index + 1
        return self._entries[max(lo - base, 0) : max(hi - base, 0)]

    def entries(self) -> Sequence[LogEntry]:
        return self._entries

    def append(self, entries: Sequence[LogEntry]) -> None:
        expected = self.last_index + 1
        for e in entries:
            if e.index != expected:
                raise ValueError(f"appending index {e.index}, expected {expected}")
            expected += 1
        self._entries.extend(entries)

    def truncate_from(self, index: int) -> None:
        """Drop ``index`` and everything after it (a conflicting suffix)."""
        if index <= self.snapshot.index:
            raise ValueError(f"cannot truncate at {index}: compacted up to {self.snapshot.index}")
        del self._entries[index - self.snapshot.index - 1 :]

    def install(self, snapshot: Snapshot) -> bool:
        """Replace the prefix up to ``snapshot.index`` by the snapshot.

        Entries after it are kept only if the log holds the snapshot's own last
        entry (same index and term): then they are a valid continuation.
        Returns whether the suffix was kept.
        """
        keep = self.term_at(snapshot.index) == snapshot.term and snapshot.index <= self.last_index
        if keep:
            self._entries = self._entries[snapshot.index - self.snapshot.index :]
        else:
            self._entries = []
        self.snapshot = snapshot
        return keep

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Election restriction: is a log ending at (last_index, last_term) at
        least as up to date as this one?"""
        mine = self.last_term
        return last_term > mine or (last_term == mine and last_index >= self.last_index)
