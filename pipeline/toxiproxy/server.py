"""The proxy registry: Toxiproxy 2.x's state model, minus HTTP.

Why separate from ``api.py``: the HTTP layer only parses JSON and maps
``ApiError`` to responses; everything with semantics (defaults, conflicts,
restarts on listen/upstream change, populate's compare-and-replace, reset)
lives here and can be driven directly from Python in the same event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import socket

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
from .toxics import ToxicSpec, parse_toxic, validate_attributes, validate_toxicity

log = logging.getLogger("pipeline.toxiproxy")

VERSION = "2.12.0"
DEFAULT_LISTEN = "127.0.0.1:0"


def split_hostport(value, field: str, *, allow_zero: bool) -> tuple[str, int]:
    """Parse ``host:port`` / ``[v6]:port``; 400 naming ``field`` if malformed."""
    if not isinstance(value, str) or not value:
        raise bad_request(field, f"must be a 'host:port' string, got {value!r}")
    host, sep, port_s = value.rpartition(":")
    if not sep or not port_s.isdigit():
        raise bad_request(field, f"must be 'host:port', got {value!r}")
    port = int(port_s)
    if not (0 if allow_zero else 1) <= port <= 65535:
        raise bad_request(field, f"port out of range in {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        host = "127.0.0.1"  # never bind a wildcard implicitly
    return host, port


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

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics.values()],
        }

    # ------------------------------------------------------------ listening
    async def start(self) -> None:
        if self.enabled:
            return
        host, port = split_hostport(self.listen, "listen", allow_zero=True)
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
            host, port = split_hostport(self.upstream, "upstream", allow_zero=False)
            _, upstream = await loop.create_connection(Side, host, port)
        except asyncio.CancelledError:
            client_transport.abort()
            raise
        except (OSError, ApiError) as exc:
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
            conn.link_for(spec.stream).add_toxic(spec)
        return spec

    def get_toxic(self, name: str) -> ToxicSpec:
        try:
            return self.toxics[name]
        except KeyError:
            raise ApiError(404, TOXIC_NOT_FOUND) from None

    def update_toxic(self, name: str, body) -> ToxicSpec:
        old = self.get_toxic(name)
        if not isinstance(body, dict):
            raise bad_request("body", "must be a JSON object")
        attributes = validate_attributes(old.type, body.get("attributes"), base=old.attributes)
        toxicity = validate_toxicity(body["toxicity"]) if "toxicity" in body else old.toxicity
        new = ToxicSpec(old.name, old.type, old.stream, toxicity, attributes, old.order)
        self.toxics[name] = new
        for conn in list(self.connections):
            conn.link_for(new.stream).update_toxic(new, toxicity != old.toxicity)
        return new

    def remove_toxic(self, name: str) -> None:
        spec = self.get_toxic(name)
        del self.toxics[name]
        for conn in list(self.connections):
            conn.link_for(spec.stream).remove_toxic(name)


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


def _parse_proxy_body(body, *, where: str = "") -> dict:
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        if name is not None and not isinstance(name, str):
            raise bad_request("name", "must be a string")
        raise missing_field("name" + where)
    upstream = body.get("upstream")
    if not isinstance(upstream, str) or not upstream:
        if upstream is not None and not isinstance(upstream, str):
            raise bad_request("upstream", "must be a string")
        raise missing_field("upstream" + where)
    split_hostport(upstream, "upstream", allow_zero=False)
    listen = body.get("listen") or DEFAULT_LISTEN
    split_hostport(listen, "listen", allow_zero=True)
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise bad_request("enabled", f"must be a boolean, got {enabled!r}")
    return {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}


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
        fields = _parse_proxy_body(body)
        async with self._lock:
            if fields["name"] in self.proxies:
                raise ApiError(409, PROXY_EXISTS, field="name")
            proxy = Proxy(self, fields["name"], fields["listen"], fields["upstream"])
            if fields["enabled"]:
                await proxy.start()
            self.proxies[proxy.name] = proxy
            return proxy

    async def update_proxy(self, name: str, body) -> Proxy:
        if not isinstance(body, dict):
            raise bad_request("body", "must be a JSON object")
        async with self._lock:
            proxy = self.get_proxy(name)
            listen = body.get("listen") or proxy.listen
            upstream = body.get("upstream") or proxy.upstream
            enabled = body.get("enabled", proxy.enabled)
            split_hostport(listen, "listen", allow_zero=True)
            split_hostport(upstream, "upstream", allow_zero=False)
            if not isinstance(enabled, bool):
                raise bad_request("enabled", f"must be a boolean, got {enabled!r}")
            if listen != proxy.listen or upstream != proxy.upstream:
                was_enabled = proxy.enabled
                proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
                if was_enabled and enabled:
                    await proxy.start()
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
        """Create or replace proxies; one with the same listen and upstream is kept.

        The whole request is validated before anything changes (as Toxiproxy
        2.x does); a bind failure part way returns the proxies applied so far.
        """
        if isinstance(body, dict) and isinstance(body.get("proxies"), list):
            body = body["proxies"]
        if not isinstance(body, list):
            raise bad_request("body", "must be a JSON array of proxies")
        wanted, seen = [], set()
        for i, item in enumerate(body, 1):
            fields = _parse_proxy_body(item, where=f" at proxy {i}")
            if fields["name"] in seen:
                raise bad_request("name", f"duplicate proxy name {fields['name']!r} at proxy {i}")
            seen.add(fields["name"])
            wanted.append(fields)
        applied: list[Proxy] = []
        async with self._lock:
            for fields in wanted:
                existing = self.proxies.get(fields["name"])
                if existing is not None:
                    if existing.listen == fields["listen"] and existing.upstream == fields["upstream"]:
                        applied.append(existing)
                        continue
                    existing.stop()
                    del self.proxies[existing.name]
                proxy = Proxy(self, fields["name"], fields["listen"], fields["upstream"])
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
            return proxy.add_toxic(parse_toxic(body))

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
