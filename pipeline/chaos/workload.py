"""The background workload of a chaos scenario: paced, seeded, bounded, recorded.

The toolkit knows nothing of the service, so what one operation *is* comes
from the suite: a workload is named in ``[chaos.workloads]`` as
``"module:callable"``; the callable gets ``(history, urls, seed, timeout_s)``
and returns a :class:`Workload`: ``setup()`` before the clients start,
``client(name)`` per client thread (one operation per ``step``, recorded in
the history), ``finish(nodes)`` once the cluster has converged (final reads),
and ``checkers`` (which of :data:`pipeline.checker.CHECKERS` judge it).

:class:`Driver` runs ``threads`` clients at ``rate_ops`` operations per second
in all (each thread on its own fixed timetable, drawn from its own seeded
``random.Random``), bounded in operations and in time.  A thread stuck in a
slow operation does not silently send less: the slots it missed are kept
(``missed``: client and time) and judged by
:func:`pipeline.chaos.metrics.lost_slots`.  ``aim(nodes)`` sends the next
operations to those nodes only (the runner aims away from nodes it took
down, as a health-checking load balancer would).
"""

from __future__ import annotations

import importlib
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from pipeline.checker.history import History

__all__ = ["Workload", "WorkloadClient", "Driver", "load_factory", "WorkloadFactory"]


class WorkloadClient(Protocol):
    def step(self, rng: random.Random, node: str, n: int) -> None: ...

    def close(self) -> None: ...


class Workload(Protocol):
    checkers: tuple[str, ...]

    def setup(self, nodes: Sequence[str]) -> None: ...

    def client(self, name: str) -> WorkloadClient: ...

    def finish(self, nodes: Sequence[str]) -> None: ...


WorkloadFactory = Callable[[History, Mapping[str, str], int, float], Workload]


def load_factory(spec: str) -> WorkloadFactory:
    """``"package.module:callable"`` -> the callable (ValueError naming the spec)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"workload {spec!r}: expected 'module:callable'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"workload {spec!r}: cannot import {module_name}: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"workload {spec!r}: {module_name} has no callable {attr!r}")
    return factory


class Driver:
    """``threads`` paced clients of one workload until stopped or out of budget."""

    def __init__(
        self,
        workload: Workload,
        nodes: Sequence[str],
        *,
        seed: int,
        rate_ops: float,
        threads: int,
        max_seconds: float,
        max_ops: int | None = None,
    ) -> None:
        self.workload = workload
        self.seed = seed
        self.rate_ops = rate_ops
        self.threads = threads
        self.max_seconds = max_seconds
        per_thread = rate_ops / threads
        self.max_ops = max_ops if max_ops is not None else int(per_thread * max_seconds) + 1
        self.interval = 1.0 / per_thread
        self.targets: list[str] = list(nodes)
        self.missed: list[tuple[str, int]] = []  # (client, monotonic_ns) of every slot a stuck client could not keep
        self.started_ns = 0
        self.done_ops: dict[str, int] = {}
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def aim(self, nodes: Sequence[str]) -> None:
        """From the next operation on, clients pick among ``nodes`` only (never none)."""
        if nodes:
            self.targets = list(nodes)

    def start(self) -> Driver:
        self.started_ns = time.monotonic_ns()
        for i in range(self.threads):
            name = f"c{i + 1}"
            rng = random.Random(f"{self.seed}/{name}")
            # threads start evenly spread over one interval, so the rate is smooth from the start
            offset = self.interval * i / self.threads
            t = threading.Thread(target=self._run, args=(name, rng, offset), name=f"chaos-{name}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def _run(self, name: str, rng: random.Random, offset: float) -> None:
        try:
            client = self.workload.client(name)
        except BaseException as exc:  # noqa: BLE001 - a client that never started is reported by stop()
            with self._lock:
                self.errors.append(exc)
                self.done_ops[name] = 0
            return
        start = time.monotonic() + offset
        deadline = time.monotonic() + self.max_seconds
        n = 0
        slot = 0
        missed: list[tuple[str, int]] = []
        try:
            while n < self.max_ops and not self._stop.is_set():
                due = start + slot * self.interval
                now = time.monotonic()
                if due >= deadline:
                    break
                if due > now:
                    if self._stop.wait(due - now):  # the timetable's next slot (or stop)
                        break
                else:
                    late = int((now - due) / self.interval)  # whole slots already past: missed
                    for k in range(late):
                        missed.append((name, int((due + k * self.interval) * 1e9)))
                    slot += late
                targets = self.targets
                client.step(rng, targets[rng.randrange(len(targets))], n)
                n += 1
                slot += 1
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            with self._lock:
                self.errors.append(exc)
        finally:
            client.close()
            with self._lock:
                self.done_ops[name] = n
                self.missed.extend(missed)

    def stop(self, timeout: float = 30.0) -> None:
        """Let every client finish its current operation; bounded."""
        self._stop.set()
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"workload clients still running {timeout:g} s after stop: {alive}")

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    @property
    def total(self) -> int:
        return sum(self.done_ops.values())
