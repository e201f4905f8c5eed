"""The cluster secret: every node-to-node request carries an HMAC of itself.

Headers of a peer request:

* ``X-Mabeam-From``: the sender's node id;
* ``X-Mabeam-Time``: the sender's clock when it signed (Unix seconds, 3 decimals);
* ``X-Mabeam-Nonce``: 32 hex digits, fresh for every request;
* ``X-Mabeam-Auth``: ``hex(HMAC-SHA256(secret, METHOD + " " + PATH + "\\n" + FROM + "\\n" + TO + "\\n" + TIME
  + "\\n" + NONCE + "\\n" + body))``, where TO is the receiving node's id.

A node without the secret can neither inject Raft messages nor move a request
onto another endpoint or another node. A captured request cannot be replayed
either: the receiver (``Verifier``) refuses a time more than ``WINDOW_S`` away
from its own clock, and remembers the nonces of the requests it accepted within
that window (a bounded cache: when it is full, the oldest are forgotten and
any request stamped no later than them is refused, so a replay is never let
through, at worst an old request is refused). Node clocks must agree within
the window (NTP does much better).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from collections.abc import Callable, Mapping

HEADER = "X-Mabeam-Auth"
FROM_HEADER = "X-Mabeam-From"
TIME_HEADER = "X-Mabeam-Time"
NONCE_HEADER = "X-Mabeam-Nonce"
DEV_SECRET = b"mabeam-development-secret"
WINDOW_S = 30.0  # a request stamped further than this from the receiver's clock is refused
REPLAY_CACHE = 100_000  # nonces remembered per node, at most


def sign(secret: bytes, method: str, path: str, body: bytes, stamp: str = "") -> str:
    # hmac.digest is the one-shot C path: one pass over the body, no HMAC object.
    return hmac.digest(secret, f"{method} {path}\n{stamp}\n".encode() + body, hashlib.sha256).hex()


def verify(secret: bytes, method: str, path: str, body: bytes, signature: str | None, stamp: str = "") -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, method, path, body, stamp), signature)


def stamp(src: str, dst: str, at: str, nonce: str) -> str:
    """What the signature binds besides method, path and body."""
    return f"{src}\n{dst}\n{at}\n{nonce}"


def peer_headers(
    secret: bytes,
    method: str,
    path: str,
    body: bytes,
    node: str,
    to: str,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of one signed request from ``node`` to peer ``to``."""
    at = f"{time.time() if now is None else now:.3f}"
    nonce = nonce if nonce is not None else os.urandom(16).hex()
    return {
        HEADER: sign(secret, method, path, body, stamp(node, to, at, nonce)),
        FROM_HEADER: node,
        TIME_HEADER: at,
        NONCE_HEADER: nonce,
        "Content-Type": "application/json",
    }


class Verifier:
    """Checks the peer requests one node receives; remembers their nonces (bounded)."""

    def __init__(
        self,
        secret: bytes,
        node: str,
        *,
        window_s: float = WINDOW_S,
        capacity: int = REPLAY_CACHE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.node = node
        self.window_s = window_s
        self.capacity = capacity
        self.clock = clock
        self._seen: dict[str, float] = {}  # nonce -> its request time, in the order accepted
        self._floor = -math.inf  # requests stamped at or before this can no longer be told from replays

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None when the request is authentic and new; else why it is refused."""
        signature, at, nonce = headers.get(HEADER), headers.get(TIME_HEADER), headers.get(NONCE_HEADER)
        if not signature or not at or not nonce:
            return f"missing cluster secret signature ({HEADER}, {TIME_HEADER} and {NONCE_HEADER} are required)"
        if not verify(
            self.secret, method, path, body, signature, stamp(headers.get(FROM_HEADER, ""), self.node, at, nonce)
        ):
            return f"wrong cluster secret signature ({HEADER})"
        try:
            sent = float(at)
        except ValueError:
            sent = math.nan
        now = self.clock()
        if not abs(now - sent) <= self.window_s:  # also refuses nan and inf
            return (
                f"request time {at} is more than {self.window_s:g} s from this node's clock ({now:.3f}): "
                "a replay, or clocks out of step"
            )
        self._expire(now)
        if nonce in self._seen:
            return f"replayed request: nonce {nonce} was already used"
        if sent <= self._floor:
            return "request too old to be told from a replay (this node's replay cache is full)"
        self._seen[nonce] = sent
        while len(self._seen) > self.capacity:
            oldest = next(iter(self._seen))
            self._floor = max(self._floor, self._seen.pop(oldest))
        return None

    def _expire(self, now: float) -> None:
        """Forget nonces whose requests are past the window: a replay of one fails the time check."""
        seen, limit = self._seen, now - self.window_s
        while seen:
            first = next(iter(seen))
            if seen[first] >= limit:
                return
            del seen[first]
