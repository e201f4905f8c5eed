"""Fakes for exact unit tests of the manager, the link layer and the faults.

``FakeProvider`` runs no process: nodes are entries in a table with a state
(running, paused, exited) and every call is recorded in ``calls``, so a test
can assert exactly what the manager did and in which order.  ``FakeToxiproxy``
is an in-memory Toxiproxy API (the subset :mod:`pipeline.cluster.links` uses) with a
prober that answers from that state: a disabled proxy refuses, a timeout
toxic swallows, a link to a dead or paused node does not flow.

Use them only where exactness matters (which links a shape cuts, what is
torn down after a failed start, which links a seeded latency picks);
behaviour on real sockets is tested with the local provider and the ping node.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cluster.config import NodeSpec
from pipeline.cluster.links import LinkProxy, ProbeResult
from pipeline.cluster.provider import Address, NodeLaunch, Provider, ProviderError, RunContext
from pipeline.toxiproxy import NotFound

__all__ = ["FakeProvider", "FakeToxiproxy", "FakeToxiproxyClient", "FakeNode"]


@dataclass
class FakeNode:
    launch: NodeLaunch
    state: str = "running"  # running | paused | exited
    exit_code: int | None = None
    pid: int = 0
    starts: int = 0
    log: list[str] = field(default_factory=list)


class FakeProvider(Provider):
    """Nodes as table entries.  ``fail={"n2": (3, "boom")}`` makes n2 exit with
    status 3 and that log line as soon as it starts; ``never_ready={"n3"}``
    keeps n3 running but never healthy."""

    kind = "fake"

    def __init__(self, *, fail: dict[str, tuple[int, str]] | None = None, never_ready: set[str] | None = None) -> None:
        self.fail = dict(fail or {})
        self.never_ready = set(never_ready or ())
        self.nodes: dict[str, FakeNode] = {}
        self.addresses: dict[str, Address] = {}
        self.calls: list[tuple[str, str]] = []
        self.run: RunContext | None = None
        self._ports = itertools.count(20001)
        self._pids = itertools.count(90001)
        self.released = False

    def open(self, run: RunContext) -> None:
        self.run = run
        self.calls.append(("open", run.run_id))

    def allocate(self, name: str, spec: NodeSpec) -> Address:
        self.addresses[name] = Address("127.0.0.1", next(self._ports))
        self.calls.append(("allocate", name))
        return self.addresses[name]

    def address(self, name: str) -> Address:
        return self.addresses[name]

    def _node(self, name: str) -> FakeNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise ProviderError(f"node {name!r} was never started") from None

    def start(self, launch: NodeLaunch) -> None:
        launch.argv()  # render, so template errors surface as they would for real
        self.calls.append(("start", launch.name))
        node = self.nodes.get(launch.name) or FakeNode(launch)
        node.launch, node.state, node.exit_code = launch, "running", None
        node.pid, node.starts = next(self._pids), node.starts + 1
        node.log.append(f"start {launch.name} on {launch.address} peers={launch.peers_text}")
        if launch.name in self.fail:
            code, line = self.fail[launch.name]
            node.state, node.exit_code = "exited", code
            node.log.append(line)
        self.nodes[launch.name] = node

    def exit_code(self, name: str) -> int | None:
        return self._node(name).exit_code

    def pid(self, name: str) -> int | None:
        node = self.nodes.get(name)
        return None if node is None or node.state == "exited" else node.pid

    def healthy(self, name: str, health_path: str | None, timeout: float = 0.5) -> bool:
        node = self._node(name)
        return node.state == "running" and name not in self.never_ready

    def _exit(self, name: str, code: int, what: str) -> int | None:
        node = self._node(name)
        self.calls.append((what, name))
        if node.state != "exited":
            node.state, node.exit_code = "exited", code
        return node.exit_code

    def stop(self, name: str, timeout: float = 5.0) -> int | None:
        return self._exit(name, 0, "stop")

    def kill(self, name: str) -> int | None:
        return self._exit(name, -9, "kill")

    def pause(self, name: str) -> None:
        node = self._node(name)
        self.calls.append(("pause", name))
        if node.state != "running":
            raise ProviderError(f"node {name} is {node.state}; cannot pause")
        node.state = "paused"

    def resume(self, name: str) -> None:
        node = self._node(name)
        self.calls.append(("resume", name))
        if node.state == "paused":
            node.state = "running"

    def is_paused(self, name: str) -> bool:
        return self._node(name).state == "paused"

    def restart(self, name: str, timeout: float = 5.0) -> None:
        node = self._node(name)
        self.calls.append(("restart", name))
        if node.state != "exited":
            node.state, node.exit_code = "exited", 0
        self.fail.pop(name, None)
        self.start(node.launch)

    def log_tail(self, name: str, lines: int = 40) -> str:
        node = self.nodes.get(name)
        return "" if node is None else "\n".join(node.log[-lines:])

    def log_path(self, name: str) -> Path | None:
        return None

    def close(self, timeout: float = 5.0) -> None:
        self.calls.append(("close", "*"))
        for node in self.nodes.values():
            if node.state != "exited":
                node.state, node.exit_code = "exited", 0

    def release(self) -> None:
        self.released = True

    def running(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.state != "exited"]


# ------------------------------------------------------------------ Toxiproxy


@dataclass
class _Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]


@dataclass
class _Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[_Toxic] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class FakeToxiproxyClient:
    """The subset of ``ToxiproxyClient`` the link layer uses, in memory."""

    def __init__(self, server: FakeToxiproxy) -> None:
        self.server = server

    def _get(self, name: str) -> _Proxy:
        try:
            return self.server.proxies[name]
        except KeyError:
            raise NotFound(f"proxy not found: {name}") from None

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True) -> _Proxy:
        if name in self.server.proxies:
            raise ValueError(f"proxy already exists: {name}")
        host, _, port = listen.rpartition(":")
        if port == "0":
            listen = f"{host}:{next(self.server.ports)}"
        proxy = _Proxy(name, listen, upstream, enabled)
        self.server.proxies[name] = proxy
        self.server.log.append(("create", name))
        return proxy

    def get_proxy(self, name: str) -> _Proxy:
        return self._get(name)

    def update_proxy(
        self, name: str, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None
    ) -> _Proxy:
        proxy = self._get(name)
        if upstream is not None:
            proxy.upstream = upstream
        if enabled is not None:
            proxy.enabled = enabled
        self.server.log.append(("update", name))
        return proxy

    def enable(self, name: str) -> _Proxy:
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> _Proxy:
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        self._get(name)
        del self.server.proxies[name]
        self.server.log.append(("delete", name))

    def toxics(self, proxy: str) -> list[_Toxic]:
        return list(self._get(proxy).toxics)

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        stream: str = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> _Toxic:
        p = self._get(proxy)
        name = name or f"{type}_{stream}"
        if any(t.name == name for t in p.toxics):
            raise ValueError(f"toxic already exists: {name}")
        toxic = _Toxic(name, type, stream, toxicity, dict(attributes))
        p.toxics.append(toxic)
        return toxic

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        p = self._get(proxy)
        before = len(p.toxics)
        p.toxics = [t for t in p.toxics if t.name != toxic]
        if len(p.toxics) == before:
            raise NotFound(f"toxic not found: {toxic}")


class FakeToxiproxy:
    """An in-memory Toxiproxy "handle" (``url``, ``kind``, ``client()``,
    ``close()``) plus a ``prober`` that judges a link from proxy and node state.
    Give it the :class:`FakeProvider` so the prober knows which nodes answer."""

    kind = "fake"
    url = "fake://toxiproxy"
    pid = None

    def __init__(self, provider: FakeProvider | None = None) -> None:
        self.provider = provider
        self.proxies: dict[str, _Proxy] = {}
        self.ports = itertools.count(30001)
        self.log: list[tuple[str, str]] = []
        self.closed = False

    def client(self, timeout: float = 5.0) -> FakeToxiproxyClient:
        return FakeToxiproxyClient(self)

    def close(self) -> None:
        self.closed = True

    def _upstream_state(self, upstream: Address) -> str:
        if self.provider is None:
            return "running"
        for name, addr in self.provider.addresses.items():
            if addr == upstream:
                node = self.provider.nodes.get(name)
                return "exited" if node is None else node.state
        return "exited"

    def prober(self, proxy: LinkProxy, http_path: str | None, timeout: float) -> ProbeResult:
        p = self.proxies.get(proxy.name)
        if p is None or not p.enabled:
            return ProbeResult("refused", 0.0)
        if any(t.type == "timeout" and t.toxicity >= 1.0 for t in p.toxics):
            return ProbeResult("timeout", timeout)
        if any(t.type == "reset_peer" and t.toxicity >= 1.0 for t in p.toxics):
            return ProbeResult("reset", 0.0)
        upstream = self._upstream_state(Address.parse(p.upstream))
        if upstream == "paused":
            return ProbeResult("timeout", timeout)
        if upstream == "exited":
            return ProbeResult("closed", 0.0)
        delay = sum(t.attributes.get("latency", 0) for t in p.toxics if t.type == "latency") / 1000
        return ProbeResult("flows" if http_path is not None else "connected", delay)
