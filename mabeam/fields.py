"""Typed access to request fields, failing with the field's name and what is allowed.

Shape checks live here, before a command is built, so ``apply`` only ever sees
well-typed commands and a client mistake is always a precise 400.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import BadRequest, invalid, missing

MISSING: Any = object()
MAX_ID = 200
# Every number stays well inside what JSON encoders and float sums handle
# exactly enough; larger money or resource figures are a client mistake.
MAX_NUMBER = 1e15


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bounds(lo: float | None, gt: float | None, hi: float | None) -> str:
    parts = []
    if lo is not None:
        parts.append(f">= {lo:g}")
    if gt is not None:
        parts.append(f"> {gt:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    return " and ".join(parts)


def check_number(
    value: Any, name: str, lo: float | None = None, gt: float | None = None, hi: float | None = None
) -> float:
    hi = MAX_NUMBER if hi is None else hi
    if (
        not is_number(value)
        or (lo is not None and value < lo)
        or (gt is not None and value <= gt)
        or (hi is not None and value > hi)
    ):
        bounds = _bounds(lo, gt, hi)
        raise invalid(name, "a number" + (f" {bounds}" if bounds else ""))
    return value


def check_text(value: Any, name: str, max_len: int = MAX_ID) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise invalid(name, f"a non-empty string of at most {max_len} characters")
    return value


class Fields:
    """A JSON object being validated; ``prefix`` names nested objects (``task.type``)."""

    def __init__(self, data: Any, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise invalid(prefix.rstrip(".") or "body", "a JSON object")
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return self.prefix + key

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def _get(self, key: str, default: Any) -> tuple[Any, bool]:
        """(value, present); a null value counts as absent."""
        if self.has(key):
            return self.data[key], True
        if default is MISSING:
            raise missing(self.name(key))
        return default, False

    def raw(self, key: str, default: Any = MISSING) -> Any:
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            raise missing(self.name(key))
        return default

    def text(self, key: str, default: Any = MISSING, max_len: int = MAX_ID) -> Any:
        value, present = self._get(key, default)
        return check_text(value, self.name(key), max_len) if present else value

    def number(
        self,
        key: str,
        default: Any = MISSING,
        *,
        lo: float | None = None,
        gt: float | None = None,
        hi: float | None = None,
    ) -> Any:
        value, present = self._get(key, default)
        return check_number(value, self.name(key), lo, gt, hi) if present else value

    def integer(self, key: str, default: Any = MISSING, *, lo: int | None = None, hi: int | None = None) -> Any:
        value, present = self._get(key, default)
        if not present:
            return value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (lo is not None and value < lo)
            or (hi is not None and value > hi)
        ):
            bounds = _bounds(lo, None, hi)
            raise invalid(self.name(key), "an integer" + (f" {bounds}" if bounds else ""))
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value, present = self._get(key, default)
        if present and not isinstance(value, bool):
            raise invalid(self.name(key), "true or false")
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = MISSING) -> Any:
        value, present = self._get(key, default)
        choices = tuple(choices)
        if present and value not in choices:
            raise invalid(self.name(key), "one of " + ", ".join(repr(c) for c in choices))
        return value

    def mapping(self, key: str, default: Any = MISSING) -> Any:
        value, present = self._get(key, default)
        if present and not isinstance(value, dict):
            raise invalid(self.name(key), "a JSON object")
        return value

    def obj(self, key: str) -> Fields:
        return Fields(self.mapping(key), self.name(key) + ".")

    def items(self, key: str, *, min_len: int = 1, max_len: int = 10_000) -> list[Fields]:
        """A list of JSON objects, each validated through its own ``name[i].`` prefix."""
        value, _ = self._get(key, MISSING)
        name = self.name(key)
        if not isinstance(value, list) or not (min_len <= len(value) <= max_len):
            raise invalid(name, f"a list of {min_len} to {max_len} objects")
        return [Fields(v, f"{name}[{i}].") for i, v in enumerate(value)]

    def text_list(self, key: str, default: Any = MISSING, *, min_len: int = 1, max_len: int = 10_000) -> Any:
        value, present = self._get(key, default)
        if not present:
            return value
        name = self.name(key)
        if not isinstance(value, list) or not (min_len <= len(value) <= max_len):
            raise invalid(name, f"a list of {min_len} to {max_len} non-empty strings")
        for i, item in enumerate(value):
            check_text(item, f"{name}[{i}]")
        if len(set(value)) != len(value):
            raise invalid(name, "a list without duplicates")
        return value

    def number_map(
        self, key: str, default: Any = MISSING, *, lo: float = 0, gt: float | None = None, min_len: int = 0
    ) -> Any:
        value, present = self._get(key, default)
        if not present:
            return value
        name = self.name(key)
        if not isinstance(value, dict) or len(value) < min_len:
            raise invalid(name, f"an object of numbers with at least {min_len} entries")
        for k, v in value.items():
            check_text(k, f"{name} key")
            check_number(v, f"{name}.{k}", lo=lo, gt=gt)
        return value


def require_object(data: Any) -> Fields:
    if not isinstance(data, dict):
        raise BadRequest("bad_json", "the body must be a JSON object")
    return Fields(data)
