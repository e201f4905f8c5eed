"""A started mabeam cluster as the multi-node suites see it.

Wraps the toolkit's :class:`~pipeline.cluster.handle.ClusterHandle` (which
owns the processes, the link proxies and the faults) with the few questions
the suites ask of a *replicated* mabeam cluster through its documented API
(docs/api.md, "Cluster mode"): who leads, what mode each node reports, which
members the leader counts, and whether every node's state digest is the same.

Every wait here is a deadline on a condition (``eventually``), never a sleep:
a loaded 2-core CI machine gets the whole deadline, a fast one returns at once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import requests

from pipeline.testing.eventually import eventually
from suites.service.client import Api

__all__ = ["MabeamCluster", "node_command", "PROBE_TIMEOUT"]

PROBE_TIMEOUT = 2.0


def node_command(*, tick_ms: int = 50, member_grace_s: float = 60.0) -> list[str]:
    """The cluster-mode command template (placeholders filled per node by the
    cluster manager; ``{peers}`` are the node's outgoing link proxies, so a
    fault on a proxy is a fault between two nodes)."""
    return [
        sys.executable,
        "-m",
        "mabeam",
        "--node-id",
        "{name}",
        "--host",
        "{host}",
        "--port",
        "{port}",
        "--peers",
        "{peers}",
        "--data-dir",
        "{data_dir}",
        "--bootstrap",  # the first start of a new cluster; ignored by a node restarted with its data
        "--tick-ms",
        str(tick_ms),
        "--member-grace-s",
        f"{member_grace_s:g}",
        "--log-level",
        "WARNING",
    ]


class MabeamCluster:
    """Questions about a running mabeam cluster, asked over HTTP."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.names: tuple[str, ...] = tuple(handle.names)
        self._apis: dict[str, Api] = {}

    # --------------------------------------------------------------- access

    @property
    def urls(self) -> dict[str, str]:
        return self.handle.urls

    def api(self, name: str) -> Api:
        """An admin client of one node (the test's main thread only)."""
        api = self._apis.get(name)
        if api is None:
            api = self._apis[name] = Api(self.handle.url(name), timeout=PROBE_TIMEOUT, name=name)
        return api

    def close(self) -> None:
        for api in self._apis.values():
            api.close()

    def _get(self, name: str, path: str, **params: Any) -> tuple[int | None, Any, dict]:
        """GET without raising on transport errors: (status, body, headers)."""
        api = self.api(name)
        try:
            response = api.session.get(api.url + path, params=params or None, timeout=PROBE_TIMEOUT)
        except requests.RequestException as exc:
            api.session.close()  # drop a connection a fault broke
            return None, f"{type(exc).__name__}: {exc}", {}
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        return response.status_code, body, dict(response.headers)

    # --------------------------------------------------------------- status

    def health(self, name: str) -> dict | None:
        """``GET /health`` of one node, or None if it does not answer."""
        status, body, _ = self._get(name, "/health")
        return body if status == 200 and isinstance(body, dict) else None

    def healths(self, names: Iterable[str] | None = None) -> dict[str, dict | None]:
        return {n: self.health(n) for n in (names or self.names)}

    def modes(self, names: Iterable[str] | None = None) -> dict[str, str | None]:
        """Each node's ``/coordination/status`` mode (None: no answer)."""
        out: dict[str, str | None] = {}
        for n in names or self.names:
            status, body, _ = self._get(n, "/coordination/status")
            out[n] = body.get("mode") if status == 200 and isinstance(body, dict) else None
        return out

    def wait_modes(self, names: Iterable[str], mode: str, timeout: float = 10.0) -> dict[str, dict | None]:
        """Until every node in ``names`` reports ``mode`` in both /health and
        /coordination/status; returns their last health answers."""
        names = list(names)

        def check() -> dict[str, dict | None]:
            healths = self.healths(names)
            modes = self.modes(names)
            wrong = {n: (h or {}).get("mode") for n, h in healths.items() if (h or {}).get("mode") != mode}
            wrong.update({f"{n} (coordination/status)": m for n, m in modes.items() if m != mode})
            assert not wrong, f"expected mode {mode!r}; got {wrong}"
            return healths

        return eventually(check, timeout=timeout, interval=0.1, description=f"{names} report mode {mode}")

    def leader(self, names: Iterable[str] | None = None, timeout: float = 15.0) -> str:
        """Until the nodes in ``names`` (default all) agree on one leader that
        is among them and says it is leader; returns its name."""
        names = list(names or self.names)

        def check() -> str:
            healths = self.healths(names)
            missing = [n for n, h in healths.items() if h is None]
            assert not missing, f"no /health answer from {missing}"
            claims = {n: h.get("leader") for n, h in healths.items()}
            leaders = set(claims.values())
            assert len(leaders) == 1 and None not in leaders, f"nodes disagree on the leader: {claims}"
            leader = leaders.pop()
            assert leader in names, f"leader {leader!r} is not among {names}: {claims}"
            role = healths[leader].get("role")
            assert role == "leader", f"{leader} is named leader but reports role {role!r}"
            return leader

        return eventually(check, timeout=timeout, interval=0.1, description=f"one leader among {names}")

    def members(self, name: str) -> list[str] | None:
        status, body, _ = self._get(name, "/cluster/members")
        return list(body.get("members", [])) if status == 200 and isinstance(body, dict) else None

    def digests(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        out = {}
        for n in names or self.names:
            status, body, _ = self._get(n, "/state/digest")
            out[n] = body if status == 200 else None
        return out

    def wait_converged(self, names: Iterable[str] | None = None, timeout: float = 15.0) -> str:
        """Until every node in ``names`` reports the same state digest (the
        same applied log, docs/api.md); returns the digest."""
        names = list(names or self.names)

        def check() -> str:
            found = self.digests(names)
            values = {n: (d or {}).get("digest") for n, d in found.items()}
            assert None not in values.values() and len(set(values.values())) == 1, "digests differ: " + ", ".join(
                f"{n}={(d or {}).get('digest', '?')[:12]} applied={(d or {}).get('applied')}" for n, d in found.items()
            )
            return next(iter(values.values()))

        return eventually(check, timeout=timeout, interval=0.1, description=f"equal digests on {names}")

    def wait_ready(self, timeout: float = 20.0) -> str:
        """A freshly started cluster is usable when every node reports
        ``normal`` and all agree on a leader."""
        self.wait_modes(self.names, "normal", timeout=timeout)
        return self.leader(timeout=timeout)
