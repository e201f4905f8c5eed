"""Record what every client asked and what it was told, for checking afterwards.

A multi-node test cannot decide "was that right?" at the moment a response
arrives: whether a read was stale depends on writes other clients made
concurrently, whether a timed-out write counted depends on what later reads
saw.  So clients only *record*: each operation is invoked, then completes as

* ``ok``      -- acknowledged; the effect happened (and ``result`` says what
  the service answered, e.g. the value a read returned);
* ``fail``    -- definitely *not* applied (a 409 conflict, a ``no_quorum``
  refusal before anything was sent);
* ``unknown`` -- indeterminate: a timeout, a dropped connection.  The effect
  may have happened at any moment after the invoke, or never.

Being honest about ``unknown`` is what keeps the checkers sound: recording a
timeout as ``fail`` makes the checker blame the service for a write that did
land.  When in doubt, let the exception escape the ``with`` block: it becomes
``unknown`` automatically.

Times are ``time.monotonic_ns()`` at invoke and completion; only their order
matters to the checkers (an operation that completed before another was
invoked must take effect before it).  The history saves to JSON lines so a
failing run can be attached to its test report and replayed into the checkers
(``python -m pipeline.checker reports/history/<test>.jsonl``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Op", "History", "PendingOp", "OK", "FAIL", "UNKNOWN", "STATUSES", "format_ops"]

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"
STATUSES = (OK, FAIL, UNKNOWN)
FORMAT = "pipeline.checker.history"
VERSION = 1


@dataclass(frozen=True)
class Op:
    """One client operation from invoke to completion.

    ``index`` is the invocation order within its history (unique).  For an
    ``unknown`` operation ``complete_ns`` is when the client gave up (or None
    if it never did); the checkers treat its effect as possible at any time
    after ``invoke_ns``.
    """

    index: int
    client: str
    f: str
    key: Any = None
    value: Any = None
    status: str = OK
    result: Any = None
    invoke_ns: int = 0
    complete_ns: int | None = None
    error: str | None = None
    node: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.complete_ns is not None and self.complete_ns < self.invoke_ns:
            raise ValueError(f"op #{self.index} completes ({self.complete_ns}) before it is invoked ({self.invoke_ns})")

    def __hash__(self) -> int:
        # Values may be lists or dicts (JSON); hash the identifying fields only.
        return hash((self.index, self.client, self.f, self.invoke_ns, self.status))

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def unknown(self) -> bool:
        return self.status == UNKNOWN

    @property
    def end_ns(self) -> float:
        """When the effect is known to be over: completion, or never for unknown ops."""
        if self.status == UNKNOWN or self.complete_ns is None:
            return float("inf")
        return self.complete_ns

    def precedes(self, other: Op) -> bool:
        """Real-time order: self completed (definitely) before ``other`` was invoked."""
        return self.end_ns < other.invoke_ns

    def describe(self, t0_ns: int = 0) -> str:
        """One line that reads like the spec: ``#3 c1 write 'k' 3 -> ok [+1.000ms..+2.000ms]``."""
        return _line(self, t0_ns)

    def __repr__(self) -> str:
        return f"Op({_line(self, None)})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "client": self.client,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "status": self.status,
            "result": self.result,
            "invoke_ns": self.invoke_ns,
            "complete_ns": self.complete_ns,
        }
        if self.error is not None:
            out["error"] = self.error
        if self.node is not None:
            out["node"] = self.node
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Op:
        known = {
            "index",
            "client",
            "f",
            "key",
            "value",
            "status",
            "result",
            "invoke_ns",
            "complete_ns",
            "error",
            "node",
        }
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown op fields {sorted(extra)} in {dict(data)!r}")
        return cls(**dict(data))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ms(ns: int | None, t0: int | None) -> str:
    if ns is None:
        return "?"
    if t0 is None:
        return str(ns)
    return f"+{(ns - t0) / 1e6:.3f}ms"


def _line(op: Op, t0: int | None) -> str:
    parts = [f"#{op.index}", op.client]
    if op.node is not None:
        parts.append(f"@{op.node}")
    call = op.f
    if op.key is not None:
        call += f" {_short(op.key, 40)}"
    if op.value is not None:
        call += f" {_short(op.value)}"
    parts.append(call)
    outcome = op.status
    if op.status == OK and op.result is not None:
        outcome += f" {_short(op.result)}"
    if op.error:
        error = op.error if len(op.error) <= 50 else op.error[:47] + "..."
        outcome += f" ({error})"
    parts.append(f"-> {outcome}")
    end = "?" if op.status == UNKNOWN else _ms(op.complete_ns, t0)
    parts.append(f"[{_ms(op.invoke_ns, t0)}..{end}]")
    return " ".join(parts)


def format_ops(ops: Iterable[Op], t0_ns: int | None = None, indent: str = "  ") -> str:
    """The excerpt lines for ``ops`` in invocation order, times relative to ``t0_ns``."""
    ops = sorted(ops, key=lambda o: (o.invoke_ns, o.index))
    if t0_ns is None and ops:
        t0_ns = min(o.invoke_ns for o in ops)
    return "\n".join(indent + _line(o, t0_ns) for o in ops)


class PendingOp:
    """The handle a client holds between invoke and completion.

    Call exactly one of :meth:`ok`, :meth:`fail` or :meth:`unknown`.  Used as a
    context manager (via :meth:`History.op`), an exception escaping the block
    completes the operation as ``unknown``.
    """

    def __init__(self, history: History, op: Op, suppress: tuple[type[BaseException], ...]) -> None:
        self._history = history
        self.invoked = op
        self._suppress = suppress
        self.completed: Op | None = None

    def ok(self, result: Any = None) -> Op:
        """Acknowledged: the effect happened; ``result`` is what the service answered."""
        return self._complete(OK, result, None)

    def fail(self, reason: Any = None, result: Any = None) -> Op:
        """Definitely not applied (e.g. 409, or ``no_quorum`` before the write was sent)."""
        return self._complete(FAIL, result, None if reason is None else str(reason))

    def unknown(self, reason: Any = None) -> Op:
        """Indeterminate (e.g. a timeout): may have taken effect, or not."""
        return self._complete(UNKNOWN, None, None if reason is None else str(reason))

    def _complete(self, status: str, result: Any, error: str | None) -> Op:
        if self.completed is not None:
            raise RuntimeError(f"operation already completed: {self.completed!r}")
        done = replace(self.invoked, status=status, result=result, error=error, complete_ns=self._history._clock())
        self.completed = done
        self._history._finish(done)
        return done

    def __enter__(self) -> PendingOp:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.completed is not None:
            return False
        if exc is not None:
            text = str(exc)
            self.unknown(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
            return isinstance(exc, self._suppress)
        # The block ended without saying what happened: record the only sound
        # outcome, then complain so the client code gets fixed.
        self.unknown("the client recorded no outcome")
        raise RuntimeError(f"operation {self.invoked!r} ended without ok()/fail()/unknown()")


@dataclass
class _Slot:
    op: Op
    done: bool = False


class History:
    """A thread-safe, append-only record of client operations.

    ``suppress`` names exception types that :meth:`op` blocks swallow after
    recording ``unknown`` (e.g. ``(requests.Timeout,)``) so client loops carry on;
    anything else propagates.  ``meta`` is free-form and saved in the header
    (seed, test name, cluster size...).
    """

    def __init__(
        self,
        *,
        meta: Mapping[str, Any] | None = None,
        suppress: tuple[type[BaseException], ...] = (),
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._clock = clock
        self.t0_ns = clock()
        self.meta: dict[str, Any] = dict(meta or {})
        self.suppress = tuple(suppress)

    # -- recording ---------------------------------------------------------

    def invoke(
        self,
        client: str,
        f: str,
        key: Any = None,
        value: Any = None,
        *,
        node: str | None = None,
        suppress: tuple[type[BaseException], ...] | None = None,
    ) -> PendingOp:
        """Record the invocation now; complete it later through the handle."""
        with self._lock:
            op = Op(
                index=len(self._slots),
                client=str(client),
                f=f,
                key=key,
                value=value,
                status=UNKNOWN,
                invoke_ns=self._clock(),
                node=node,
            )
            self._slots.append(_Slot(op))
        return PendingOp(self, op, self.suppress if suppress is None else tuple(suppress))

    def op(
        self,
        client: str,
        f: str,
        key: Any = None,
        value: Any = None,
        *,
        node: str | None = None,
        suppress: tuple[type[BaseException], ...] | None = None,
    ) -> PendingOp:
        """``with history.op(client="c1", f="write", key="k", value=3) as op: ... op.ok()``."""
        return self.invoke(client, f, key, value, node=node, suppress=suppress)

    def record(
        self,
        client: str,
        f: str,
        key: Any = None,
        value: Any = None,
        *,
        status: str = OK,
        result: Any = None,
        error: str | None = None,
        node: str | None = None,
        invoke_ns: int | None = None,
        complete_ns: int | None = None,
    ) -> Op:
        """Append an already-completed operation (instantaneous by default).

        For observations that have no request/response, such as a subscriber
        receiving an event (``f="deliver"``), and for building histories in tests.
        """
        with self._lock:
            now = self._clock()
            start = now if invoke_ns is None else invoke_ns
            end = (start if invoke_ns is not None else now) if complete_ns is None else complete_ns
            op = Op(
                index=len(self._slots),
                client=str(client),
                f=f,
                key=key,
                value=value,
                status=status,
                result=result,
                invoke_ns=start,
                complete_ns=end,
                error=error,
                node=node,
            )
            self._slots.append(_Slot(op, done=True))
        return op

    def _finish(self, op: Op) -> None:
        with self._lock:
            slot = self._slots[op.index]
            slot.op = op
            slot.done = True

    # -- reading -----------------------------------------------------------

    def ops(self) -> tuple[Op, ...]:
        """A snapshot in invocation order; still-open operations appear as ``unknown``."""
        with self._lock:
            return tuple(s.op if s.done else replace(s.op, error="still pending") for s in self._slots)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops())

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def __repr__(self) -> str:
        ops = self.ops()
        counts = {s: sum(1 for o in ops if o.status == s) for s in STATUSES}
        return f"History({len(ops)} ops: {counts[OK]} ok, {counts[FAIL]} fail, {counts[UNKNOWN]} unknown)"

    def excerpt(self, ops: Iterable[Op] | None = None) -> str:
        """Printable lines for ``ops`` (default: all), times relative to the history's start."""
        return format_ops(self.ops() if ops is None else ops, self.t0_ns)

    # -- building and persistence -------------------------------------------

    @classmethod
    def from_ops(cls, ops: Iterable[Op], *, meta: Mapping[str, Any] | None = None, t0_ns: int | None = None) -> History:
        """A history holding exactly ``ops`` (re-indexed by their position if needed)."""
        ops = list(ops)
        history = cls(meta=meta, clock=time.monotonic_ns)
        if t0_ns is not None:
            history.t0_ns = t0_ns
        elif ops:
            history.t0_ns = min(o.invoke_ns for o in ops)
        indices = [o.index for o in ops]
        if len(set(indices)) != len(indices):
            ops = [replace(o, index=i) for i, o in enumerate(ops)]
        history._slots = [_Slot(o, done=True) for o in ops]
        return history

    def save(self, path: str | Path) -> Path:
        """Write a header line then one JSON object per operation; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "version": VERSION, "t0_ns": self.t0_ns, "meta": self.meta}
        lines = [orjson.dumps(header, option=orjson.OPT_NON_STR_KEYS)]
        lines += [orjson.dumps(o.to_json(), option=orjson.OPT_NON_STR_KEYS) for o in self.ops()]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(b"\n".join(lines) + b"\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read what :meth:`save` wrote; errors name the file and line."""
        path = Path(path)
        ops: list[Op] = []
        header: dict[str, Any] | None = None
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
                if header is None:
                    if data.get("format") != FORMAT:
                        raise ValueError(f"not a {FORMAT} file (header {data!r})")
                    if data.get("version") != VERSION:
                        raise ValueError(f"unsupported version {data.get('version')!r}")
                    header = data
                    continue
                ops.append(Op.from_json(data))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
        if header is None:
            raise ValueError(f"{path}: empty history file")
        return cls.from_ops(ops, meta=header.get("meta") or {}, t0_ns=header.get("t0_ns"))
