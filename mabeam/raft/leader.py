"""The leader's side: replication with flow control, commit, ReadIndex.

Replication tracks each follower in one of three modes: PROBE (one append at a
time until the logs are known to match, backing off with the follower's hint a
whole term at a time), REPLICATE (stream up to ``max_inflight`` batches ahead of
the acknowledged match), SNAPSHOT (the follower needs entries we compacted);
the modes and the ``Progress``/``PendingRead`` records are in progress.py.
A lost batch is noticed when a heartbeat answer shows the follower behind: an
append is re-sent from ``next`` and a follower lacking ``prev`` rejects it.

Commit counts replicas only for entries of the leader's own term, over the
configuration in force (Raft paper, Figure 8); a new leader appends a NOOP to
get there quickly. ReadIndex pins a read to the commit index and releases it
when a majority answered a heartbeat round started after the read was asked.
"""

from __future__ import annotations

from typing import Any

from .entries import CONFIG, NOOP, LogEntry
from .messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    SnapshotResponse,
)
from .output import BecameLeader, Proposal, ReadReady
from .progress import PROBE, REPLICATE, SNAPSHOT, Progress
from .state import NodeState, Role


class Leadership(NodeState):
    """Everything a node does while it is the leader."""

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self._set_leader(self.id)
        self._votes = {}
        self._heartbeat_elapsed = 0
        self._progress = {}
        self._sync_progress()
        self._out.effects.append(BecameLeader(self.term))
        self._leader_append(NOOP, None)
        for peer in self._progress:
            self._send_append(peer)  # announce ourselves and start probing at once

    def _sync_progress(self) -> None:
        """Track exactly the other voters of the configuration in force."""
        for v in self.voters:
            if v != self.id and v not in self._progress:
                self._progress[v] = Progress(next=self.log.last_index + 1, last_heard=self._now)
        for v in [p for p in self._progress if p not in self.voters]:
            del self._progress[v]

    def _leader_append(self, kind: str, data: Any) -> Proposal:
        entry = LogEntry(self.log.last_index + 1, self.term, kind, data)
        self._append([entry])
        if kind == CONFIG:
            self._sync_progress()
        for peer, pr in self._progress.items():
            if pr.mode == REPLICATE:
                self._send_append(peer)
        self._maybe_commit()
        return Proposal(entry.index, entry.term)

    def _leader_append_many(self, kind: str, datas: list[Any] | tuple[Any, ...]) -> list[Proposal]:
        """Append several entries of one kind (not CONFIG) and replicate them together."""
        if kind == CONFIG:
            raise ValueError("configuration entries are appended one at a time")
        first = self.log.last_index + 1
        entries = [LogEntry(first + i, self.term, kind, data) for i, data in enumerate(datas)]
        if not entries:
            return []
        self._append(entries)
        last = self.log.last_index
        for peer, pr in self._progress.items():
            if pr.mode == REPLICATE:
                while pr.next <= last and self._send_append(peer):
                    pass
        self._maybe_commit()
        return [Proposal(e.index, e.term) for e in entries]

    def _send_append(self, peer: str, *, probe: bool = False) -> bool:
        """Send the next batch to ``peer`` if flow control allows; with ``probe``
        send at least an empty append (it detects lost batches: the follower
        rejects it if it lacks ``prev``). Returns whether entries were sent."""
        pr = self._progress[peer]
        if pr.mode == SNAPSHOT or (pr.mode == PROBE and pr.paused):
            return False
        if pr.next <= self.log.snapshot.index:
            self._send_snapshot(peer, pr)
            return False
        room = self.max_batch
        if pr.mode == REPLICATE:  # at most max_inflight batches beyond the match
            room = min(room, pr.match + self.max_batch * self.max_inflight + 1 - pr.next)
        if room <= 0 and not probe:
            return False
        prev = pr.next - 1
        entries = tuple(self.log.slice(pr.next, pr.next + max(room, 0)))
        self._send(
            AppendEntries(self.id, peer, self.term, prev, self.log.term_at(prev) or 0, entries, self.commit_index)
        )
        if pr.mode == REPLICATE:  # a probe may be refused: it tells nothing for sure
            pr.commit_told = max(pr.commit_told, min(self.commit_index, entries[-1].index if entries else prev))
        if pr.mode == REPLICATE:
            if entries:
                pr.next = entries[-1].index + 1
        else:
            pr.paused = True
        return bool(entries)

    def _send_snapshot(self, peer: str, pr: Progress) -> None:
        pr.mode = SNAPSHOT
        pr.snapshot_index = self.log.snapshot.index
        pr.snapshot_sent_at = self._now
        self._send(InstallSnapshot(self.id, peer, self.term, self.log.snapshot))

    def _broadcast_heartbeat(self) -> None:
        self._heartbeat_elapsed = 0
        for peer, pr in self._progress.items():
            commit = min(pr.match, self.commit_index)
            self._send(Heartbeat(self.id, peer, self.term, commit, self._read_seq))
            pr.commit_told = max(pr.commit_told, commit)

    def _announce_commit(self) -> None:
        """Tell each replicating follower the commit index it can use now (up to
        what it holds), instead of at the next heartbeat: an empty append at its
        known match, which it accepts without a probe. Only to followers with
        something new to learn, so a quiet cluster sends nothing."""
        for peer, pr in self._progress.items():
            commit = min(pr.match, self.commit_index)
            if pr.mode != REPLICATE or commit <= pr.commit_told or pr.match < self.log.snapshot.index:
                continue
            term = self.log.term_at(pr.match)
            if term is None:
                continue
            self._send(AppendEntries(self.id, peer, self.term, pr.match, term, (), self.commit_index))
            pr.commit_told = commit

    def _on_append_response(self, m: AppendResponse, pr: Progress) -> None:
        if m.success:
            if m.match_index > pr.match:
                pr.match = m.match_index
                self._maybe_commit()
                if self.role is not Role.LEADER:
                    return
            pr.next = max(pr.next, pr.match + 1)
            if pr.mode == SNAPSHOT and pr.match < pr.snapshot_index:
                return
            pr.mode = REPLICATE
            while pr.next <= self.log.last_index and self._send_append(m.src):
                pass
            return
        if pr.mode == SNAPSHOT:
            return
        if pr.mode == REPLICATE and m.reject_index <= pr.match:
            return  # stale: we already know the logs match there
        if pr.mode == PROBE and m.reject_index != pr.next - 1:
            return  # answer to an older probe
        pr.next = max(pr.match + 1, min(self._next_after_reject(m), m.reject_index))
        pr.mode = PROBE
        pr.paused = False
        self._send_append(m.src)

    def _next_after_reject(self, m: AppendResponse) -> int:
        """Fast back-off: skip every entry of ours whose term is above the
        follower's hint, since none of them can match."""
        j = min(m.hint_index, self.log.last_index)
        floor = self.log.snapshot.index
        while j > floor and (self.log.term_at(j) or 0) > m.hint_term:
            j -= 1
        if j == floor and self.log.snapshot.term > m.hint_term:
            return j  # not even our snapshot point matches: send the snapshot
        return j + 1

    def _on_heartbeat_response(self, m: HeartbeatResponse, pr: Progress) -> None:
        if self._reads and m.read_seq:
            for read in self._reads:
                if read.index is not None and read.seq <= m.read_seq:
                    read.acks.add(m.src)
            self._release_reads()
        if pr.mode == SNAPSHOT:
            if self._now - pr.snapshot_sent_at >= self.election_ticks:
                self._send_snapshot(m.src, pr)  # the last one was probably lost
        elif pr.match < self.log.last_index:
            self._send_append(m.src, probe=True)

    def _on_snapshot_response(self, m: SnapshotResponse, pr: Progress) -> None:
        if m.match_index > pr.match:
            pr.match = m.match_index
            self._maybe_commit()
            if self.role is not Role.LEADER:
                return
        pr.next = max(pr.next, pr.match + 1)
        if pr.mode == SNAPSHOT and pr.match >= pr.snapshot_index:
            pr.mode = REPLICATE
            while pr.next <= self.log.last_index and self._send_append(m.src):
                pass

    def _maybe_commit(self) -> None:
        voters = self.voters
        matches = sorted(
            (self.log.last_index if v == self.id else (self._progress[v].match if v in self._progress else 0))
            for v in voters
        )
        need = self.quorum()
        if self._bug == "commit_without_majority":
            need = max(1, len(voters) // 2)
        candidate = matches[-need]
        if candidate <= self.commit_index:
            return
        if self.log.term_at(candidate) != self.term and self._bug != "commit_previous_term":
            return  # Figure 8: never commit an older term's entry by counting replicas
        self.commit_index = candidate
        if self.id not in self.voters and not self.config_pending():
            self._step_down(self.term, "removed")
            return
        if any(r.index is None for r in self._reads) and self.log.term_at(candidate) == self.term:
            self._start_reads()

    def _start_reads(self) -> None:
        """Pin waiting reads to the commit index and start a heartbeat round for them."""
        self._read_seq += 1
        for read in self._reads:
            if read.index is None:
                read.index = self.commit_index
                read.seq = self._read_seq
        self._broadcast_heartbeat()
        self._release_reads()

    def _release_reads(self) -> None:
        need = self.quorum()
        while self._reads:
            read = self._reads[0]
            if read.index is None or sum(1 for v in self.voters if v in read.acks) < need:
                break
            self._reads.pop(0)
            self._out.effects.append(ReadReady(read.read_id, read.index))
