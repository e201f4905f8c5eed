"""Concurrent recorded clients, bounded in count and in time.

A history only says something about concurrency if operations overlap, so
the suites drive the cluster from several threads at once while faults
happen.  Each thread owns one :class:`RecordingClient` and one
``random.Random`` derived from the test's printed seed, so the sequence of
operations each client *chose* replays with ``PIPELINE_SEED`` (what the
cluster answered may differ: that is what is being checked).

Every loop is bounded twice: at most ``max_ops`` operations per thread and
at most ``max_seconds`` of wall time, so a hung cluster makes a test fail at
its checks, never hang the CI job.  Which nodes the clients talk to is a
list the test may change while they run (``targets``), e.g. to aim at the
majority side of a partition.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from pipeline.checker.history import History
from suites.multinode.recording import RecordingClient

__all__ = ["Workers", "Step"]

# step(client, rng, node, n): do one operation on ``node``; ``n`` counts this thread's calls
Step = Callable[[RecordingClient, random.Random, str, int], None]


class Workers:
    """``threads`` clients each calling ``step`` until their budget is spent."""

    def __init__(
        self,
        history: History,
        urls: dict[str, str],
        step: Step,
        *,
        seed: int,
        threads: int = 3,
        max_ops: int = 40,
        max_seconds: float = 20.0,
        targets: Sequence[str] | None = None,
        prefix: str = "c",
        write_timeout: float = 5.0,
    ) -> None:
        self.history = history
        self.urls = urls
        self.step = step
        self.seed = seed
        self.threads = threads
        self.max_ops = max_ops
        self.max_seconds = max_seconds
        self.targets: list[str] = list(targets or urls)
        self.prefix = prefix
        self.write_timeout = write_timeout
        self.done_ops: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()

    def aim(self, nodes: Iterable[str]) -> None:
        """From the next operation on, clients pick among ``nodes`` only."""
        self.targets = list(nodes)

    def start(self) -> Workers:
        for i in range(self.threads):
            name = f"{self.prefix}{i + 1}"
            rng = random.Random(f"{self.seed}:{name}")
            thread = threading.Thread(target=self._run, args=(name, rng), name=f"client-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def _run(self, name: str, rng: random.Random) -> None:
        client = RecordingClient(self.history, name, self.urls, write_timeout=self.write_timeout)
        deadline = time.monotonic() + self.max_seconds
        n = 0
        try:
            while n < self.max_ops and time.monotonic() < deadline and not self._stop.is_set():
                targets = self.targets
                node = targets[rng.randrange(len(targets))]
                self.step(client, rng, node, n)
                n += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread by stop()
            with self._lock:
                self._errors.append(exc)
        finally:
            client.close()
            with self._lock:
                self.done_ops[name] = n

    def wait(self, timeout: float | None = None) -> None:
        """Until every client spent its budget (bounded by ``max_seconds`` + slack)."""
        limit = self.max_seconds + 30 if timeout is None else timeout
        end = time.monotonic() + limit
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._stop.set()
            raise AssertionError(f"clients still running after {limit:g}s: {alive}")
        if self._errors:
            raise self._errors[0]

    def run(self) -> Workers:
        """Start, and wait until every client spent its budget."""
        self.start()
        self.wait()
        return self

    def stop(self) -> None:
        """Ask every client to finish its current operation, then wait."""
        self._stop.set()
        self.wait(timeout=30.0)

    @property
    def total(self) -> int:
        return sum(self.done_ops.values())

    def __enter__(self) -> Workers:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.stop()
        else:  # the test already failed: stop the clients, keep the first error
            self._stop.set()
            for thread in self._threads:
                thread.join(10.0)
