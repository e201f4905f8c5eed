"""Canonical forms of recorded values, so comparisons survive a JSON round trip.

A history saved to JSON lines and loaded again turns tuples into lists and
loses nothing else; the checkers must give the same verdict on both.  They
therefore compare *frozen* values (hashable, list == tuple) and *exact*
numbers (``Decimal`` from the number's shortest repr, so 0.1 + 0.2 == 0.3 when
money is summed).

Frozen values keep JSON's types apart: Python says ``True == 1`` and
``False == 0``, JSON does not, so a service that answers ``true`` where ``1``
was written is wrong and the checkers must see it.  Booleans, arrays and
objects are therefore frozen into tuples tagged with their type (strings,
numbers and ``None`` stay as they are: Python never confuses them with each
other), which also keeps an array that merely *looks like* a frozen object
from equalling that object.  Numbers compare by value (``1 == 1.0``), as JSON
means them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["freeze", "thaw", "number", "show"]

# Tags of the frozen forms.  Every frozen tuple starts with one of these, and
# nothing else freezes to a tuple, so two frozen values of different JSON
# types can never compare equal.
_BOOL, _ARRAY, _OBJECT = "bool", "[]", "{}"
_TRUE, _FALSE = (_BOOL, True), (_BOOL, False)


def _object_key(key: Any) -> str:
    """A JSON object key as a saved history spells it (orjson with OPT_NON_STR_KEYS)."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


def freeze(value: Any) -> Any:
    """A hashable, type-tagged, order-insensitive-for-objects canonical form of a JSON-like value.

    ``freeze(a) == freeze(b)`` exactly when ``a`` and ``b`` are the same JSON
    value: same type (a boolean is not a number), same contents (arrays in
    order, objects by key), numbers by value.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return _TRUE if value else _FALSE
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        items = [(_object_key(k), freeze(v)) for k, v in value.items()]
        items.sort(key=lambda item: item[0])
        return (_OBJECT, tuple(items))
    if isinstance(value, (list, tuple)):
        return (_ARRAY, *(freeze(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Back from :func:`freeze` to something that prints like the recorded value."""
    if isinstance(value, tuple) and value:
        tag = value[0]
        if tag == _BOOL:
            return value[1]
        if tag == _ARRAY:
            return [thaw(v) for v in value[1:]]
        if tag == _OBJECT:
            return {k: thaw(v) for k, v in value[1]}
    if isinstance(value, frozenset):
        items = [thaw(v) for v in value]
        try:
            return set(items)
        except TypeError:  # arrays or objects inside: print them as a list
            return items
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
