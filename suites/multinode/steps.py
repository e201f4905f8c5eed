"""The workloads the multi-node tests run, and their final reads.

Each workload is a ``step`` for :class:`~suites.multinode.workload.Workers`
(one recorded operation per call) plus what the test does before and after:

* **registry** -- a few names contended by every client: ``register`` (a
  create-if-absent on the name's register, value = the agent id),
  ``lookup`` with ``?consistent=true`` (the reads the API promises are
  linearizable) and ``unregister``.  Few keys and several clients make the
  operations overlap, which is where a replication bug shows.  After the run
  every node's *own* state is read (``final_read``) once digests agree, so
  the lost-writes checker sees what each replica kept.
* **money** -- accounts created up front; ``transfer`` between random
  accounts through random nodes; consistent ``read_balances`` now and then
  and on every node at the end.  The sum must be what the accounts were
  created with, whatever settled or failed.
* **events** -- ``publish`` on chosen nodes; :class:`Subscriber` threads
  long-poll a node with a cursor and record each ``deliver``; a subscriber
  can move to another node with its cursor.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import requests

from pipeline.checker.history import History
from suites.multinode.cluster import MabeamCluster
from suites.multinode.recording import RecordingClient
from suites.service.client import uid

__all__ = ["Registry", "Money", "Subscriber", "final_registry_reads", "start_agents"]


def start_agents(client: RecordingClient, nodes: Sequence[str], count: int, prefix: str) -> list[str]:
    """``count`` agents started round-robin on ``nodes`` (recorded); returns their ids.
    Every start must be acknowledged: the cluster is healthy when tests call this."""
    ids = []
    for i in range(count):
        node = nodes[i % len(nodes)]
        agent_id = f"{prefix}-a{i + 1}"
        op, answer = client.call(
            node,
            "agent_start",
            "POST",
            "/agents",
            {"id": agent_id, "kind": "worker"},
            key=agent_id,
            result=lambda a: a.body.get("id"),
        )
        assert op.ok and answer.status == 201, f"POST /agents on {node}: {answer}"
        ids.append(agent_id)
    return ids


@dataclass
class Registry:
    """Contended registry names and the agents that may hold them."""

    keys: list[str]
    agents: list[str]
    weights: tuple[int, int, int] = (45, 35, 20)  # register, lookup, unregister

    @classmethod
    def setup(cls, client: RecordingClient, nodes: Sequence[str], *, keys: int = 3, agents: int = 4) -> Registry:
        tag = uid("reg")
        return cls([f"{tag}-k{i + 1}" for i in range(keys)], start_agents(client, nodes, agents, tag))

    def step(self, client: RecordingClient, rng: random.Random, node: str, n: int) -> None:
        key = self.keys[rng.randrange(len(self.keys))]
        roll = rng.randrange(sum(self.weights))
        if roll < self.weights[0]:
            client.register(node, key, self.agents[rng.randrange(len(self.agents))])
        elif roll < self.weights[0] + self.weights[1]:
            client.lookup(node, key)
        else:
            client.unregister(node, key)


def final_registry_reads(client: RecordingClient, nodes: Iterable[str], keys: Iterable[str]) -> None:
    """Each node's own (local) view of every key, recorded as ``final_read``.
    Called once the digests agree, so it is what each replica kept."""
    for node in nodes:
        for key in keys:
            with client.history.op(client.name, "final_read", key, node=node) as pending:
                answer = client.http(node, "GET", f"/registry/{key}")
                if answer.status == 200:
                    pending.ok(answer.body.get("ref"))
                elif answer.status == 404:
                    pending.ok(None)
                else:
                    pending.fail(answer.code or answer.error or f"HTTP {answer.status}")


@dataclass
class Money:
    """Accounts and random transfers among them."""

    accounts: list[str]
    opening: int
    transfers: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def setup(
        cls,
        client: RecordingClient,
        nodes: Sequence[str],
        *,
        count: int = 4,
        opening: int = 100,
        names: Sequence[str] | None = None,
    ) -> Money:
        tag = uid("acct")
        names = list(names) if names is not None else [f"{tag}-{i + 1}" for i in range(count)]
        accounts = []
        for i, account in enumerate(names):
            op, answer = client.create_account(nodes[i % len(nodes)], account, opening)
            assert op.ok, f"POST /accounts on {nodes[i % len(nodes)]}: {answer}"
            accounts.append(account)
        return cls(accounts, opening)

    @property
    def total(self) -> int:
        return self.opening * len(self.accounts)

    def step(self, client: RecordingClient, rng: random.Random, node: str, n: int) -> None:
        if rng.random() < 0.8:
            src, dst = rng.sample(self.accounts, 2)
            op, _ = client.transfer(node, src, dst, rng.randint(1, 40), f"{client.name}-t{n}")
            if op.ok:
                with self._lock:
                    self.transfers.append(op.result)
        else:
            client.read_balances(node)

    def final_reads(
        self, cluster: MabeamCluster, client: RecordingClient, nodes: Sequence[str], timeout: float = 15.0
    ) -> None:
        """Once no transaction is pending on any node (``transactions_pending``
        gauge) and the replicas agree, each node's balances as ``final_balances``."""
        from pipeline.testing.eventually import eventually

        def settled() -> bool:
            for node in nodes:
                telemetry = cluster.api(node).get("/telemetry").expect(200)
                pending = telemetry["gauges"].get("transactions_pending")
                assert pending == 0, f"{node}: {pending} transactions pending"
            return True

        eventually(settled, timeout=timeout, interval=0.1, description="no transaction pending on any node")
        cluster.wait_converged(nodes, timeout=timeout)
        for node in nodes:
            op, answer = client.read_balances(node, final=True)
            assert op.ok, f"GET /accounts on {node}: {answer}"


class Subscriber:
    """A subscriber that long-polls ``GET /events`` with a cursor on one node
    (and may move to another, keeping its cursor), recording each delivery
    as ``deliver`` (key = topic, value = the publisher's data id, result =
    the event id).

    Runs on its own thread, bounded by ``max_seconds``; :meth:`drain` waits
    until it has seen a given event id."""

    def __init__(
        self, history: History, name: str, urls: dict[str, str], node: str, pattern: str, *, max_seconds: float = 60.0
    ) -> None:
        self.history = history
        self.name = name
        self.urls = urls
        self.node = node
        self.pattern = pattern
        self.cursor = 0
        self.seen: list[int] = []
        self.moves: list[tuple[str, int]] = [(node, 0)]
        self.errors: list[str] = []
        self.max_seconds = max_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"subscriber-{name}", daemon=True)

    def start(self) -> Subscriber:
        """Record the subscription (it covers every event: the cursor starts at 0), then poll."""
        self.history.record(self.name, "subscribe", self.pattern, node=self.node)
        self._thread.start()
        return self

    def move(self, node: str) -> None:
        """Continue on ``node`` from the same cursor (the next poll goes there)."""
        with self._lock:
            self.node = node
            self.moves.append((node, self.cursor))

    def _run(self) -> None:
        session = requests.Session()
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    node, cursor = self.node, self.cursor
                try:
                    response = session.get(
                        self.urls[node] + "/events",
                        params={"pattern": self.pattern, "after": cursor, "wait": 0.5, "limit": 1000},
                        timeout=5,
                    )
                    body = response.json()
                except (requests.RequestException, ValueError) as exc:
                    self.errors.append(f"{node}: {type(exc).__name__}")
                    session.close()
                    session = requests.Session()
                    self._stop.wait(0.1)  # a faulted node: back off briefly, bounded by the deadline
                    continue
                if response.status_code != 200:
                    self.errors.append(f"{node}: HTTP {response.status_code}")
                    self._stop.wait(0.1)
                    continue
                for event in body.get("events", []):
                    data = event.get("data")
                    self.history.record(
                        self.name,
                        "deliver",
                        event.get("topic"),
                        data.get("id") if isinstance(data, dict) else None,
                        result=event.get("id"),
                        node=node,
                    )
                    with self._lock:
                        self.seen.append(event.get("id"))
                with self._lock:  # what was recorded is consumed, whichever node the next poll goes to
                    self.cursor = max(cursor, int(body.get("cursor", cursor)))
        finally:
            session.close()

    def drain(self, last_id: int, timeout: float = 10.0) -> list[int]:
        """Until this subscriber's cursor reached ``last_id``; returns what it saw."""
        from pipeline.testing.eventually import eventually

        def caught_up() -> list[int]:
            assert self._thread.is_alive() or self.cursor >= last_id, "subscriber thread ended early"
            assert self.cursor >= last_id, (
                f"{self.name} on {self.node} is at cursor {self.cursor}, needs {last_id} (errors: {self.errors[-3:]})"
            )
            return list(self.seen) or [0]

        eventually(caught_up, timeout=timeout, interval=0.05, description=f"{self.name} reaches event {last_id}")
        return list(self.seen)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)
        assert not self._thread.is_alive(), f"subscriber {self.name} did not stop"
