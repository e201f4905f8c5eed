"""Canonical serialisation: the one byte form two replicas compare.

Sorted keys and orjson's shortest float repr make the bytes a function of the
value alone, so equal states give equal digests on every node.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS


def canonical_bytes(value: Any) -> bytes:
    return orjson.dumps(value, option=_OPTIONS)


def digest(value: Any) -> str:
    """sha256 hex of the canonical bytes of ``value``."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()
