"""The cluster secret: every node-to-node request carries an HMAC of itself.

The header ``X-Mabeam-Auth`` is ``hex(HMAC-SHA256(secret, METHOD + " " + PATH + "\\n" + body))``:
a node without the secret can neither inject Raft messages nor replay one onto
another endpoint. (A captured request can be replayed to the same endpoint;
Raft tolerates duplicated messages, and proposals are only accepted from peers.)
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Mabeam-Auth"
FROM_HEADER = "X-Mabeam-From"
DEV_SECRET = b"mabeam-development-secret"


def sign(secret: bytes, method: str, path: str, body: bytes) -> str:
    # hmac.digest is the one-shot C path: one pass over the body, no HMAC object.
    return hmac.digest(secret, f"{method} {path}\n".encode() + body, hashlib.sha256).hex()


def verify(secret: bytes, method: str, path: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, method, path, body), signature)
