"""A started cluster: where its nodes are, its faults, and its teardown.

The handle is what a test holds.  It knows each node's client URL and peers,
carries the fault vocabulary (inherited from :mod:`pipeline.faults.vocabulary`), and owns
teardown: ``close()`` (or leaving the ``with`` block) stops every node, every
pressure helper and deletes every proxy of the run, whatever state the faults
left them in.  Teardown is idempotent and also runs at interpreter exit and
on SIGTERM (see :mod:`pipeline.cluster.teardown`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cluster.config import ClusterConfig
from pipeline.cluster.provider import Address, Provider, ProviderError
from pipeline.faults.vocabulary import FaultLog, FaultsMixin

if TYPE_CHECKING:
    from pipeline.cluster.runstate import RunState
    from pipeline.cluster.links import LinkTable
    from pipeline.faults.pressure import Pressure

__all__ = ["ClusterHandle", "NodeHandle", "NodeStartError"]

log = logging.getLogger("pipeline.cluster")


class NodeStartError(RuntimeError):
    """A node exited or never became healthy.  Carries the node's name, exit
    status (None if it was still running) and the tail of its log."""

    def __init__(self, name: str, reason: str, exit_code: int | None, log_tail: str,
                 log_path: Path | None = None) -> None:
        status = "still running" if exit_code is None else f"exit status {exit_code}"
        text = f"node {name} failed to start: {reason} ({status})"
        if log_path is not None:
            text += f"; log {log_path}"
        text += "\n--- last lines of its log ---\n" + (log_tail or "(empty)")
        super().__init__(text)
        self.name = name
        self.reason = reason
        self.exit_code = exit_code
        self.log_tail = log_tail
        self.log_path = log_path


class NodeLaunchError(NodeStartError, ProviderError):
    """A node's command could not be executed at all (not found, not
    executable, bad ``cwd``).  ``exit_code`` is what a shell would report:
    127 for a missing file, 126 otherwise.  Also a :class:`ProviderError`."""


@dataclass(frozen=True)
class NodeHandle:
    """One node as a test sees it.  ``url`` goes through the node's client
    proxy when the cluster has client proxies, else straight to the node."""

    name: str
    url: str
    address: Address
    peers: dict[str, Address]
    log_path: Path | None
    _cluster: "ClusterHandle"

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


class ClusterHandle(FaultsMixin):
    """A running cluster (made by :class:`pipeline.cluster.manager.ClusterManager`)."""

    def __init__(self, config: ClusterConfig, *, run_id: str, run_dir: Path, seed: int,
                 provider: Provider, state: "RunState | None", toxiproxy: Any = None,
                 owns_toxiproxy: bool = False) -> None:
        self.config = config
        self.run_id = run_id
        self.run_dir = run_dir
        self.seed = seed
        self.provider = provider
        self.state = state
        self.toxiproxy = toxiproxy
        self._owns_toxiproxy = owns_toxiproxy
        self.links: "LinkTable | None" = None
        self.names = config.names
        self._nodes: dict[str, NodeHandle] = {}
        self._fault_rng = random.Random(seed)
        self._pressures: list["Pressure"] = []
        self._closed = False
        self._close_lock = threading.Lock()
        self.started_at = time.time()
        self.ready_seconds: float | None = None
        header = (f"cluster {run_id}: {config.node_count} nodes, {config.topology}, seed={seed} "
                  f"(replay with seed={seed} or PIPELINE_SEED={seed})")
        self.fault_log = FaultLog(origin=self.started_at, path=run_dir / "faults.log", header=header)

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

    def _health_path(self, node: str) -> str | None:
        return self.config.node(node).health_path

    def is_healthy(self, node: str) -> bool:
        return self.provider.healthy(node, self._health_path(node))

    def _wait_healthy(self, node: str, timeout: float, *, budget: float | None = None) -> None:
        """Wait until ``node`` answers its health check; fail with its log if it
        exits or ``timeout`` passes (``budget``: the overall limit to report,
        when ``timeout`` is what is left of it)."""
        deadline = time.monotonic() + timeout
        budget = timeout if budget is None else budget
        while True:
            code = self.provider.exit_code(node)
            if code is not None:
                raise NodeStartError(node, "process exited", code, self.provider.log_tail(node),
                                     self.provider.log_path(node))
            if self.provider.healthy(node, self._health_path(node)):
                return
            if time.monotonic() >= deadline:
                raise NodeStartError(node, f"not healthy within {budget:g}s", None,
                                     self.provider.log_tail(node), self.provider.log_path(node))
            time.sleep(0.01)

    def log_tails(self, lines: int = 30) -> dict[str, str]:
        return {n: self.provider.log_tail(n, lines) for n in self.names}

    def report(self, lines: int = 30) -> str:
        """Fault log plus each node's log tail: what a failing test should show."""
        parts = [self.fault_log.format(), ""]
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
        from pipeline.cluster import teardown

        errors: list[str] = []
        if self.links is not None and any(r.links for r in self.fault_log.active()):
            try:  # heal first, so nodes shut down on a clean network instead of timing out on a cut one
                self.links.heal_all()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                errors.append(f"heal: {exc}")
        for record in self.fault_log.active():
            record.finish("teardown")
        for pressure in self._pressures:
            try:
                pressure.stop()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                errors.append(f"pressure: {exc}")
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

    def __enter__(self) -> "ClusterHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
