"""Ids decided by the proposer before a command enters the log.

An id is ``<kind>-<node>-<token>-<n>``: the node name keeps ids from different
nodes apart, the token (drawn from the node's seed) keeps a restarted node
from reusing the ids of its previous run, and ``n`` counts up.
"""

from __future__ import annotations

import itertools
import random


class IdFactory:
    def __init__(self, node_id: str, rng: random.Random) -> None:
        self._prefix = f"{node_id}-{rng.getrandbits(32):08x}"
        self._counter = itertools.count(1)

    def new(self, kind: str) -> str:
        return f"{kind}-{self._prefix}-{next(self._counter)}"
