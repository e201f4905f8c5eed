"""Canonical forms of recorded values, so comparisons survive a JSON round trip.

A history saved to JSON lines and loaded again turns tuples into lists and
loses nothing else; the checkers must give the same verdict on both.  They
therefore compare *frozen* values (hashable, list == tuple) and *exact*
numbers (``Decimal`` from the number's shortest repr, so 0.1 + 0.2 == 0.3 when
money is summed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["freeze", "number", "show"]


def freeze(value: Any) -> Any:
    """A hashable, order-insensitive-for-dicts canonical form of a JSON-like value."""
    if isinstance(value, dict):
        return ("{}", tuple(sorted(((str(k), freeze(v)) for k, v in value.items()))))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def thaw(value: Any) -> Any:
    """Back from :func:`freeze` to something that prints like the recorded value."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "{}" and isinstance(value[1], tuple):
        return {k: thaw(v) for k, v in value[1]}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return {thaw(v) for v in value}
    return value


def number(value: Any) -> Decimal:
    """An exact decimal for a recorded amount; raises ValueError for non-numbers."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value)
    raise ValueError(f"not an amount: {value!r}")


def show(value: Any) -> str:
    """How a (frozen) value is printed in explanations; ``None`` is 'absent'."""
    if value is None:
        return "absent"
    plain = thaw(value)
    if isinstance(plain, Decimal):
        return str(plain.normalize()) if plain == plain.to_integral() else str(plain)
    return repr(plain)
