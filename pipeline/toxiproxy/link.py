"""One proxied TCP connection: two directional links between two transports.

Why two paths: with no active toxic a link is a *fast path* -- the reading
protocol writes each chunk straight into the other transport (one call, no
task hop, no copy), which is what keeps the added round trip to tens of
microseconds.  When a toxic applies, chunks go through a chain of stages
(``toxics.py``) ending in a writer task; when the chain empties and the writer
has flushed, the link drops back to the fast path.  Order is preserved across
every switch because a path change happens only when nothing is queued ahead.

Ends of stream, as Toxiproxy 2.x ends them (its links ``io.Copy`` and then
``Close()`` the destination; it never half-closes): when a link's source ends
(the peer's FIN, or a toxic's ``CLOSE``), what the link holds is delivered,
then its destination socket is *closed*, not shut down for writing.  Nothing
more is read from that socket, so the other direction's source has ended
too: that link delivers what it holds and closes its destination.  A client
that half-closes (``SHUT_WR``) therefore loses any reply sent after its FIN
reached the server, exactly as through the real Toxiproxy.  ``RESET`` (from
``reset_peer``) is an RST on both sockets (SO_LINGER 0, then abort).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Protocol

from .pipe import CLOSE, EOF, Marker, Pipe
from .toxics import PASSIVE, STAGES, Stage, ToxicSpec

log = logging.getLogger("pipeline.toxiproxy")

#: Bytes a link may hold inside its toxic chain before it stops reading its source.
PIPELINE_HIGH = 4 << 20
PIPELINE_LOW = PIPELINE_HIGH // 4
#: Transport write-buffer limits (fast path backpressure).
WRITE_HIGH = 1 << 20
WRITE_LOW = 1 << 18

_LINGER_ZERO = struct.pack("ii", 1, 0)


def tune_socket(transport: asyncio.Transport) -> None:
    """TCP_NODELAY (small messages must not wait for Nagle) and write limits."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)


class Owner(Protocol):
    """What a connection uses of the proxy that accepted it; ``server.Proxy`` is the one.

    Declared here rather than importing ``Proxy``: the server builds
    connections from this module, so an import back would put the two modules
    in a circle.
    """

    @property
    def name(self) -> str: ...

    @property
    def seed(self) -> int:
        """The server's seed: each connection's RNGs derive from it."""
        ...

    @property
    def toxics(self) -> dict[str, ToxicSpec]: ...

    @property
    def connections(self) -> set[Connection]: ...


class Side(asyncio.Protocol):
    """Protocol for one socket of a connection (the client's or the upstream's)."""

    __slots__ = ("fast_write", "link", "in_link", "transport", "conn", "early", "early_eof")

    def __init__(self) -> None:
        self.early: list[bytes] = []  # data delivered before the connection was wired
        self.early_eof = False
        # dst.write while the outgoing link is on the fast path
        self.fast_write: Callable[[bytes], None] | None = None
        self.link: Link | None = None  # link reading from this socket
        self.in_link: Link | None = None  # link writing to this socket
        self.transport: asyncio.Transport | None = None
        self.conn: Connection | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.pause_reading()  # until the connection is wired

    def connected(self) -> asyncio.Transport:
        """The socket's transport: a side is wired into links only once it connected."""
        if self.transport is None:
            raise RuntimeError("proxy socket used before its connection was made")
        return self.transport

    def data_received(self, data: bytes) -> None:
        w = self.fast_write
        if w is not None:
            w(data)
        elif self.link is not None:
            self.link.feed(data)
        else:  # pause_reading() can race with a read already under way
            self.early.append(data)

    def eof_received(self) -> bool:
        if self.link is not None:
            self.link.feed_end()
        else:
            self.early_eof = True
        return True  # keep the transport open: the other direction may still flow

    def pause_writing(self) -> None:
        if self.in_link is not None:
            self.in_link.on_dst_pause()

    def resume_writing(self) -> None:
        if self.in_link is not None:
            self.in_link.on_dst_resume()

    def connection_lost(self, exc) -> None:
        if self.conn is not None:
            self.conn.side_lost(self)


@dataclass
class _Entry:
    spec: ToxicSpec
    active: bool
    stage: Stage | None = None


class Link:
    """One direction of a connection: ``src`` socket -> toxic chain -> ``dst`` socket."""

    def __init__(self, conn: Connection, direction: str, src: Side, dst: Side, rng: random.Random):
        self.conn = conn
        self.direction = direction
        self.src = src
        self.src_transport = src.connected()
        self.dst_side = dst
        self.dst = dst.connected()
        self.rng = rng
        self.entries: dict[str, _Entry] = {}
        self.chain: list[Stage] = []
        self.writer_pipe = Pipe()
        self.head = self.writer_pipe
        self.writer: asyncio.Task | None = None
        self.inflight = 0
        self.dst_paused = False
        self.src_paused = False
        self.fast = False
        self.eof_seen = False
        self.finished = False
        self._drain: asyncio.Future | None = None
        src.link = self
        dst.in_link = self

    # ---------------------------------------------------------------- path switch
    def _set_fast(self, fast: bool) -> None:
        self.fast = fast
        self.src.fast_write = self.dst.write if fast else None
        if fast:
            self.inflight = 0

    def start(self, toxics: list[ToxicSpec]) -> None:
        for spec in toxics:
            self.add_toxic(spec)
        if not self.chain:
            self._set_fast(True)

    def replay_early(self) -> None:
        """Pass on what the source sent before the connection was wired.

        Called once *both* links are started: an early EOF ends this link,
        which ends the other one too (``Connection.link_finished``).
        """
        early, self.src.early = self.src.early, []
        for data in early:
            self.src.data_received(data)
        if self.src.early_eof:
            self.feed_end()

    # ---------------------------------------------------------------- source side
    def feed(self, data: bytes) -> None:
        if self.finished:
            return
        self.inflight += len(data)
        self.head.put((monotonic(), data))
        if self.inflight > PIPELINE_HIGH:
            self._pause_src()

    def feed_end(self) -> None:
        if self.eof_seen:
            return
        self.eof_seen = True
        if self.finished:
            return
        if self.fast:
            self._finish_eof()
        else:
            self.head.put((monotonic(), EOF))

    def dropped(self, n: int) -> None:
        """A stage discarded ``n`` bytes: they no longer count against the budget."""
        self.inflight -= n
        self._maybe_resume()

    # ---------------------------------------------------------------- flow control
    def _pause_src(self) -> None:
        if not self.src_paused:
            self.src_paused = True
            if not self.src_transport.is_closing():
                self.src_transport.pause_reading()

    def _maybe_resume(self) -> None:
        if self.src_paused and not self.dst_paused and self.inflight <= PIPELINE_LOW:
            self.src_paused = False
            if not self.conn.closed and not self.src_transport.is_closing():
                self.src_transport.resume_reading()

    def on_dst_pause(self) -> None:
        self.dst_paused = True
        if self.fast:
            self._pause_src()

    def on_dst_resume(self) -> None:
        self.dst_paused = False
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)
        self._maybe_resume()

    # ---------------------------------------------------------------- writer
    def _ensure_writer(self) -> None:
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        pipe = self.writer_pipe
        try:
            while True:
                if not pipe.items:
                    if not self.chain and not self.finished:
                        self._set_fast(True)
                    await pipe.wait()
                    continue
                _, x = pipe.pop()
                if isinstance(x, Marker):
                    self._on_marker(x)
                    return
                if self.finished:
                    continue
                self.dst.write(x)
                self.inflight -= len(x)
                if self.dst_paused:
                    self._drain = asyncio.get_running_loop().create_future()
                    await self._drain
                    self._drain = None
                if self.src_paused:
                    self._maybe_resume()
        except asyncio.CancelledError:
            pass
        except Exception:  # never leave a connection half-dead on a bug
            log.exception("proxy %s: %s writer failed", self.conn.proxy.name, self.direction)
            self.conn.abort()
        finally:
            self.writer = None

    def _on_marker(self, marker: Marker) -> None:
        if marker is EOF or marker is CLOSE:
            self._finish_eof()
        else:
            self.conn.reset()

    def _finish_eof(self) -> None:
        """This direction ended: close the destination (after its buffered bytes), as Toxiproxy does."""
        self.finished = True
        self._set_fast(False)
        if not self.dst.is_closing():
            self.dst.close()  # flushes what the transport buffered, then closes: never a half-close
        self.conn.link_finished(self)

    # ---------------------------------------------------------------- toxics
    def add_toxic(self, spec: ToxicSpec) -> None:
        entry = _Entry(spec, self.rng.random() < spec.toxicity)
        self.entries[spec.name] = entry
        if entry.active:
            self._activate(entry)

    def update_toxic(self, spec: ToxicSpec) -> None:
        """Toxiproxy restarts a toxic on every update, rolling its toxicity
        again (from this link's seeded RNG here, so a run still replays)."""
        entry = self.entries.get(spec.name)
        if entry is None:
            return
        entry.spec = spec
        active = self.rng.random() < spec.toxicity
        if entry.stage is not None and active:
            entry.stage.update(spec.attributes)
        elif entry.stage is not None:
            self._deactivate(entry)
        elif active:
            self._activate(entry)
        entry.active = active

    def remove_toxic(self, name: str) -> None:
        entry = self.entries.pop(name, None)
        if entry is not None and entry.stage is not None:
            self._deactivate(entry)

    def _activate(self, entry: _Entry) -> None:
        if self.finished or (self.fast and self.eof_seen):
            return  # the stream already ended: nothing left to poison
        if entry.spec.type in PASSIVE:
            return  # noop: no stage, the data stays on whatever path it is on
        pos = sum(1 for s in self.chain if s.order < entry.spec.order)
        out = self.chain[pos].inq if pos < len(self.chain) else self.writer_pipe
        stage = STAGES[entry.spec.type](self, entry.spec, out)
        entry.stage = stage
        if pos == 0:
            self.head = stage.inq
        else:
            self.chain[pos - 1].out = stage.inq
        self.chain.insert(pos, stage)
        if self.fast:
            self._set_fast(False)
        self._ensure_writer()
        stage.start()

    def _deactivate(self, entry: _Entry) -> None:
        stage, entry.stage = entry.stage, None
        if stage is None:  # callers check entry.stage first
            raise RuntimeError(f"toxic {entry.spec.name} has no stage on this link to remove")
        pos = self.chain.index(stage)
        stage.detach()
        if pos == 0:
            self.head = stage.out
        else:
            self.chain[pos - 1].out = stage.out
        del self.chain[pos]
        if not self.chain:
            self.writer_pipe.wake()  # let the writer switch back to the fast path

    def abort(self) -> None:
        """Drop the whole connection (a stage of this link failed)."""
        self.conn.abort()

    def stop(self) -> None:
        """Cancel every task of this link (the connection is going away)."""
        self.finished = True
        self.src.fast_write = None
        for stage in self.chain:
            stage.cancel()
        if self.writer is not None:
            self.writer.cancel()
        d = self._drain
        if d is not None and not d.done():
            d.cancel()


class Connection:
    """A client socket, its upstream socket, and the two links between them."""

    def __init__(self, proxy: Owner, seq: int, client: Side, upstream: Side) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.closed = False
        seed = proxy.seed
        # Per-connection RNGs: a connection's toxicity rolls and jitter depend on
        # the seed and its sequence number, not on what other connections did.
        self.up = Link(self, "upstream", client, upstream, random.Random(f"{seed}:{proxy.name}:{seq}:up"))
        self.down = Link(self, "downstream", upstream, client, random.Random(f"{seed}:{proxy.name}:{seq}:down"))
        client.conn = self
        upstream.conn = self

    def start(self) -> None:
        toxics = sorted(self.proxy.toxics.values(), key=ToxicSpec.sort_key)
        self.up.start([t for t in toxics if t.direction == "upstream"])
        self.down.start([t for t in toxics if t.direction == "downstream"])
        self.up.replay_early()
        self.down.replay_early()
        for side in (self.client, self.upstream):
            transport = side.connected()
            if not self.closed and not transport.is_closing():
                transport.resume_reading()

    def link_for(self, stream: str) -> Link:
        return self.up if stream == "upstream" else self.down

    def link_finished(self, link: Link | None = None) -> None:
        """A direction ended.  The socket it closed was the other direction's
        source, so that one ends too (delivering what it holds first)."""
        if link is not None:
            other = self.down if link is self.up else self.up
            other.feed_end()
        if self.up.finished and self.down.finished:
            self.close()

    def side_lost(self, side: Side) -> None:
        if self.closed:
            return
        # The client's socket feeds ``up`` and is written by ``down``; the upstream's the other way round.
        reader, writer = (self.up, self.down) if side is self.client else (self.down, self.up)
        writer.stop()  # nothing more can be written to it
        reader.feed_end()  # nothing more will be read from it
        self.link_finished()

    def _teardown(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        self.up.stop()
        self.down.stop()
        self.proxy.connections.discard(self)
        return True

    def close(self) -> None:
        """Graceful: flush what is buffered, then FIN both sockets."""
        if self._teardown():
            self.client.connected().close()
            self.upstream.connected().close()

    def abort(self) -> None:
        """Drop both sockets now (proxy disabled or deleted)."""
        if self._teardown():
            self.client.connected().abort()
            self.upstream.connected().abort()

    def reset(self) -> None:
        """RST both peers: SO_LINGER 0 then close (Toxiproxy's reset_peer)."""
        if self._teardown():
            for side in (self.client, self.upstream):
                transport = side.connected()
                sock = transport.get_extra_info("socket")
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
                except (OSError, AttributeError):
                    pass
                transport.abort()
