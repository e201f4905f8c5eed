"""Elections: PreVote, RequestVote, leader stickiness and role changes.

PreVote: a node whose election timer fires first asks "would you vote for me in
term+1?" without bumping its term. A node cut off from the majority therefore
cannot inflate its term and depose a healthy leader when it comes back.
Stickiness: a node that heard from a leader less than ``election_ticks`` ago
ignores vote requests for higher terms (``_in_lease``), which keeps removed or
flapping nodes from disrupting a working cluster.
"""

from __future__ import annotations

from .messages import VoteRequest, VoteResponse
from .output import RaftInvariantError, ReadFailed, SteppedDown
from .state import NodeState, Role


class Elections(NodeState):
    """Timers, PreVote/RequestVote and the transitions between roles."""

    def _random_timeout(self) -> int:
        return self._rng.randrange(self.election_ticks, 2 * self.election_ticks)

    def _reset_election_timer(self) -> None:
        self._election_elapsed = 0
        self._timeout = self._random_timeout()

    def _promotable(self) -> bool:
        return self.id in self.voters

    def _in_lease(self) -> bool:
        if self.role is Role.LEADER:
            return True  # CheckQuorum steps us down before the lease runs out
        return self.leader_id is not None and self._election_elapsed < self.election_ticks

    def _campaign(self) -> None:
        if self.pre_vote:
            self._set_role(Role.PRE_CANDIDATE)
            self._set_leader(None)
            self._reset_election_timer()
            self._votes = {self.id: True}
            if not self._tally():
                self._request_votes(pre_vote=True)
        else:
            self._start_election()

    def _start_election(self) -> None:
        self._set_role(Role.CANDIDATE)
        self.term += 1
        self.voted_for = self.id
        self._set_leader(None)
        self._reset_election_timer()
        self._votes = {self.id: True}
        if not self._tally():
            self._request_votes(pre_vote=False)

    def _request_votes(self, *, pre_vote: bool) -> None:
        term = self.term + 1 if pre_vote else self.term
        for v in self.voters:
            if v != self.id:
                self._send(VoteRequest(self.id, v, term, pre_vote, self.log.last_index, self.log.last_term))

    def _tally(self) -> bool:
        """Act on the votes so far; return whether the round is decided."""
        granted = sum(1 for v in self.voters if self._votes.get(v) is True)
        refused = sum(1 for v in self.voters if self._votes.get(v) is False)
        if granted >= self.quorum():
            if self.role is Role.PRE_CANDIDATE:
                self._start_election()
            else:
                self._become_leader()
            return True
        if refused >= self.quorum():
            self._become_follower(self.term, None)
            return True
        return False

    def _on_vote_request(self, m: VoteRequest) -> None:
        up_to_date = self.log.is_up_to_date(m.last_log_index, m.last_log_term)
        free = self.voted_for in (None, m.src) and self.leader_id is None
        if self._bug == "double_vote":
            free = self.leader_id is None or self.voted_for == m.src
        if m.pre_vote:
            granted = up_to_date and (m.term > self.term or free)
            self._send(VoteResponse(self.id, m.src, m.term if granted else self.term, True, granted))
            return
        granted = up_to_date and (free or self.voted_for == m.src)
        if granted:
            self.voted_for = m.src
            self._reset_election_timer()
        self._send(VoteResponse(self.id, m.src, self.term, False, granted))

    def _on_vote_response(self, m: VoteResponse) -> None:
        if m.pre_vote:
            if self.role is not Role.PRE_CANDIDATE or m.term != self.term + 1:
                if not m.granted and self.role is Role.PRE_CANDIDATE and m.term == self.term:
                    self._record_vote(m.src, False)
                return
        elif self.role is not Role.CANDIDATE or m.term != self.term:
            return
        self._record_vote(m.src, m.granted)

    def _record_vote(self, voter: str, granted: bool) -> None:
        self._votes.setdefault(voter, granted)
        self._tally()

    def _set_role(self, role: Role) -> None:
        if self.role is Role.LEADER and role is not Role.LEADER:
            raise RaftInvariantError("leaders leave office through _step_down")
        self.role = role

    def _become_follower(self, term: int, leader: str | None) -> None:
        if self.role is Role.LEADER:
            self._step_down(term, "higher_term" if term > self.term else "deposed")
        if term > self.term:
            self.term = term
            self.voted_for = None
        self.role = Role.FOLLOWER
        self._votes = {}
        self._reset_election_timer()
        self._set_leader(leader)
        if leader is not None:
            self._last_leader_contact = self._now

    def _step_down(self, term: int, reason: str) -> None:
        self._out.effects.append(SteppedDown(self.term, reason))
        for read in self._reads:
            self._out.effects.append(ReadFailed(read.read_id, reason))
        self._reads = []
        self._progress = {}
        self.role = Role.FOLLOWER
        if term > self.term:
            self.term = term
            self.voted_for = None
        self._reset_election_timer()
        self._set_leader(None)
