"""The cluster's network: one Toxiproxy proxy per directed peer link.

Why a proxy per *directed* link: node n1 reaches n2 only through the proxy
``n1->n2``, and n2 reaches n1 only through ``n2->n1``, so every partition shape
(groups, one isolated node, a bridge, a one-way cut) is a set of proxies to
break, and nothing else on the machine is touched.  Optionally each node also
gets a *client* proxy, so test traffic can be faulted separately from peer
traffic.

Proxies are created before the nodes start, listening on ``127.0.0.1:0``; the
server picks a free port, which is read back and handed to the source node as
that peer's address.  (A Toxiproxy in a container hands out its published
ports instead, and says where the runner reaches each: ``next_listen`` and
``runner_address``.)  Names are ``<run-id>:n1->n2`` (and
``<run-id>:client->n1``): the run id keeps parallel runs sharing one Toxiproxy
server apart, and Toxiproxy accepts any name without a ``/``.

The primitives here are small and *tagged*: every toxic is named after the
fault that added it (``f3-drop-up``), and a rejected link counts which faults
disabled it, so one fault can be undone without undoing another.  Faults
themselves (what to break, verifying it, logging it) live in
:mod:`pipeline.faults.network`.

``probe_link`` is how a fault proves it worked: a real TCP exchange through the
proxy, an HTTP GET of the destination's health path, which either *flows*
(an HTTP status line comes back) or not (refused, reset, closed, or nothing
within the probe timeout).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.cluster.provider import Address
from pipeline.cluster.topology import Link
from pipeline.toxiproxy import NotFound

if TYPE_CHECKING:
    from pipeline.cluster.runstate import RunState

__all__ = ["LinkProxy", "LinkTable", "ProbeResult", "probe_link", "proxy_name", "CLIENT"]

CLIENT = "client"


def proxy_name(run_id: str, src: str, dst: str) -> str:
    """The Toxiproxy name of the proxy carrying ``src``'s connections to ``dst``."""
    return f"{run_id}:{src}->{dst}"


@dataclass(frozen=True)
class LinkProxy:
    """One proxy: a peer link (``link.src`` = node) or a client link
    (``link.src`` = ``"client"``)."""

    link: Link
    name: str
    listen: Address
    upstream: Address
    #: where the runner reaches the proxy, when not at ``listen`` (a
    #: Toxiproxy in a container: 127.0.0.1 and the published port)
    reach: Address | None = None

    @property
    def is_client(self) -> bool:
        return self.link.src == CLIENT

    @property
    def runner_address(self) -> Address:
        """The address the test runner connects to (probes, client traffic)."""
        return self.reach or self.listen


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one exchange through a proxy.

    ``outcome``: ``flows`` (an HTTP status line came back), ``connected`` (TCP
    connect worked; no HTTP check was asked for), ``refused``, ``reset``,
    ``closed`` (EOF with no answer), ``timeout`` (no answer in time), ``error``.
    """

    outcome: str
    elapsed: float
    detail: str = ""

    @property
    def flows(self) -> bool:
        return self.outcome == "flows"


def probe_link(address: Address, http_path: str | None, timeout: float = 0.3) -> ProbeResult:
    """Connect to ``address`` and, with ``http_path``, GET it and wait for a
    status line (see :class:`ProbeResult`)."""
    start = time.monotonic()

    def done(outcome: str, detail: str = "") -> ProbeResult:
        return ProbeResult(outcome, time.monotonic() - start, detail)

    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except ConnectionRefusedError:
        return done("refused")
    except TimeoutError:
        return done("timeout", "connect")
    except OSError as exc:
        return done("error", str(exc))
    with sock:
        if http_path is None:
            return done("connected")
        try:
            sock.settimeout(max(0.001, timeout - (time.monotonic() - start)))
            sock.sendall(f"GET {http_path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
            data = sock.recv(16)
        except TimeoutError:
            return done("timeout")
        except ConnectionResetError:
            return done("reset")
        except OSError as exc:
            return done("error", str(exc))
    if not data:
        return done("closed")
    if data.startswith(b"HTTP/"):
        return done("flows", data.decode("latin-1").strip())
    return done("error", f"unexpected answer {data!r}")


Prober = Callable[[LinkProxy, "str | None", float], ProbeResult]


def tcp_prober(proxy: LinkProxy, http_path: str | None, timeout: float) -> ProbeResult:
    return probe_link(proxy.runner_address, http_path, timeout)


class LinkTable:
    """The proxies of one run, over a Toxiproxy client (``ToxiproxyClient`` or
    the fake one), with tagged fault primitives."""

    def __init__(
        self,
        client: Any,
        run_id: str,
        *,
        peer_address: Callable[[Address], Address] | None = None,
        prober: Prober | None = None,
        state: RunState | None = None,
        listen_host: str = "127.0.0.1",
        next_listen: Callable[[], str] | None = None,
        runner_address: Callable[[Address], Address] | None = None,
    ) -> None:
        self.client = client
        self.listen_host = listen_host
        self._next_listen = next_listen or (lambda: f"{self.listen_host}:0")
        self._runner_address = runner_address
        self.run_id = run_id
        self._peer_address = peer_address or (lambda a: a)
        self.prober: Prober = prober or tcp_prober
        self.state = state
        self._proxies: dict[Link, LinkProxy] = {}
        self._disabled_by: dict[Link, set[str]] = {}
        self._toxics: dict[Link, dict[str, str]] = {}  # link -> toxic name -> fault tag
        self._lock = threading.RLock()

    # --------------------------------------------------------------- building

    def create(self, links: Iterable[Link], upstreams: Mapping[str, Address], client_nodes: Iterable[str] = ()) -> None:
        """Create the proxies for ``links`` (and client proxies for
        ``client_nodes``), listening on free ports chosen by the server."""
        wanted = [Link(link.src, link.dst) for link in links] + [Link(CLIENT, n) for n in client_nodes]
        names = {link: proxy_name(self.run_id, link.src, link.dst) for link in wanted}
        if self.state is not None:  # note first, so a crash half-way is still cleaned
            self.state.add_proxies(list(names.values()))
        for link in wanted:
            upstream = upstreams[link.dst]
            info = self.client.create_proxy(names[link], upstream=str(upstream), listen=self._next_listen())
            listen = Address(info.host, int(info.port))
            reach = self._runner_address(listen) if self._runner_address is not None else None
            with self._lock:
                self._proxies[link] = LinkProxy(link, names[link], listen, upstream, reach)
                self._disabled_by[link] = set()
                self._toxics[link] = {}
            if not info.enabled or info.toxics:  # heal at start: a link starts clean, whatever the server had
                for toxic in info.toxics:
                    self.client.remove_toxic(names[link], toxic.name)
                if not info.enabled:
                    self.client.enable(names[link])

    def set_upstream(self, node: str, address: Address) -> None:
        """Point every proxy towards ``node`` at its new address."""
        for link, proxy in list(self._proxies.items()):
            if link.dst == node:
                self.client.update_proxy(proxy.name, upstream=str(address))
                self._proxies[link] = LinkProxy(link, proxy.name, proxy.listen, address, proxy.reach)

    def destroy(self) -> list[str]:
        """Delete every proxy of the run; return names that could not be deleted."""
        failed = []
        for proxy in list(self._proxies.values()):
            try:
                self.client.delete_proxy(proxy.name)
            except NotFound:
                pass
            except Exception:  # noqa: BLE001 - server gone: keep going, report it
                failed.append(proxy.name)
        if self.state is not None:
            self.state.drop_proxies([p.name for p in self._proxies.values() if p.name not in failed])
        self._proxies.clear()
        return failed

    # ---------------------------------------------------------------- reading

    @property
    def links(self) -> list[Link]:
        """Peer links (client proxies excluded), in creation order."""
        return [link for link in self._proxies if link.src != CLIENT]

    def proxy(self, link: Link) -> LinkProxy:
        try:
            return self._proxies[link]
        except KeyError:
            raise KeyError(f"no proxy for link {link}; links: {', '.join(map(str, self._proxies))}") from None

    def client_proxy(self, node: str) -> LinkProxy | None:
        return self._proxies.get(Link(CLIENT, node))

    def peers_of(self, node: str) -> dict[str, Address]:
        """Where ``node`` reaches each peer: its outgoing proxies' listen addresses."""
        return {link.dst: self._peer_address(p.listen) for link, p in self._proxies.items() if link.src == node}

    def is_disabled(self, link: Link) -> bool:
        return bool(self._disabled_by.get(link))

    def only_faulted_by(self, link: Link, tag: str) -> bool:
        """True when no fault but ``tag`` currently acts on ``link`` (so a probe
        of it shows ``tag``'s effect alone)."""
        with self._lock:
            return not self._disabled_by.get(link) and all(t == tag for t in self._toxics.get(link, {}).values())

    def toxics_of(self, link: Link) -> dict[str, str]:
        """Toxic name -> fault tag, as this table added them."""
        return dict(self._toxics.get(link, {}))

    def server_view(self, link: Link) -> tuple[bool, list[str]]:
        """(enabled, toxic names) as the Toxiproxy server reports them."""
        info = self.client.get_proxy(self.proxy(link).name)
        return bool(info.enabled), sorted(t.name for t in info.toxics)

    # ------------------------------------------------------------- primitives

    def add_toxic(
        self,
        link: Link,
        tag: str,
        toxic_type: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        suffix: str | None = None,
        **attributes: Any,
    ) -> str:
        name = f"{tag}-{suffix or toxic_type}-{'up' if stream == 'upstream' else 'down'}"
        self.client.add_toxic(
            self.proxy(link).name, toxic_type, stream=stream, name=name, toxicity=toxicity, **attributes
        )
        with self._lock:
            self._toxics[link][name] = tag
        return name

    def remove_toxics(self, link: Link, tag: str) -> int:
        """Remove the toxics fault ``tag`` put on ``link``; return how many."""
        with self._lock:
            names = [n for n, t in self._toxics.get(link, {}).items() if t == tag]
        for name in names:
            try:
                self.client.remove_toxic(self.proxy(link).name, name)
            except NotFound:
                pass
            with self._lock:
                self._toxics[link].pop(name, None)
        return len(names)

    def disable(self, link: Link, tag: str) -> None:
        with self._lock:
            first = not self._disabled_by[link]
            self._disabled_by[link].add(tag)
        if first:
            self.client.disable(self.proxy(link).name)

    def enable(self, link: Link, tag: str) -> None:
        with self._lock:
            holders = self._disabled_by[link]
            had = tag in holders
            holders.discard(tag)
            last = had and not holders
        if last:
            self.client.enable(self.proxy(link).name)

    def heal_all(self) -> None:
        """Every proxy enabled, no toxics: asks the server, not our notes, so
        it also clears whatever someone else put on our proxies."""
        for link, proxy in list(self._proxies.items()):
            info = self.client.get_proxy(proxy.name)
            for toxic in info.toxics:
                try:
                    self.client.remove_toxic(proxy.name, toxic.name)
                except NotFound:
                    pass
            if not info.enabled:
                self.client.enable(proxy.name)
            with self._lock:
                self._toxics[link] = {}
                self._disabled_by[link] = set()

    # ----------------------------------------------------------------- probing

    def probe_many(
        self, links: Iterable[Link], http_path: Callable[[str], str | None], timeout: float
    ) -> dict[Link, ProbeResult]:
        """Probe several links at once (one thread each, bounded)."""
        links = list(links)
        if not links:
            return {}
        with ThreadPoolExecutor(max_workers=min(16, len(links))) as pool:
            results = pool.map(lambda link: self.prober(self.proxy(link), http_path(link.dst), timeout), links)
            return dict(zip(links, results, strict=True))
