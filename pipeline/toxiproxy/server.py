"""The proxy registry: Toxiproxy 2.x's state model, minus HTTP.

Why separate from ``api.py``: the HTTP layer only parses JSON and maps
``ApiError`` to responses; everything with semantics (defaults, conflicts,
restarts on listen/upstream change, populate's compare-and-replace, reset)
lives here and can be driven directly from Python in the same event loop.

What a body may hold is what Toxiproxy's Go decoding lets through (see
``gojson``): ``listen`` is checked only when the proxy binds (a 500, as
Toxiproxy's ``net.Listen`` error) and ``upstream`` only when a connection
dials it (the client is closed).  Deliberate differences, each protecting
users from something the real server would do to them: an empty listen host
binds 127.0.0.1, not every interface; names with ``/`` (or ``.``/``..``)
are refused (``toxics.check_name``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import socket

from . import gojson
from .errors import (
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_EXISTS,
    TOXIC_NOT_FOUND,
    ApiError,
    bad_request,
    missing_field,
)
from .link import Connection, Side, tune_socket
from .toxics import ToxicSpec, check_name, parse_toxic, validate_attributes

log = logging.getLogger("pipeline.toxiproxy")

VERSION = "2.12.0"


def split_hostport(value: str) -> tuple[str, int]:
    """Parse ``host:port`` / ``[v6]:port`` (a service name is a port, as Go allows).

    Raises ``ValueError`` worded like Go's ``net`` errors.  An empty host (and
    an empty address) means 127.0.0.1 here, where Toxiproxy would bind every
    interface: a deliberate difference, so nothing is exposed by accident.
    """
    if value == "":
        return "127.0.0.1", 0
    host, sep, port_s = value.rpartition(":")
    if not sep:
        raise ValueError(f"address {value}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {value}: too many colons in address")
    if port_s.isdigit():
        port = int(port_s)
    elif port_s == "":
        port = 0
    else:
        try:
            port = socket.getservbyname(port_s, "tcp")
        except OSError:
            raise ValueError(f"address {value}: unknown port") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"address {port_s}: invalid port")
    return host or "127.0.0.1", port


def format_addr(addr: tuple) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ApiError(500, f"listen tcp {host}:{port}: {exc}") from exc
    family, type_, proto, _, addr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ApiError(500, f"listen tcp {format_addr(addr)}: bind: {exc.strerror}") from exc
    return sock


class Proxy:
    """A listener plus its live connections and its ordered toxics."""

    def __init__(self, server: ToxiproxyServer, name: str, listen: str, upstream: str) -> None:
        self.server = server
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, ToxicSpec] = {}
        self.connections: set[Connection] = set()
        self._listener: asyncio.AbstractServer | None = None
        self._pending: set[asyncio.Task] = set()
        self._seq = itertools.count()

    @property
    def seed(self) -> int:
        """The server's seed, which each connection's RNGs derive from."""
        return self.server.seed

    def toxic_list(self) -> list[ToxicSpec]:
        """The toxics in Toxiproxy's order: upstream ones first, each direction in creation order."""
        return sorted(self.toxics.values(), key=ToxicSpec.sort_key)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxic_list()],
        }

    # ------------------------------------------------------------ listening
    async def start(self) -> None:
        if self.enabled:
            return
        try:
            host, port = split_hostport(self.listen)
        except ValueError as exc:  # Toxiproxy checks listen only here, when it binds: a 500
            raise ApiError(500, f"listen tcp: {exc}") from None
        sock = _bind(host, port)
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(lambda: _ClientSide(self), sock=sock)
        self.listen = format_addr(sock.getsockname())
        self.enabled = True
        log.info("proxy %s listening on %s -> %s", self.name, self.listen, self.upstream)

    def stop(self) -> None:
        """Stop listening (new connections are refused) and drop live ones."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.enabled = False
        for task in list(self._pending):
            task.cancel()
        for conn in list(self.connections):
            conn.abort()

    async def _connect(self, client: _ClientSide) -> None:
        loop = asyncio.get_running_loop()
        client_transport = client.connected()  # this task starts from its connection_made
        try:
            if not self.upstream:
                raise ValueError("dial tcp: missing address")
            host, port = split_hostport(self.upstream)  # checked per connection, as Toxiproxy dials it
            _, upstream = await loop.create_connection(Side, host, port)
        except asyncio.CancelledError:
            client_transport.abort()
            raise
        except (OSError, ValueError, OverflowError) as exc:
            log.warning("proxy %s: upstream %s unreachable: %s", self.name, self.upstream, exc)
            client_transport.close()
            return
        upstream_transport = upstream.connected()
        if client.lost or not self.enabled:
            upstream_transport.close()
            client_transport.close()
            return
        tune_socket(client_transport)
        tune_socket(upstream_transport)
        conn = Connection(self, next(self._seq), client, upstream)
        self.connections.add(conn)
        conn.start()

    # ------------------------------------------------------------ toxics
    def add_toxic(self, spec: ToxicSpec) -> ToxicSpec:
        if spec.name in self.toxics:
            raise ApiError(409, TOXIC_EXISTS, field="name")
        spec.order = next(self.server._toxic_order)
        self.toxics[spec.name] = spec
        for conn in list(self.connections):
            conn.link_for(spec.direction).add_toxic(spec)
        return spec

    def get_toxic(self, name: str) -> ToxicSpec:
        try:
            return self.toxics[name]
        except KeyError:
            raise ApiError(404, TOXIC_NOT_FOUND) from None

    def update_toxic(self, name: str, body) -> ToxicSpec:
        """Toxiproxy's ``UpdateToxicJson``: only ``attributes`` and ``toxicity``
        change; an absent or ``null`` value (or a ``null`` body) keeps what was set.

        A deliberate difference: a rejected update changes nothing here, where
        Toxiproxy may already have written the attributes decoded before the
        bad one into what GET shows (not into live connections).
        """
        old = self.get_toxic(name)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise bad_request("body", "json: cannot unmarshal into a toxic update: the body must be a JSON object")
        attrs = gojson.take_object(body, "attributes")
        toxicity = gojson.take_float32(body, "toxicity")
        attributes = validate_attributes(old.type, attrs, base=old.attributes)
        toxicity = old.toxicity if toxicity is gojson.MISSING else toxicity
        new = ToxicSpec(old.name, old.type, old.stream, toxicity, attributes, old.order)
        self.toxics[name] = new
        for conn in list(self.connections):
            conn.link_for(new.direction).update_toxic(new)
        return new

    def remove_toxic(self, name: str) -> None:
        spec = self.get_toxic(name)
        del self.toxics[name]
        for conn in list(self.connections):
            conn.link_for(spec.direction).remove_toxic(name)


class _ClientSide(Side):
    """The accepted socket: holds reading until the upstream connection exists."""

    __slots__ = ("proxy", "lost", "task")

    def __init__(self, proxy: Proxy) -> None:
        super().__init__()
        self.proxy = proxy
        self.lost = False
        self.task: asyncio.Task[None] | None = None  # connecting upstream

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        task = asyncio.get_running_loop().create_task(self.proxy._connect(self))
        self.task = task
        self.proxy._pending.add(task)
        task.add_done_callback(self.proxy._pending.discard)

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.conn is None and self.task is not None:
            self.task.cancel()  # gone before its upstream connection was made
        super().connection_lost(exc)


def _decode_proxy(body, what: str = "a proxy") -> dict:
    """The fields of a proxy body, type-checked as Go decodes them (``MISSING`` if absent or null)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("body", f"json: cannot unmarshal into {what}: it must be a JSON object")
    return {
        "name": gojson.take_str(body, "name"),
        "listen": gojson.take_str(body, "listen"),
        "upstream": gojson.take_str(body, "upstream"),
        "enabled": gojson.take_bool(body, "enabled"),
    }


def _new_proxy_fields(fields: dict, *, where: str = "") -> dict:
    """Toxiproxy's checks on a new proxy: a name and an upstream; listen and upstream
    are only used when binding and dialling (a bad one is a 500 or a closed connection)."""
    name, upstream = fields["name"], fields["upstream"]
    if name is gojson.MISSING or not name:
        raise missing_field("name" + where)
    if upstream is gojson.MISSING or not upstream:
        raise missing_field("upstream" + where)
    check_name(name, "proxy")
    listen = fields["listen"]
    enabled = fields["enabled"]
    return {
        "name": name,
        "listen": "" if listen is gojson.MISSING else listen,
        "upstream": upstream,
        "enabled": True if enabled is gojson.MISSING else enabled,
    }


class ToxiproxyServer:
    """All proxies of one server.  Every mutation runs under one lock, in order."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()
        self._toxic_order = itertools.count()

    def get_proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(404, PROXY_NOT_FOUND) from None

    async def create_proxy(self, body) -> Proxy:
        fields = _new_proxy_fields(_decode_proxy(body))
        async with self._lock:
            if fields["name"] in self.proxies:
                raise ApiError(409, PROXY_EXISTS, field="name")
            proxy = Proxy(self, fields["name"], fields["listen"], fields["upstream"])
            if fields["enabled"]:
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def update_proxy(self, name: str, body) -> Proxy:
        """Toxiproxy's ``ProxyUpdate``: absent or ``null`` fields keep their value.

        A new listen or upstream restarts the listener (live connections are
        dropped); nothing is checked before it binds, as in Toxiproxy.
        """
        async with self._lock:
            proxy = self.get_proxy(name)
            fields = _decode_proxy(body, "a proxy update")
            listen = proxy.listen if fields["listen"] is gojson.MISSING else fields["listen"]
            upstream = proxy.upstream if fields["upstream"] is gojson.MISSING else fields["upstream"]
            enabled = proxy.enabled if fields["enabled"] is gojson.MISSING else fields["enabled"]
            if listen != proxy.listen or upstream != proxy.upstream:
                proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
            if enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                proxy.stop()
            return proxy

    async def delete_proxy(self, name: str) -> None:
        async with self._lock:
            proxy = self.get_proxy(name)
            proxy.stop()
            del self.proxies[name]

    async def populate(self, body) -> tuple[list[Proxy], ApiError | None]:
        """Toxiproxy's ``PopulateJson``: create or replace proxies, in the order given.

        The whole request is checked before anything changes.  Each entry is
        then applied in turn, so a name given twice is applied twice (the last
        one stays).  An entry whose listen and upstream equal the existing
        proxy's keeps that proxy untouched; the answer then lists the proxy
        the entry described, never started, as Toxiproxy's does.  A bind
        failure stops there and returns the proxies applied so far; the proxy
        it would have replaced stays, stopped.
        """
        if body is None:
            body = []
        if not isinstance(body, list):
            raise bad_request("body", "json: cannot unmarshal into the proxy list: must be a JSON array of proxies")
        decoded = [_decode_proxy(item, f"proxy {i}") for i, item in enumerate(body, 1)]
        wanted = [_new_proxy_fields(fields, where=f" at proxy {i}") for i, fields in enumerate(decoded, 1)]
        applied: list[Proxy] = []
        async with self._lock:
            for fields in wanted:
                proxy = Proxy(self, fields["name"], fields["listen"], fields["upstream"])
                existing = self.proxies.get(proxy.name)
                if existing is not None:
                    if existing.listen == proxy.listen and existing.upstream == proxy.upstream:
                        applied.append(proxy)
                        continue
                    existing.stop()
                try:
                    if fields["enabled"]:
                        await proxy.start()
                except ApiError as exc:
                    return applied, exc
                self.proxies[proxy.name] = proxy
                applied.append(proxy)
        return applied, None

    async def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        async with self._lock:
            for proxy in list(self.proxies.values()):
                if not proxy.enabled:
                    await proxy.start()
                for name in list(proxy.toxics):
                    proxy.remove_toxic(name)

    async def add_toxic(self, proxy_name: str, body) -> ToxicSpec:
        async with self._lock:
            proxy = self.get_proxy(proxy_name)
            return proxy.add_toxic(parse_toxic(body, exists=proxy.toxics.__contains__))

    async def update_toxic(self, proxy_name: str, toxic_name: str, body) -> ToxicSpec:
        async with self._lock:
            return self.get_proxy(proxy_name).update_toxic(toxic_name, body)

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        async with self._lock:
            self.get_proxy(proxy_name).remove_toxic(toxic_name)

    async def close(self) -> None:
        async with self._lock:
            for proxy in self.proxies.values():
                proxy.stop()
            self.proxies.clear()
