"""What every fault needs: the cluster it acts on, its seed, its log.

The vocabulary (:mod:`pipeline.faults.network`, :mod:`pipeline.faults.nodes`)
acts *on* a cluster rather than being part of it: it sees the cluster only
through :class:`FaultTarget`, the few things a fault has to know (node names,
the link table, the provider that signals processes, the node specs, health
checks).  That keeps the cluster handle about where nodes are and how they are
torn down, lets a fake cluster stand in for unit tests, and keeps
``pipeline.faults`` from importing the handle that composes it.

Seeding: every fault draws one seed from an RNG seeded with the cluster seed,
*whether or not* a seed is passed, so the faults after it keep their seeds
and a failing run replays with the same cluster seed.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.faults.log import FaultError, FaultLog, FaultRecord

if TYPE_CHECKING:
    from pipeline.cluster.config import ClusterConfig
    from pipeline.cluster.links import LinkTable
    from pipeline.cluster.provider import Provider
    from pipeline.cluster.runstate import RunState

__all__ = ["FaultTarget", "FaultBase"]


class FaultTarget(Protocol):
    """The view of a running cluster that faults act on (a ClusterHandle, or a fake)."""

    names: tuple[str, ...]
    links: LinkTable | None
    provider: Provider
    config: ClusterConfig
    state: RunState | None

    def health_path(self, node: str) -> str | None: ...

    def wait_healthy(self, node: str, timeout: float) -> None: ...


class FaultBase:
    """Seeding, logging and argument checks shared by every fault."""

    probe_timeout: float = 0.3
    verify_timeout: float = 5.0

    def __init__(self, cluster: FaultTarget, *, seed: int, log: FaultLog) -> None:
        self.cluster = cluster
        self.log = log
        self._rng = random.Random(seed)

    def _seed(self, seed: int | None) -> int:
        drawn = self._rng.randrange(2**31)
        return drawn if seed is None else seed  # draw anyway: later faults keep their seeds

    def _require_links(self, what: str) -> LinkTable:
        if self.cluster.links is None:
            raise FaultError(f"{what}: this cluster has no link proxies (link_proxies=False)")
        return self.cluster.links

    def _node(self, node: str) -> str:
        if node not in self.cluster.names:
            raise FaultError(f"node: unknown node {node!r} (allowed: {', '.join(self.cluster.names)})")
        return node

    def _start(self, kind: str, description: str, seed: int | None, **kwargs: Any) -> FaultRecord:
        record = self.log.new(kind, description, seed, **kwargs)
        self.log._event(record, f"start: {description}" + ("" if seed is None else f" seed={seed}"))
        return record

    def _verified(self, record: FaultRecord, note: str) -> None:
        record.verified_at = time.time()
        record.verification = note
        self.log._event(record, f"verified: {note}")
