"""The follower's side: accept appends, heartbeats and snapshots from the leader.

A follower only ever truncates entries after its commit index (anything up to
it matches every leader of the current term), answers a mismatch with a hint
that lets the leader skip a whole conflicting term, and advances its commit
index no further than what it has verified to match the leader.
"""

from __future__ import annotations

from .entries import CONFIG
from .messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    SnapshotResponse,
)
from .output import SnapshotOp
from .state import NodeState, Role


class Following(NodeState):
    """Handling of the leader's messages on a follower (or a candidate that meets one)."""

    def _heard_from_leader(self, leader: str) -> None:
        if self.role is not Role.FOLLOWER:
            self._become_follower(self.term, leader)
        self._set_leader(leader)
        self._election_elapsed = 0
        self._last_leader_contact = self._now

    def _on_append(self, m: AppendEntries) -> None:
        if self.role is Role.LEADER:
            return  # cannot happen: one leader per term
        self._heard_from_leader(m.src)
        prev_index, prev_term, entries = m.prev_index, m.prev_term, m.entries
        if prev_index < self.commit_index:
            # Everything up to our commit index already matches any leader of
            # this term; only look at what comes after it.
            skip = self.commit_index - prev_index
            if skip >= len(entries):
                self._reply_append(m, True, self.commit_index)
                return
            prev_index, prev_term = self.commit_index, entries[skip - 1].term
            entries = entries[skip:]
        if self.log.term_at(prev_index) != prev_term:
            hint_index, hint_term = self._reject_hint(prev_index, prev_term)
            self._send(AppendResponse(self.id, m.src, self.term, False, 0, m.prev_index, hint_index, hint_term))
            return
        for k, e in enumerate(entries):
            mine = self.log.term_at(e.index)
            if mine is None:
                self._append(entries[k:])
                break
            if mine != e.term:
                if self._bug == "keep_conflicting":
                    continue
                self._truncate(e.index)
                self._append(entries[k:])
                break
        match = prev_index + len(entries)
        commit = min(m.commit, match)
        if commit > self.commit_index:
            self.commit_index = commit
        self._reply_append(m, True, match)

    def _reply_append(self, m: AppendEntries, success: bool, match: int) -> None:
        self._send(AppendResponse(self.id, m.src, self.term, success, match))

    def _reject_hint(self, prev_index: int, prev_term: int) -> tuple[int, int]:
        i = min(prev_index, self.log.last_index)
        floor = self.log.snapshot.index
        while i > floor and (self.log.term_at(i) or 0) > prev_term:
            i -= 1
        return i, self.log.term_at(i) or 0

    def _on_heartbeat(self, m: Heartbeat) -> None:
        if self.role is Role.LEADER:
            return
        self._heard_from_leader(m.src)
        commit = min(m.commit, self.log.last_index)
        if commit > self.commit_index:
            self.commit_index = commit
        self._send(HeartbeatResponse(self.id, m.src, self.term, m.read_seq))

    def _on_snapshot(self, m: InstallSnapshot) -> None:
        if self.role is Role.LEADER:
            return
        self._heard_from_leader(m.src)
        snap = m.snapshot
        if snap.index <= self.commit_index:
            self._send(SnapshotResponse(self.id, m.src, self.term, self.commit_index))
            return
        kept = self.log.install(snap)
        self._out.log_ops.append(SnapshotOp(snap, discard_log=not kept))
        before = self.voters
        self._configs = [(snap.index, snap.voters)] + [
            (e.index, e.voters()) for e in self.log.entries() if e.kind == CONFIG
        ]
        self._config_changed(before)
        self.commit_index = snap.index
        self._applied = snap.index
        self._out.snapshot = snap
        self._send(SnapshotResponse(self.id, m.src, self.term, snap.index))
