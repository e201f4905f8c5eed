"""Questions asked of the nodes over HTTP, configured by JSON path and dotted field.

Who leads (``leader_field`` of the health answer), whether a node is healthy
(``health_path`` answers 200, and ``ready_field == ready_value`` when set),
whether every node's state digest is the same (``digest_path`` /
``digest_field``), and GC counters (``telemetry_path`` / ``gc_field``) sampled
once a second by :class:`Sampler`.  Every call has a short timeout and every
wait a deadline; nothing raises for a node that does not answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from pipeline.chaos.config import ChaosConfig

__all__ = ["Probe", "Sampler", "lookup"]

TIMEOUT = 1.0


def lookup(data: Any, dotted: str) -> Any:
    """``lookup({"a": {"b": 1}}, "a.b") == 1``; None when a part is missing."""
    for part in filter(None, dotted.split(".")):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


class Probe:
    """HTTP questions about the nodes of one cluster (thread-confined: one session)."""

    def __init__(self, config: ChaosConfig, urls: Mapping[str, str]) -> None:
        self.config = config
        self.urls = dict(urls)
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def get(self, node: str, path: str) -> Any:
        try:
            r = self.session.get(self.urls[node] + path, timeout=TIMEOUT)
        except requests.RequestException:
            self.session.close()
            self.session = requests.Session()
            return None
        if r.status_code != 200:
            return None
        try:
            return r.json()
        except ValueError:
            return {}

    def healthy(self, node: str) -> bool:
        body = self.get(node, self.config.health_path)
        if body is None:
            return False
        if self.config.ready_field:
            return str(lookup(body, self.config.ready_field)) == self.config.ready_value
        return True

    def leader(self, nodes: Iterable[str]) -> str | None:
        """The node a majority of the answering ``nodes`` name as leader, if it is among them."""
        if not self.config.leader_field:
            return None
        nodes = list(nodes)
        claims: Counter[str] = Counter()
        for node in nodes:
            body = self.get(node, self.config.health_path)
            name = lookup(body, self.config.leader_field) if body is not None else None
            if isinstance(name, str) and name:
                claims[name] += 1
        if not claims:
            return None
        name, votes = claims.most_common(1)[0]
        return name if name in nodes and votes > len(nodes) // 2 else None

    def wait_leader(self, nodes: Iterable[str], timeout: float) -> str | None:
        nodes = list(nodes)
        deadline = time.monotonic() + timeout
        while True:
            found = self.leader(nodes)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)  # polling interval of a deadline-bounded wait

    def converged(self, nodes: Iterable[str]) -> tuple[bool, str]:
        """Every node healthy and (when configured) reporting the same digest; and why not."""
        digests: dict[str, Any] = {}
        for node in nodes:
            if not self.healthy(node):
                return False, f"{node} not healthy"
            if self.config.digest_path:
                body = self.get(node, self.config.digest_path)
                digests[node] = lookup(body, self.config.digest_field) if body is not None else None
        if digests and (None in digests.values() or len(set(digests.values())) != 1):
            return False, "digests differ: " + ", ".join(f"{n}={str(d)[:10]}" for n, d in digests.items())
        return True, "healthy" + (" with equal digests" if digests else "")

    def wait_converged(self, nodes: Iterable[str], timeout: float, interval: float = 0.05) -> tuple[float | None, str]:
        """Seconds until :meth:`converged` (None past ``timeout``) and the last reason."""
        nodes = list(nodes)
        start = time.monotonic()
        while True:
            ok, why = self.converged(nodes)
            now = time.monotonic()
            if ok:
                return now - start, why
            if now - start >= timeout:
                return None, why
            time.sleep(interval)  # polling interval of a deadline-bounded wait


class Sampler:
    """GC counters of every node once a second, on its own thread, bounded in time."""

    def __init__(self, config: ChaosConfig, urls: Mapping[str, str], *, max_seconds: float) -> None:
        self.config = config
        self.urls = dict(urls)
        self.max_seconds = max_seconds
        self.samples: dict[str, list[tuple[float, list[int]]]] = {n: [] for n in urls}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-sampler", daemon=True)

    def start(self) -> Sampler:
        if self.config.telemetry_path and self.config.gc_field:
            self._thread.start()
        return self

    def _run(self) -> None:
        probe = Probe(self.config, self.urls)
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                for node in self.urls:
                    body = probe.get(node, self.config.telemetry_path)
                    counts = lookup(body, self.config.gc_field) if body is not None else None
                    if isinstance(counts, list) and all(isinstance(c, int) for c in counts):
                        self.samples[node].append((time.time(), list(counts)))
                self._stop.wait(1.0)  # the sampling period
        finally:
            probe.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10.0)
