"""The chaos stage's background workload against mabeam (``[chaos.workloads]`` names it).

The toolkit's chaos runner (:mod:`pipeline.chaos`) knows nothing of mabeam:
it calls :func:`registry` with the history, the node URLs, the workload seed
and the per-operation timeout, and drives the returned workload's clients
on their timetable.  Each operation is one recorded registry call, exactly
as in the multinode suites (:mod:`suites.multinode.recording`): a few names
contended by every client (``register`` if absent, ``lookup`` with
``?consistent=true``, ``unregister``), so operations overlap and a
replication bug shows as a linearizability violation or a lost write.
After the run, once the digests agree, every node's own view of every name
is read (``final_read``) for the lost-writes checker.

Names and agents are fixed (``k1..k4``, ``chaos-a1..a4``): each scenario gets
a fresh cluster, and fixed names keep the clients' choices a function of the
seed alone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from pipeline.checker.history import History
from suites.multinode.recording import RecordingClient
from suites.multinode.steps import Registry, final_registry_reads, start_agents

__all__ = ["registry", "RegistryWorkload"]

KEYS = 4
AGENTS = 4


class _Client:
    def __init__(self, workload: RegistryWorkload, name: str) -> None:
        self.workload = workload
        self.recording = RecordingClient(
            workload.history, name, workload.urls, write_timeout=workload.timeout_s, read_timeout=workload.timeout_s
        )

    def step(self, rng: random.Random, node: str, n: int) -> None:
        assert self.workload.state is not None, "setup() first"
        self.workload.state.step(self.recording, rng, node, n)

    def close(self) -> None:
        self.recording.close()


class RegistryWorkload:
    """Contended registry names on a replicated mabeam cluster."""

    checkers = ("linearizable", "lost_writes")

    def __init__(self, history: History, urls: Mapping[str, str], seed: int, timeout_s: float) -> None:
        self.history = history
        self.urls = dict(urls)
        self.seed = seed
        self.timeout_s = timeout_s
        self.state: Registry | None = None

    def setup(self, nodes: Sequence[str]) -> None:
        admin = RecordingClient(self.history, "setup", self.urls)
        try:
            agents = start_agents(admin, list(nodes), AGENTS, "chaos")
        finally:
            admin.close()
        self.state = Registry([f"k{i + 1}" for i in range(KEYS)], agents)

    def client(self, name: str) -> _Client:
        return _Client(self, name)

    def finish(self, nodes: Sequence[str]) -> None:
        assert self.state is not None, "setup() first"
        final = RecordingClient(self.history, "final", self.urls)
        try:
            final_registry_reads(final, nodes, self.state.keys)
        finally:
            final.close()


def registry(history: History, urls: Mapping[str, str], seed: int, timeout_s: float) -> RegistryWorkload:
    return RegistryWorkload(history, urls, seed, timeout_s)
