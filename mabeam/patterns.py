"""Topic patterns: ``*`` is exactly one segment, ``**`` (alias ``#``) any number.

Patterns are compiled once and cached because every long-poll and SSE client
re-evaluates its pattern against each new event.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from .errors import invalid

ONE = "*"
MANY = ("**", "#")
Matcher = Callable[[str], bool]
MAX_TOPIC = 256


def _segments(text: str, field: str) -> list[str]:
    if not isinstance(text, str) or not text:
        raise invalid(field, "a non-empty dot-separated string")
    parts = text.split(".")
    if any(p == "" for p in parts):
        raise invalid(field, "dot-separated non-empty segments (no leading, trailing or double dots)")
    return parts


def validate_topic(topic: object, field: str = "topic") -> str:
    """A topic is concrete: wildcard segments belong in patterns only."""
    if not isinstance(topic, str):  # the same answer _segments gives, so the rest sees a str
        raise invalid(field, "a non-empty dot-separated string")
    parts = _segments(topic, field)
    if len(topic) > MAX_TOPIC or any(c.isspace() or not c.isprintable() for c in topic):
        raise invalid(field, f"at most {MAX_TOPIC} printable characters without spaces")
    if any(p == ONE or p in MANY for p in parts):
        raise invalid(field, "a concrete topic without '*', '**' or '#' segments")
    return topic


def _match(pattern: tuple[str, ...], topic: list[str]) -> bool:
    # Dynamic programming over (pattern index, topic index): reachable[j] says
    # the pattern prefix consumed so far can end right before topic segment j.
    reachable = [True] + [False] * len(topic)
    for seg in pattern:
        if seg in MANY:
            seen = False
            for j in range(len(reachable)):
                seen = seen or reachable[j]
                reachable[j] = seen
        else:
            nxt = [False] * len(reachable)
            for j in range(len(topic)):
                if reachable[j] and (seg == ONE or seg == topic[j]):
                    nxt[j + 1] = True
            reachable = nxt
    return reachable[-1]


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Matcher:
    """Return a predicate over topics; raises invalid_field for a malformed pattern."""
    parts = tuple(_segments(pattern, "pattern"))
    if parts in (("**",), ("#",)):
        return lambda topic: True
    if not any(p in MANY for p in parts):
        size = len(parts)

        def fixed(topic: str) -> bool:
            segs = topic.split(".")
            return len(segs) == size and all(p == ONE or p == s for p, s in zip(parts, segs, strict=True))

        return fixed
    return lambda topic: _match(parts, topic.split("."))


def matches(pattern: str, topic: str) -> bool:
    return compile_pattern(pattern)(topic)
