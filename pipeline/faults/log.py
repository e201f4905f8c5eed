"""The fault log: every fault of a cluster as a record with its seed and times.

A record is what a fault method returns: already in the log, already
verified effective, revertible on its own (``revert()`` or leaving its
``with`` block).  The log is what a failing test's report and the run's
``faults.log`` file show, with times relative to the cluster start, so a
reader can line faults up with node logs and the recorded history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cluster.topology import Link

__all__ = ["FaultRecord", "FaultLog", "FaultError", "FaultNotEffective", "check_choice"]

log = logging.getLogger("pipeline.faults")


class FaultError(ValueError):
    """A fault was asked for with bad arguments (message names the key and
    the allowed values) or cannot apply to this cluster."""


class FaultNotEffective(AssertionError):
    """A fault was applied but the check that it works failed."""


@dataclass
class FaultRecord:
    """One fault: what, with which seed, when it started, was verified and ended."""

    id: int
    kind: str
    description: str
    seed: int | None
    params: dict[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    nodes: tuple[str, ...] = ()
    started_at: float = field(default_factory=time.time)
    verified_at: float | None = None
    verification: str = ""
    ended_at: float | None = None
    end_note: str = ""
    _undo: Callable[[], object] | None = field(default=None, repr=False)  # its result is ignored
    _log: FaultLog | None = field(default=None, repr=False)

    @property
    def tag(self) -> str:
        return f"f{self.id}"

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def revert(self) -> FaultRecord:
        """Undo this fault (only this one); idempotent."""
        if self.ended_at is None:
            if self._undo is not None:
                self._undo()
            self.finish("reverted")
        return self

    def finish(self, note: str) -> None:
        if self.ended_at is None:
            self.ended_at = time.time()
            self.end_note = note
            if self._log is not None:
                self._log._event(self, f"end ({note})")

    def __enter__(self) -> FaultRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.revert()

    def line(self, origin: float) -> str:
        def rel(t: float | None) -> str:
            return "-" if t is None else f"+{t - origin:.3f}s"

        seed = "" if self.seed is None else f" seed={self.seed}"
        status = "active" if self.ended_at is None else f"ended {rel(self.ended_at)} ({self.end_note})"
        verified = f"; verified {rel(self.verified_at)}: {self.verification}" if self.verification else ""
        return f"#{self.id} {self.kind}: {self.description}{seed}; started {rel(self.started_at)}{verified}; {status}"


class FaultLog:
    """Every fault of a cluster, in order, with times relative to the cluster
    start.  ``format()`` is what a failing test's report shows."""

    def __init__(self, origin: float | None = None, path: Path | None = None, header: str = "") -> None:
        self.origin = time.time() if origin is None else origin
        self.path = path
        self.records: list[FaultRecord] = []
        self._lock = threading.Lock()
        self._next = 1
        self.header = header
        if path is not None and header:
            self._write(header)

    def _write(self, text: str) -> None:
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(text + "\n")

    def new(self, kind: str, description: str, seed: int | None, **kwargs: Any) -> FaultRecord:
        with self._lock:
            record = FaultRecord(self._next, kind, description, seed, _log=self, **kwargs)
            self._next += 1
            self.records.append(record)
        return record

    def _event(self, record: FaultRecord, what: str) -> None:
        text = f"+{time.time() - self.origin:.3f}s #{record.id} {record.kind} {what}"
        log.info("%s", text)
        self._write(text)

    def active(self) -> list[FaultRecord]:
        return [r for r in self.records if r.active]

    def of_kind(self, *kinds: str) -> list[FaultRecord]:
        return [r for r in self.records if r.kind in kinds]

    def format(self) -> str:
        lines = [self.header] if self.header else []
        lines += [r.line(self.origin) for r in self.records] or ["(no faults)"]
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[FaultRecord]:
        return iter(list(self.records))


def check_choice(key: str, value: object, allowed: Sequence[str]) -> None:
    """Refuse ``value`` unless it is one of ``allowed``, naming the key and the choices."""
    if value not in allowed:
        raise FaultError(f"{key}: {value!r} is not allowed (allowed: {', '.join(allowed)})")
