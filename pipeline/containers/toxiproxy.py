"""Toxiproxy in a container on the run's own Docker network.

Nodes reach each other through it exactly as with local processes: one proxy
per directed link, the node's peers being the proxies' addresses
(``toxiproxy:<port>`` on the run's network).  Two things differ, and this
handle hides both from the link table:

* the server cannot pick a proxy's port (``listen=...:0``), because only ports
  published when the container was created can be reached from the host, and
  the runner must reach every proxy to *probe* it (that is how a fault proves
  it worked) and to use client proxies.  So the container publishes a fixed
  block of ports and :meth:`next_listen` hands them out one by one;
* :meth:`host_address` maps a proxy's listen address inside the container to
  where the runner reaches it (127.0.0.1 and the published port).

The image: the official one (``ghcr.io/shopify/toxiproxy``) when it is on the
engine or can be pulled, else the toolkit's embedded Toxiproxy-compatible
server (``python3 -m pipeline.toxiproxy``) in a container of the node image,
which carries the toolkit.  ``PIPELINE_TOXIPROXY_IMAGE`` names another image
that behaves like the official one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from pipeline.cluster.provider import Address, free_port
from pipeline.containers.engine import publish
from pipeline.toxiproxy.client import ToxiproxyClient

__all__ = ["ContainerToxiproxy", "OFFICIAL_IMAGE", "ALIAS", "API_PORT", "FIRST_PROXY_PORT", "official_image"]

OFFICIAL_IMAGE = "ghcr.io/shopify/toxiproxy:2.12.0"
ALIAS = "toxiproxy"
API_PORT = 8474
FIRST_PROXY_PORT = 10000

_PULLED: dict[str, bool] = {}
_PULL_LOCK = threading.Lock()


def official_image(client: Any) -> str | None:
    """The official (or ``PIPELINE_TOXIPROXY_IMAGE``) image if the engine has
    it or can pull it; asked once per process."""
    image = os.environ.get("PIPELINE_TOXIPROXY_IMAGE") or OFFICIAL_IMAGE
    with _PULL_LOCK:
        if image not in _PULLED:
            try:
                client.images.get(image)
                _PULLED[image] = True
            except Exception:  # noqa: BLE001 - not here: try the registry once
                try:
                    client.images.pull(image)
                    _PULLED[image] = True
                except Exception:  # noqa: BLE001 - no registry (offline, DNS): use the embedded server
                    _PULLED[image] = False
        return image if _PULLED[image] else None


class ContainerToxiproxy:
    """A started Toxiproxy container; what the cluster manager expects of a
    Toxiproxy handle (``url``, ``kind``, ``client()``, ``close()``) plus the
    listen-port plumbing above."""

    def __init__(
        self,
        *,
        client: Any,
        network: Any,
        name: str,
        labels: dict[str, str],
        node_image: str,
        proxies: int,
        seed: int | None,
        host: str = "127.0.0.1",
        bind_host: str | None = "127.0.0.1",
        ready_timeout: float = 30.0,
    ) -> None:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import HttpWaitStrategy

        official = official_image(client)
        image = official or node_image
        self.kind = "container" if official else "container-embedded"
        if official:
            command: list[str] = ["-host=0.0.0.0", f"-port={API_PORT}"] + (
                [f"-seed={seed}"] if seed is not None else []
            )
        else:
            command = ["python3", "-m", "pipeline.toxiproxy", "--host", "0.0.0.0", "--port", str(API_PORT)]
            command += ["--seed", str(seed)] if seed is not None else []
        self.seed = seed
        self.pid = None  # nothing on this machine to record: the container goes by its labels
        self.host = host
        self._ports = [FIRST_PROXY_PORT + i for i in range(max(0, proxies))]
        self._published: dict[int, int] = {}
        self._next = 0
        self._lock = threading.Lock()
        container = (
            DockerContainer(image)
            .with_command(command)
            .with_name(name)
            .with_network(network)
            .with_network_aliases(ALIAS)
            .with_kwargs(labels=labels)
            .waiting_for(HttpWaitStrategy(API_PORT, "/version").with_startup_timeout(int(ready_timeout)))
        )
        for port in [API_PORT, *self._ports]:
            host_port = free_port() if bind_host else None
            if host_port is not None:
                self._published[port] = host_port
            publish(container, port, bind_host, host_port)
        self.container = container
        self.name = name
        try:
            container.start()
        except BaseException:
            self._remove()
            raise
        if not bind_host:  # a remote engine: read back what it published
            for port in [API_PORT, *self._ports]:
                self._published[port] = int(container.get_exposed_port(port))
        self.url = f"http://{host}:{self._published[API_PORT]}"

    # the link table's hooks ------------------------------------------------

    def next_listen(self) -> str:
        """The next published port, as a proxy's ``listen`` inside the container."""
        with self._lock:
            if self._next >= len(self._ports):
                raise RuntimeError(
                    f"toxiproxy container {self.name}: all {len(self._ports)} published proxy ports are in use"
                )
            port = self._ports[self._next]
            self._next += 1
        return f"0.0.0.0:{port}"

    def host_address(self, listen: Address) -> Address:
        """Where the runner reaches the proxy listening on ``listen`` in the container."""
        try:
            return Address(self.host, self._published[listen.port])
        except KeyError:
            raise KeyError(f"toxiproxy container {self.name}: port {listen.port} is not published") from None

    # the handle ------------------------------------------------------------

    def client(self, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout=timeout)

    def logs(self) -> bytes:
        try:
            out, err = self.container.get_logs()
            return out + err
        except Exception:  # noqa: BLE001 - gone already
            return b""

    def close(self) -> None:
        self._remove()

    def _remove(self) -> None:
        wrapped = getattr(self.container, "_container", None)
        if wrapped is not None:
            try:
                wrapped.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - already removed; the run's label sweep catches the rest
                pass
            self.container._container = None

    def __repr__(self) -> str:
        return f"ContainerToxiproxy(url={getattr(self, 'url', None)!r}, kind={self.kind!r}, name={self.name!r})"
