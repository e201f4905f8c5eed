"""A started cluster: where its nodes are, and its teardown.

The handle is what a test holds.  It knows each node's client URL and peers,
composes the fault vocabulary over itself as ``handle.faults``
(:mod:`pipeline.faults.vocabulary`; the handle does not carry it), and owns
teardown: ``close()`` (or leaving the ``with`` block) stops every node, every
pressure helper and deletes every proxy of the run, whatever state the faults
left them in.  Teardown is idempotent and also runs at interpreter exit and
on SIGTERM (see :mod:`pipeline.cluster.teardown`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cluster import teardown
from pipeline.cluster.config import ClusterConfig
from pipeline.cluster.errors import NodeStartError
from pipeline.cluster.provider import Address, Provider
from pipeline.faults.log import FaultLog
from pipeline.faults.vocabulary import Faults

if TYPE_CHECKING:
    from pipeline.cluster.links import LinkTable
    from pipeline.cluster.runstate import RunState

__all__ = ["ClusterHandle", "NodeHandle"]

log = logging.getLogger("pipeline.cluster")


@dataclass(frozen=True)
class NodeHandle:
    """One node as a test sees it.  ``url`` goes through the node's client
    proxy when the cluster has client proxies, else straight to the node."""

    name: str
    url: str
    address: Address
    peers: dict[str, Address]
    log_path: Path | None
    _cluster: ClusterHandle

    @property
    def pid(self) -> int | None:
        return self._cluster.provider.pid(self.name)

    @property
    def direct_url(self) -> str:
        addr = self._cluster.provider.client_address(self.name)
        return f"http://{addr}"

    @property
    def exit_code(self) -> int | None:
        """The node process's exit status; None while it runs."""
        return self._cluster.provider.exit_code(self.name)

    def is_running(self) -> bool:
        return self.exit_code is None

    def log_tail(self, lines: int = 40) -> str:
        return self._cluster.provider.log_tail(self.name, lines)


class ClusterHandle:
    """A running cluster (made by :class:`pipeline.cluster.manager.ClusterManager`)."""

    def __init__(
        self,
        config: ClusterConfig,
        *,
        run_id: str,
        run_dir: Path,
        seed: int,
        provider: Provider,
        state: RunState | None,
        toxiproxy: Any = None,
        owns_toxiproxy: bool = False,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.run_dir = run_dir
        self.seed = seed
        self.provider = provider
        self.state = state
        self.toxiproxy = toxiproxy
        self._owns_toxiproxy = owns_toxiproxy
        self.links: LinkTable | None = None
        self.names = config.names
        self._nodes: dict[str, NodeHandle] = {}
        self._closed = False
        self._close_lock = threading.Lock()
        self.started_at = time.time()
        self.ready_seconds: float | None = None
        header = (
            f"cluster {run_id}: {config.node_count} nodes, {config.topology}, seed={seed} "
            f"(replay with seed={seed} or PIPELINE_SEED={seed})"
        )
        log = FaultLog(origin=self.started_at, path=run_dir / "faults.log", header=header)
        self.faults = Faults(self, seed=seed, log=log)

    # --------------------------------------------------------------- reading

    @property
    def nodes(self) -> list[NodeHandle]:
        return [self._nodes[n] for n in self.names]

    def node(self, name: str) -> NodeHandle:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"no node {name!r}; nodes: {', '.join(self.names)}") from None

    def url(self, name: str) -> str:
        return self.node(name).url

    @property
    def urls(self) -> dict[str, str]:
        return {n: self._nodes[n].url for n in self.names}

    def health_path(self, node: str) -> str | None:
        return self.config.node(node).health_path

    def is_healthy(self, node: str) -> bool:
        return self.provider.healthy(node, self.health_path(node))

    def wait_healthy(self, node: str, timeout: float, *, budget: float | None = None) -> None:
        """Wait until ``node`` answers its health check; fail with its log if it
        exits or ``timeout`` passes (``budget``: the overall limit to report,
        when ``timeout`` is what is left of it)."""
        deadline = time.monotonic() + timeout
        budget = timeout if budget is None else budget
        while True:
            code = self.provider.exit_code(node)
            if code is not None:
                raise NodeStartError(
                    node, "process exited", code, self.provider.log_tail(node), self.provider.log_path(node)
                )
            if self.provider.healthy(node, self.health_path(node)):
                return
            if time.monotonic() >= deadline:
                raise NodeStartError(
                    node,
                    f"not healthy within {budget:g}s",
                    None,
                    self.provider.log_tail(node),
                    self.provider.log_path(node),
                )
            time.sleep(0.01)

    def log_tails(self, lines: int = 30) -> dict[str, str]:
        return {n: self.provider.log_tail(n, lines) for n in self.names}

    def report(self, lines: int = 30) -> str:
        """Fault log plus each node's log tail: what a failing test should show."""
        parts = [self.faults.log.format(), ""]
        for name, tail in self.log_tails(lines).items():
            parts.append(f"--- {name} ({self.provider.log_path(name)}) ---")
            parts.append(tail or "(empty)")
        return "\n".join(parts)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return f"<ClusterHandle {self.run_id} {self.config.node_count}x{self.config.topology} seed={self.seed} {state}>"

    # -------------------------------------------------------------- teardown

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Tear everything down; safe to call twice and from any state."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        errors = self.faults.release()
        try:
            self.provider.close(self.config.stop_timeout)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"nodes: {exc}")
        if self.links is not None:
            try:
                failed = self.links.destroy()
                if failed:
                    errors.append(f"proxies not deleted: {', '.join(failed)}")
            except Exception as exc:  # noqa: BLE001
                errors.append(f"proxies: {exc}")
        if self._owns_toxiproxy and self.toxiproxy is not None:
            try:
                self.toxiproxy.close()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"toxiproxy: {exc}")
        if self.state is not None and not errors:
            self.state.remove()  # leave the note for `clean` if something could not be removed
        try:
            self.provider.release()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"release: {exc}")
        teardown.forget(self)
        if errors:
            log.warning("cluster %s teardown: %s", self.run_id, "; ".join(errors))

    def __enter__(self) -> ClusterHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
