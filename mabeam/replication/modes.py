"""The node's mode, from Raft's quorum state and which peers it can reach.

* ``normal``: Raft says a majority backs the leader we follow (or lead).
* ``safe_mode``: no quorum and this node reaches exactly half of the members:
  an even split, where no side can ever have a majority, so nobody should
  take writes until the network heals.
* ``partition_detected``: no quorum otherwise (we are on a minority side, or
  alone), or not a member of the configuration (joining, or removed): writes
  are refused at once with 503 ``no_quorum``.

"Reaches" means heard from (a message received, or an answer to one of ours)
within ``window`` seconds; nodes without quorum send a hello to every peer a
few times per election timeout, so the window can stay short.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

NORMAL = "normal"
PARTITION = "partition_detected"
SAFE = "safe_mode"


def reachable(heard: Iterable[Mapping[str, float]], window: float, now: float | None = None) -> set[str]:
    now = time.monotonic() if now is None else now
    out: set[str] = set()
    for table in heard:
        out.update(peer for peer, at in table.items() if now - at <= window)
    return out


def mode(has_quorum: bool, self_id: str, voters: Iterable[str], reach: set[str]) -> str:
    members = set(voters)
    if self_id not in members:
        return PARTITION  # not (or no longer) a member: a joining or removed node takes no writes
    if has_quorum:
        return NORMAL
    count = sum(1 for v in members if v == self_id or v in reach)
    if count * 2 == len(members):
        return SAFE
    return PARTITION
