"""The one interface between the cluster manager and wherever nodes run.

A provider turns a :class:`NodeLaunch` (everything decided about one node:
its rendered command, address, peers, folders) into a running node and can
signal it afterwards.  The manager never touches processes or containers
itself, so the same manager, link layer and fault API work with the local
subprocess provider, the fake one used in unit tests, and a containers
provider later (like httpx's transports: one small abstract class, several
implementations).

Addresses: ``allocate`` decides where a node listens *as seen by the link
proxies* (its upstream); ``client_address`` is how the test runner reaches it;
``peer_address`` maps a proxy's listen address to how a *node* reaches it.
For local processes all three are the same 127.0.0.1 addresses; in containers
they differ (``n1:8000`` on the Docker network vs a mapped host port).
"""

from __future__ import annotations

import abc
import json
import os
import random
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cluster.config import NodeSpec

if TYPE_CHECKING:
    from pipeline.cluster.runstate import RunState

__all__ = ["Address", "NodeLaunch", "RunContext", "Provider", "ProviderError", "free_port", "http_health"]


class ProviderError(RuntimeError):
    """A provider could not do what was asked (unknown node, bad limit...)."""


@dataclass(frozen=True, order=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Address:
        host, _, port = text.rpartition(":")
        return cls(host or "127.0.0.1", int(port))


@dataclass(frozen=True)
class RunContext:
    """The run a provider works for: id, report folder, state file."""

    run_id: str
    run_dir: Path
    state: RunState | None = None


@dataclass
class NodeLaunch:
    """Everything decided about one node before it starts."""

    name: str
    index: int
    spec: NodeSpec
    address: Address
    peers: dict[str, Address]
    run_id: str
    data_dir: Path
    log_path: Path
    config_file: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def peers_text(self) -> str:
        """``n2=127.0.0.1:41001,n3=127.0.0.1:41002`` (sorted by peer name)."""
        return ",".join(f"{name}={addr}" for name, addr in sorted(self.peers.items()))

    def placeholders(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "host": self.address.host,
            "port": self.address.port,
            "peers": self.peers_text,
            "data_dir": str(self.data_dir),
            "log_path": str(self.log_path),
            "config_file": str(self.config_file),
            "run_id": self.run_id,
            "config": self.spec.config_dict,
        }

    def argv(self) -> list[str]:
        """The node's command with its placeholders filled."""
        if not self.spec.command:
            raise ProviderError(f"node {self.name}: no command (this spec only has an image)")
        values = self.placeholders()
        try:
            return [part.format(**values) for part in self.spec.command]
        except (KeyError, IndexError) as exc:
            raise ProviderError(
                f"node {self.name}: command template needs {exc} (config overrides: {sorted(self.spec.config_dict)})"
            ) from None
        except ValueError as exc:  # a format spec that does not suit a config override's value
            raise ProviderError(f"node {self.name}: command template cannot be filled: {exc}") from None

    def environment(self) -> dict[str, str]:
        """Variables added to the node's environment (on top of the spec's env)."""
        env = {
            "CLUSTER_NODE": self.name,
            "CLUSTER_HOST": self.address.host,
            "CLUSTER_PORT": str(self.address.port),
            "CLUSTER_PEERS": self.peers_text,
            "CLUSTER_DATA_DIR": str(self.data_dir),
            "CLUSTER_RUN_ID": self.run_id,
            "CLUSTER_CONFIG": json.dumps(self.spec.config_dict, sort_keys=True, default=str),
            "CLUSTER_CONFIG_FILE": str(self.config_file),
        }
        env.update(self.spec.env_dict)
        env.update(self.extra_env)
        return env

    def prepare_files(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(self.spec.config_dict, indent=1, sort_keys=True, default=str))


class Provider(abc.ABC):
    """Runs nodes somewhere.  Every method names the node by its cluster name."""

    kind: str = "abstract"
    #: where link proxies listen on the Toxiproxy host (a containers provider
    #: would use 0.0.0.0 inside its Toxiproxy container)
    proxy_listen_host: str = "127.0.0.1"

    def open(self, run: RunContext) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Called once before the first node of a run starts."""

    def toxiproxy(self, seed: int, proxies: int) -> Any | None:
        """A Toxiproxy of the provider's own for this run, with room for
        ``proxies`` proxies, or None to use the process-wide one (local nodes).
        A containers provider runs one on the run's network; its handle may
        also have ``next_listen()`` and ``host_address(listen)`` (see
        :mod:`pipeline.containers.toxiproxy`).  The provider closes it."""
        return None

    @abc.abstractmethod
    def allocate(self, name: str, spec: NodeSpec) -> Address:
        """Decide where node ``name`` will listen (the proxies' upstream)."""

    def client_address(self, name: str) -> Address:
        """How the test runner reaches node ``name`` directly."""
        return self.address(name)

    def peer_address(self, proxy_listen: Address) -> Address:
        """How a node reaches a link proxy that listens on ``proxy_listen``."""
        return proxy_listen

    def address(self, name: str) -> Address:
        """Where node ``name`` listens (after ``allocate``): what ``allocate``
        recorded in ``self._addresses``."""
        addresses: dict[str, Address] = getattr(self, "_addresses", {})
        try:
            return addresses[name]
        except KeyError:
            raise ProviderError(f"unknown node {name!r}; nodes: {', '.join(addresses) or 'none allocated'}") from None

    @abc.abstractmethod
    def start(self, launch: NodeLaunch) -> None:
        """Start the node; return at once (readiness is the manager's job)."""

    @abc.abstractmethod
    def exit_code(self, name: str) -> int | None:
        """The exit status if the node has exited (negative: killed by that
        signal), else None."""

    @abc.abstractmethod
    def pid(self, name: str) -> int | None:
        """The node's process id, if it has one."""

    @abc.abstractmethod
    def stop(self, name: str, timeout: float = 5.0) -> int | None:
        """Graceful stop: SIGTERM, then SIGKILL after ``timeout``; return the exit status."""

    @abc.abstractmethod
    def kill(self, name: str) -> int | None:
        """Hard kill (SIGKILL); return the exit status."""

    @abc.abstractmethod
    def pause(self, name: str) -> None:
        """Freeze the node (SIGSTOP): its sockets stay open, nothing answers."""

    @abc.abstractmethod
    def resume(self, name: str) -> None:
        """Unfreeze a paused node (SIGCONT)."""

    @abc.abstractmethod
    def is_paused(self, name: str) -> bool:
        """True when the node is frozen."""

    @abc.abstractmethod
    def restart(self, name: str, timeout: float = 5.0) -> None:
        """Stop the node if it runs, then start it again with the same launch
        (same address, same peers, log appended)."""

    @abc.abstractmethod
    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last ``lines`` lines of the node's output."""

    @abc.abstractmethod
    def log_path(self, name: str) -> Path | None:
        """Where the node's full log is, if it is a file."""

    def is_running(self, name: str) -> bool:
        return self.exit_code(name) is None

    def healthy(self, name: str, health_path: str | None, timeout: float = 0.5) -> bool:
        """Ready check: HTTP GET of ``health_path`` answers 2xx (or, with no
        path, the port accepts a TCP connection)."""
        return http_health(self.client_address(name), health_path, timeout)

    @abc.abstractmethod
    def close(self, timeout: float = 5.0) -> None:
        """Stop every node this provider started, in parallel; idempotent."""

    def reassign(self, name: str) -> Address:
        """Give a node that lost its port race a fresh address (optional)."""
        raise ProviderError(f"{self.kind} provider cannot move node {name} to another address")

    def release(self) -> None:  # noqa: B027 - optional hook, a no-op unless overridden
        """Free run-wide helpers (e.g. the watchdog) after the run's state file
        is gone; called last in teardown."""


# ------------------------------------------------------------------ helpers

_HANDED_OUT: set[int] = set()
_HANDED_LOCK = threading.Lock()
_LOWEST_PORT = 20000  # below this, well-known services cluster
# which free port a node gets is plumbing, not part of a test's seeded behaviour
_PORT_RNG = random.SystemRandom()


def ephemeral_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """The kernel's range for outgoing connections' source ports (Linux default 32768-60999)."""
    try:
        with open(path) as fh:
            low, high = (int(x) for x in fh.read().split()[:2])
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, that this process has not handed out before,
    and that lies *below* the kernel's ephemeral range when there is room.

    Why below: a node keeps its port across a restart, and while it is down
    any outgoing connection on the machine (a Toxiproxy link dialling another
    node, a client) may be given that very port as its source port, so the
    restart fails with "address in use".  Ports outside the ephemeral range
    are never handed out that way.  Another process may still bind the port
    first; the manager moves a node that fails to start on it."""
    low, _ = ephemeral_range()
    if low > _LOWEST_PORT + 1000:
        for _ in range(200):
            port = _PORT_RNG.randrange(_LOWEST_PORT, low)
            with _HANDED_LOCK:
                if port in _HANDED_OUT:
                    continue
            if _bindable(host, port):
                with _HANDED_LOCK:
                    if port not in _HANDED_OUT:
                        _HANDED_OUT.add(port)
                        return port
    for _ in range(50):  # no room below the ephemeral range: let the kernel pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        with _HANDED_LOCK:
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise ProviderError("could not find a free port not handed out before")


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def http_health(address: Address, path: str | None, timeout: float = 0.5) -> bool:
    """One readiness probe (see :meth:`Provider.healthy`)."""
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except OSError:
        return False
    with sock:
        if path is None:
            return True
        try:
            sock.settimeout(timeout)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n" not in head and len(head) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    break
                head += chunk
        except OSError:
            return False
    parts = head.split(b" ", 2)
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1][:1] == b"2"


def merged_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
