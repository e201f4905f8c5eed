"""Request bodies read the way Toxiproxy 2.x (Go's ``encoding/json``) reads them.

Why not plain ``orjson.loads`` and ``dict.get``: a client can tell the
difference.  Toxiproxy decodes each body with ``json.NewDecoder(...).Decode``
into typed Go structs, which means:

* only the first JSON value is read; anything after it is ignored;
* an empty body is the error ``EOF``;
* object keys match struct fields case-insensitively (``"Name"`` is ``name``);
  when several keys match one field, the last one wins;
* ``null`` leaves a field as it was (a default on create, the current value
  on update); a top-level ``null`` body changes nothing;
* a value of the wrong JSON type is a 400; integers must be written as
  integers (``10.0`` and ``1e3`` are not an ``int64``) and fit 64 bits;
  ``float32`` fields (toxicity) hold any finite float32 and read back at
  float32 precision.

Each ``take_*`` helper returns ``MISSING`` when the key is absent or
``null``, so callers keep their default exactly as Go does.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, Final

import orjson

from .errors import ApiError, bad_request

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
FLOAT32_MAX: Final = 3.4028234663852886e38


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def _no_constants(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


_STDLIB = json.JSONDecoder(parse_constant=_no_constants)


def decode(raw: bytes) -> Any:
    """The first JSON value of ``raw`` (trailing bytes ignored, as Go's Decoder does)."""
    if not raw.strip():
        raise ApiError(400, "bad request body: EOF", field="body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        first_error = exc
    # orjson refuses trailing content; Go never looks at it.  The stdlib decoder
    # can stop after one value (raw_decode), so retry with it before giving up.
    text = raw.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    try:
        value, _ = _STDLIB.raw_decode(text, start)
    except ValueError:
        raise ApiError(400, f"bad request body: {first_error}", field="body") from None
    return value


def lookup(obj: dict, key: str) -> Any:
    """``obj[key]`` matched as Go matches a struct field: case-insensitively, last match wins."""
    found: Any = obj.get(key, MISSING)
    folded = key.casefold()
    for k, v in obj.items():
        if k.casefold() == folded:
            found = v  # Go assigns the field once per matching key, in order: the last one stays
    return found


def _type_error(path: str, value: Any, want: str) -> ApiError:
    kind = _json_kind(value)
    return bad_request(path, f"json: cannot unmarshal {kind} into Go value of type {want}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value!r}" if isinstance(value, float) else f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def take(obj: dict, key: str) -> Any:
    value = lookup(obj, key)
    return MISSING if value is None else value


def take_str(obj: dict, key: str, path: str | None = None) -> Any:
    value = take(obj, key)
    if value is not MISSING and not isinstance(value, str):
        raise _type_error(path or key, value, "string")
    return value


def take_bool(obj: dict, key: str, path: str | None = None) -> Any:
    value = take(obj, key)
    if value is not MISSING and not isinstance(value, bool):
        raise _type_error(path or key, value, "bool")
    return value


def as_int64(value: Any, path: str) -> int:
    """A JSON integer that fits Go's ``int64``, or a 400 naming ``path``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(path, value, "int64")
    if not INT64_MIN <= value <= INT64_MAX:
        raise bad_request(path, f"json: cannot unmarshal number {value} into Go value of type int64")
    return value


def take_int64(obj: dict, key: str, path: str | None = None) -> Any:
    value = take(obj, key)
    return value if value is MISSING else as_int64(value, path or key)


def as_float32(value: Any, path: str) -> float:
    """A JSON number stored as Go's ``float32``: range-checked, read back at float32 precision."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(path, value, "float32")
    x = float(value)
    try:
        narrowed = struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        narrowed = math.inf
    if not math.isfinite(narrowed):
        raise bad_request(path, f"json: cannot unmarshal number {value} into Go value of type float32")
    # Go prints a float32 with the fewest digits that read back as the same
    # float32; the float64 of that text is what a client then sees.
    for digits in range(1, 10):
        shortest = float(f"{narrowed:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shortest))[0] == narrowed:
            return shortest
    return narrowed


def take_float32(obj: dict, key: str, path: str | None = None) -> Any:
    value = take(obj, key)
    return value if value is MISSING else as_float32(value, path or key)


def take_object(obj: dict, key: str, path: str | None = None) -> Any:
    value = take(obj, key)
    if value is not MISSING and not isinstance(value, dict):
        raise _type_error(path or key, value, "object")
    return value
