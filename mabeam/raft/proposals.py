"""Turning committed entries back into answers for the clients that proposed them.

``propose`` only says where a command landed (index, term). A driver answering
an HTTP request must wait for that slot to be decided: the same (index, term)
committed means success; another term at that index means the leader changed
and the command was dropped; a snapshot installed over the index means this
node cannot tell. ``ProposalTracker`` does that bookkeeping (the simulator uses
it for every client write, so it is exercised by every seeded run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .entries import LogEntry
from .output import Output, Proposal

COMMITTED = "committed"
SUPERSEDED = "superseded"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of the proposal registered with ``token``."""

    token: Any
    status: str  # COMMITTED, SUPERSEDED or UNKNOWN
    entry: LogEntry | None = None  # the entry committed at the proposal's index


class ProposalTracker:
    """Pending proposals of one node incarnation, keyed by log index."""

    def __init__(self) -> None:
        self._pending: dict[int, tuple[int, Any]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def track(self, proposal: Proposal, token: Any) -> Outcome | None:
        """Remember ``token`` (e.g. a future) until ``proposal`` is decided.

        If this node already had a proposal pending at that index (it lost
        leadership, its entry was overwritten, and it leads again), that one is
        returned as SUPERSEDED: a leader's log holds every committed entry, so
        the overwritten one can never commit.
        """
        displaced = self._pending.get(proposal.index)
        self._pending[proposal.index] = (proposal.term, token)
        if displaced is not None and displaced[0] != proposal.term:
            return Outcome(displaced[1], SUPERSEDED)
        return None

    def resolve(self, out: Output) -> list[Outcome]:
        """Outcomes decided by ``out`` (call it on every Output, in order)."""
        outcomes: list[Outcome] = []
        if not self._pending:
            return outcomes
        if out.snapshot is not None:
            for index in sorted(i for i in self._pending if i <= out.snapshot.index):
                outcomes.append(Outcome(self._pending.pop(index)[1], UNKNOWN))
        for entry in out.committed:
            pending = self._pending.pop(entry.index, None)
            if pending is not None:
                term, token = pending
                status = COMMITTED if term == entry.term else SUPERSEDED
                outcomes.append(Outcome(token, status, entry))
        return outcomes

    def abandon(self) -> list[Outcome]:
        """Give up on everything still pending (e.g. the process is shutting down)."""
        outcomes = [Outcome(token, UNKNOWN) for _term, token in self._pending.values()]
        self._pending.clear()
        return outcomes
