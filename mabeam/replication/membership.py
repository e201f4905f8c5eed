"""Who is a member: the leader drops the long-silent and re-admits the returning.

* A voter silent for longer than the grace period is removed, one change at a
  time (Raft allows one pending change), so a cluster losing nodes one by one
  keeps a majority of the members that are left.
* A known peer (we have its address) that is not a voter but shows up (a hello
  or any Raft message) is added back: a restarted node that was removed while
  it was down, or a node started with ``--join``.
* A ``--join`` node that lost its disk may still be listed as a voter; its old
  vote and log are gone, so it is removed first and then added as new.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..raft import ConfigChangeRejected, NotLeader, Output

if TYPE_CHECKING:
    from ..raft import RaftNode

SHOWN_UP_S = 2.0  # a hello older than this no longer counts as "the node is there"


class Membership:
    def __init__(self, known_peers: set[str], grace_ticks: int) -> None:
        self.known = set(known_peers)
        self.grace_ticks = grace_ticks
        self._seen: dict[str, tuple[float, str | None]] = {}  # peer -> (when, fresh incarnation)
        self._rejoined: set[tuple[str, str]] = set()  # (peer, incarnation) already re-admitted as new

    def shown_up(self, peer: str, fresh_incarnation: str | None = None) -> None:
        """``fresh_incarnation``: the id of a process start that has no Raft data."""
        if peer in self.known:
            self._seen[peer] = (time.monotonic(), fresh_incarnation)

    def step(self, raft: RaftNode) -> Output | None:
        """On the leader, at most one membership change; None when nothing to do."""
        if not raft.is_leader or raft.config_pending():
            return None
        voters = set(raft.voters)
        now = time.monotonic()
        try:
            for peer, (at, fresh) in sorted(self._seen.items()):
                if now - at > SHOWN_UP_S:
                    continue
                if peer not in voters:
                    return raft.change_membership(add=peer)
                if fresh is not None and (peer, fresh) not in self._rejoined and len(voters) > 1:
                    # Its old vote and log are gone: drop the old member, then add the new one.
                    self._rejoined.add((peer, fresh))
                    return raft.change_membership(remove=peer)
            ages = {p: a for p, a in raft.peer_contact_ages().items() if p in voters}
            if ages:
                peer, age = max(ages.items(), key=lambda kv: (kv[1], kv[0]))
                if age > self.grace_ticks:
                    return raft.change_membership(remove=peer)
        except (ConfigChangeRejected, NotLeader):
            return None
        return None
