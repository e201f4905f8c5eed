"""Toxic definitions (validation, defaults, JSON) and their per-link stages.

A toxic is configuration held by a proxy; a *stage* is that toxic running on
one direction of one connection.  Stages form a chain between a link's reader
and its writer, mirroring Toxiproxy's ToxicStub chain, with these rules taken
from Toxiproxy 2.x:

* removing or updating a toxic never drops data a stage holds: held bytes are
  handed on (``Stage.detach``), except ``timeout`` whose removal closes the
  connection it blackholed (a TCP stream with a hole in it is corrupt);
* ``EOF`` / ``CLOSE`` / ``RESET`` markers travel behind the data before them.

Validation follows what Toxiproxy's JSON decoding accepts (``gojson``): any
``int64`` attribute, negative ones included (a negative delay is no delay),
and any float32 toxicity.  Two nonsensical settings are still refused, as
deliberate differences: a negative bandwidth ``rate`` and a slicer
``average_size`` below 1 (see ``validate_attributes``).

Units follow Toxiproxy: milliseconds, except slicer ``delay`` (microseconds)
and bandwidth ``rate`` (KB/s with KB = 1000 bytes, as Toxiproxy computes it).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from time import monotonic
from typing import Protocol

from . import gojson
from .errors import INVALID_STREAM, INVALID_TOXIC_TYPE, TOXIC_EXISTS, ApiError, bad_request
from .pipe import CLOSE, RESET, Marker, Pipe

log = logging.getLogger("pipeline.toxiproxy")

#: Every toxic type this server knows, with its attributes' defaults (Go's zero
#: values).  ``noop`` is registered by Toxiproxy too: it passes data unchanged.
TOXIC_ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
    "noop": {},
}
STREAMS = ("upstream", "downstream")
#: Where Toxiproxy lists toxics: its chains are kept per direction, upstream first.
_DIRECTION_RANK = {"upstream": 0, "downstream": 1}


@dataclass
class ToxicSpec:
    """A toxic as the API shows it; ``order`` keeps the chain in creation order.

    ``stream`` is kept as the client spelled it (Toxiproxy echoes ``"UpStream"``
    back); ``direction`` is the lower-cased direction it runs in.
    """

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict = field(default_factory=dict)
    order: int = 0

    @property
    def direction(self) -> str:
        return self.stream.lower()

    def sort_key(self) -> tuple[int, int]:
        return _DIRECTION_RANK[self.direction], self.order

    def to_json(self) -> dict:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def check_name(name: str, what: str) -> None:
    """Refuse names Toxiproxy would accept but could never address again.

    A deliberate difference from Toxiproxy 2.x: its router splits the decoded
    path at ``/`` and cleans ``.``/``..`` segments, so a proxy or toxic named
    ``a/b``, ``.`` or ``..`` can be created there but never read, changed or
    deleted (it stays until the server restarts).  Refusing it up front turns
    a leak on the real server into a clear 400 here.
    """
    if "/" in name or name in (".", ".."):
        raise bad_request(
            "name",
            f"{what} name {name!r} cannot be used in a URL path (no '/', '.' or '..'): "
            "Toxiproxy would create it but could never get, change or delete it",
        )


def validate_attributes(type_: str, attrs, base: dict | None = None) -> dict:
    """Merge ``attrs`` over ``base`` (or the defaults) as Go decodes into the toxic struct.

    Unknown keys are ignored, keys match case-insensitively, ``null`` keeps the
    value; every attribute is an ``int64`` (negative values are accepted as
    Toxiproxy accepts them: a negative delay is no delay).
    """
    if attrs is None or attrs is gojson.MISSING:
        attrs = {}
    if not isinstance(attrs, dict):
        raise bad_request("attributes", f"json: cannot unmarshal {type(attrs).__name__} into an attributes object")
    result = dict(base if base is not None else TOXIC_ATTRIBUTES[type_])
    for key in TOXIC_ATTRIBUTES[type_]:
        value = gojson.take_int64(attrs, key, f"attributes.{key}")
        if value is not gojson.MISSING:
            result[key] = value
    if type_ == "bandwidth" and result["rate"] < 0:
        # Deliberate difference: Toxiproxy accepts it, but its bandwidth toxic
        # cuts data into rate*100-byte pieces, a negative length.
        raise bad_request("attributes.rate", f"must be >= 0 (KB/s; 0 holds the data), got {result['rate']}")
    if type_ == "slicer" and result["average_size"] < 1:
        # Deliberate difference: Toxiproxy accepts it, but its slicer halves a
        # chunk until it is within size_variation of the average, which with
        # no variation to make up for it never happens; and a piece of under a
        # byte on average means nothing.
        raise bad_request("attributes.average_size", "must be >= 1 for a slicer")
    return result


def parse_toxic(body, exists=None) -> ToxicSpec:
    """Build a ToxicSpec from a create request, in Toxiproxy's order of checks.

    Toxiproxy's ``AddToxicJson``: decode (type errors), stream, default name,
    type, duplicate name (``exists(name)``: 409), then the attributes.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("body", "json: cannot unmarshal into a toxic: the body must be a JSON object")
    name = gojson.take_str(body, "name")
    type_ = gojson.take_str(body, "type")
    stream = gojson.take_str(body, "stream")
    toxicity = gojson.take_float32(body, "toxicity")  # any finite float32: > 1 always applies, < 0 never
    attrs = gojson.take_object(body, "attributes")
    stream = "downstream" if stream is gojson.MISSING else stream
    if stream.lower() not in STREAMS:
        raise ApiError(400, INVALID_STREAM, field="stream")
    type_ = "" if type_ is gojson.MISSING else type_
    if name is gojson.MISSING or not name:
        name = f"{type_}_{stream}"
    if type_ not in TOXIC_ATTRIBUTES:
        raise ApiError(400, INVALID_TOXIC_TYPE, field="type")
    check_name(name, "toxic")
    if exists is not None and exists(name):
        raise ApiError(409, TOXIC_EXISTS, field="name")
    attributes = validate_attributes(type_, attrs)
    return ToxicSpec(name, type_, stream, 1.0 if toxicity is gojson.MISSING else toxicity, attributes)


# --------------------------------------------------------------------------- stages


class StageLink(Protocol):
    """What a stage uses of the link it runs on; ``link.Link`` is the one.

    Declared here rather than importing ``Link``: the link builds its chain
    from this module's stages, so an import back would put the two modules in
    a circle.
    """

    @property
    def rng(self) -> random.Random:
        """The link's seeded RNG (jitter, slice sizes): replays with the seed."""
        ...

    def dropped(self, n: int) -> None:
        """A stage discarded ``n`` bytes instead of passing them on."""
        ...

    def abort(self) -> None:
        """Drop the whole connection (a stage failed)."""
        ...


class Stage:
    """One toxic on one link direction: reads ``inq``, writes ``out``.

    ``out`` is given at construction (the next stage's ``inq`` or the link's
    writer pipe) and re-pointed by the link when a neighbour is added or
    removed; ``order`` is the toxic's place in the chain (``ToxicSpec.order``).
    """

    def __init__(self, link: StageLink, spec: ToxicSpec, out: Pipe) -> None:
        self.link = link
        self.name = spec.name
        self.order = spec.order
        self.attrs = dict(spec.attributes)
        self.inq = Pipe()
        self.out = out
        self.cur: tuple | None = None  # taken from inq, not yet fully emitted
        self.task: asyncio.Task | None = None
        self._sleeper: asyncio.Future | None = None

    # lifecycle -------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.body()
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug here must not leave a connection hanging silently
            log.exception("toxic %s failed; dropping its connection", self.name)
            self.link.abort()

    async def body(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def update(self, attrs: dict) -> None:
        """New settings take effect at once, including on held data."""
        self.attrs = dict(attrs)
        self.inq.wake()
        s = self._sleeper
        if s is not None and not s.done():
            s.set_result(False)

    def detach(self) -> None:
        """Stop, handing everything held on to ``out`` in order (no data dropped)."""
        self.cancel()
        if self.cur is not None:
            self.out.put(self.cur)
            self.cur = None
        self.inq.drain_to(self.out)

    # helpers ---------------------------------------------------------------
    async def sleep(self, seconds: float | None) -> bool:
        """Sleep; True if it ran its course, False if an update woke it early.

        Never returns True before ``seconds`` have passed on the monotonic
        clock (event-loop timers may fire a little early), so a configured
        delay is a true lower bound.
        """
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else monotonic() + seconds
        while True:
            left = None if deadline is None else deadline - monotonic()
            if left is not None and left <= 0:
                return True
            fut = loop.create_future()
            self._sleeper = fut
            handle = loop.call_later(left, _finish, fut) if left is not None else None
            try:
                if not await fut:
                    return False
            finally:
                self._sleeper = None
                if handle is not None:
                    handle.cancel()

    async def take(self) -> tuple:
        while not self.inq.items:
            await self.inq.wait()
        return self.inq.pop()

    def emit(self, payload) -> None:
        self.out.put((monotonic(), payload))


def _finish(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(True)


class LatencyStage(Stage):
    """Each chunk leaves ``latency ± jitter`` ms after it arrived here.

    Deadlines count from arrival, so a stream is delayed, not throttled.
    """

    def _delay(self) -> float:
        latency, jitter = self.attrs["latency"], self.attrs["jitter"]
        if jitter > 0:
            latency += self.link.rng.randint(-jitter, jitter)
        return max(latency, 0) / 1000.0

    async def body(self) -> None:
        while True:
            t, x = self.cur = await self.take()
            if not isinstance(x, Marker):
                delay = self._delay()
                while True:
                    remaining = t + delay - monotonic()
                    if remaining <= 0 or await self.sleep(remaining):
                        break
                    delay = self._delay()  # updated: recompute from arrival time
            self.cur = None
            self.emit(x)
            if isinstance(x, Marker):
                return


class BandwidthStage(Stage):
    """Paces bytes at ``rate`` KB/s (1 KB = 1000 B); each slice waits its own
    transmission time before leaving, in slices of at most 100 ms.

    ``rate`` 0 holds all data until the toxic is updated or removed (Toxiproxy
    2.x makes no progress at rate 0 either; it never drops the bytes).
    """

    async def body(self) -> None:
        next_free = 0.0
        while True:
            t, x = self.cur = await self.take()
            if isinstance(x, Marker):
                self.cur = None
                self.emit(x)
                return
            data = x
            while data:
                rate = self.attrs["rate"] * 1000
                if rate <= 0:
                    await self.sleep(None)
                    continue
                piece = data[: max(1, rate // 10)]
                start = max(monotonic(), next_free)
                deadline = start + len(piece) / rate
                if not await self.sleep(deadline - monotonic()):
                    continue
                next_free = deadline
                data = data[len(piece) :]
                self.cur = (t, data) if data else None
                self.emit(piece)
            self.cur = None


class SlicerStage(Stage):
    """Cuts each chunk into pieces of ``average_size ± size_variation`` bytes,
    waiting ``delay`` µs after each piece (sizes drawn from the link's seeded RNG)."""

    async def body(self) -> None:
        rng = self.link.rng
        while True:
            t, x = self.cur = await self.take()
            if isinstance(x, Marker):
                self.cur = None
                self.emit(x)
                return
            data = x
            while data:
                avg, var = self.attrs["average_size"], self.attrs["size_variation"]
                size = avg + (rng.randint(-var, var) if var > 0 else 0)
                size = max(1, size)
                piece, data = data[:size], data[size:]
                self.cur = (t, data) if data else None
                self.emit(piece)
                delay = self.attrs["delay"]
                if delay > 0:
                    await self.sleep(delay / 1_000_000)
            self.cur = None


class TimeoutStage(Stage):
    """Drops all data; closes the connection ``timeout`` ms after it began
    applying (0 = never).  Removal closes the connection too (Toxiproxy's
    Cleanup), because the bytes it dropped left a hole in the stream."""

    async def body(self) -> None:
        started = monotonic()
        while True:
            timeout = self.attrs["timeout"]
            wait = None if timeout <= 0 else started + timeout / 1000.0 - monotonic()
            if wait is not None and wait <= 0:
                self.emit(CLOSE)
                return
            if not await self.inq.wait(wait):
                continue  # timed out (re-checked above) or woken by an update
            _, x = self.inq.pop()
            if isinstance(x, Marker):
                self.emit(x)
                return
            self.link.dropped(len(x))

    def detach(self) -> None:
        self.cancel()
        while self.inq.items:
            _, x = self.inq.pop()
            if not isinstance(x, Marker):
                self.link.dropped(len(x))
        self.emit(CLOSE)


class ResetPeerStage(Stage):
    """When data (or EOF) first reaches it, waits ``timeout`` ms, then resets
    both sides with RST (SO_LINGER 0).  Data it sees is dropped; removing it
    before it fires cancels the reset."""

    async def body(self) -> None:
        _, x = await self.take()
        if not isinstance(x, Marker):
            self.link.dropped(len(x))
        triggered = monotonic()
        while True:
            remaining = triggered + self.attrs["timeout"] / 1000.0 - monotonic()
            if remaining <= 0 or await self.sleep(remaining):
                break
        self.emit(RESET)


class LimitDataStage(Stage):
    """Passes at most ``bytes`` bytes in its direction, then closes the connection.

    The count survives updates (Toxiproxy keeps it as per-link toxic state).
    """

    def __init__(self, link: StageLink, spec: ToxicSpec, out: Pipe) -> None:
        super().__init__(link, spec, out)
        self.transmitted = 0

    async def body(self) -> None:
        while True:
            _, x = await self.take()
            if isinstance(x, Marker):
                self.emit(x)
                return
            remaining = max(self.attrs["bytes"] - self.transmitted, 0)
            piece = x[:remaining]
            if len(piece) < len(x):
                self.link.dropped(len(x) - len(piece))
            if piece:
                self.transmitted += len(piece)
                self.emit(piece)
            if self.transmitted >= self.attrs["bytes"]:
                self.emit(CLOSE)
                return


class SlowCloseStage(Stage):
    """Passes data; holds the end of the stream (EOF/close) for ``delay`` ms."""

    async def body(self) -> None:
        while True:
            t, x = await self.take()
            if not isinstance(x, Marker):
                self.emit(x)
                continue
            self.cur = (t, x)
            arrived = monotonic()
            while True:
                remaining = arrived + self.attrs["delay"] / 1000.0 - monotonic()
                if remaining <= 0 or await self.sleep(remaining):
                    break
            self.cur = None
            self.emit(x)
            return


STAGES: dict[str, type[Stage]] = {
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slicer": SlicerStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "limit_data": LimitDataStage,
    "slow_close": SlowCloseStage,
}
#: Toxic types that never change the data: no stage runs for them.
PASSIVE = frozenset({"noop"})
assert set(STAGES) | PASSIVE == set(TOXIC_ATTRIBUTES)
