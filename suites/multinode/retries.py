"""Writes that a client retries with the same request id (docs/api.md, "Request ids").

A client that lost a write's answer (a timeout, a dropped connection, a 503
whose outcome is unknown, a leader that died holding it) sends the same write
again with the same ``Idempotency-Key``, to another node.  The cluster must
apply it once: one transaction, money moved once; one registration, answered
201 on every retry (never ``already_registered`` for a name only this write
registers).

Each logical write is *one* operation in the history, from the first send to
the last answer, so the checkers judge what the client meant: a transfer
recorded ok that the cluster applied twice leaves balances no set of
acknowledged and unknown transfers explains (the money checker), and a
retried registration answered ``already_registered`` is a ``register`` that
found present a name nobody else wrote (the linearizability checker).

To retry on purpose, not only when a fault happens to hit a write, the client
also *drops* an acknowledged answer with probability ``drop`` (as if the
connection broke after the node answered) and retries on another node.

Bounded: at most ``MAX_ATTEMPTS`` sends per write and ``WRITE_DEADLINE_S`` of
wall time; a write whose every attempt was uncertain is recorded unknown.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.checker.history import Op, PendingOp
from suites.multinode.recording import Answer, RecordingClient, classify

__all__ = ["RetriedWrites", "MAX_ATTEMPTS"]

MAX_ATTEMPTS = 6
WRITE_DEADLINE_S = 12.0
SETTLE_DEADLINE_S = 6.0
RETRY_PAUSE_S = 0.05  # client-side pacing between attempts (grows per attempt), not a synchronisation
HEADER = "Idempotency-Key"


@dataclass
class Sent:
    """What the attempts of one write came to."""

    answer: Answer | None = None  # the definite answer the write ended with, if any
    node: str | None = None
    attempts: int = 0
    maybe_applied: bool = False  # some attempt may have been applied (uncertain, or an answer dropped)
    dropped: int = 0


@dataclass
class RetriedWrites:
    """A workload step: retried transfers among ``accounts`` and retried
    registrations of fresh names by ``agents``, through random nodes."""

    accounts: list[str]
    agents: list[str]
    drop: float = 0.4
    registered: list[str] = field(default_factory=list)  # every name a write tried to register
    transfers: list[str] = field(default_factory=list)  # transaction ids acknowledged completed
    retried: int = 0  # writes sent more than once
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self, client: RecordingClient, rng: random.Random, node: str, n: int) -> None:
        targets = list(client.urls)
        if rng.random() < 0.6:
            src, dst = rng.sample(self.accounts, 2)
            self.transfer(client, rng, targets, node, src, dst, rng.randint(1, 30), f"{client.name}-t{n}")
        else:
            name = f"{client.name}-{rng.getrandbits(32):08x}-r{n}"
            with self._lock:
                self.registered.append(name)
            self.register(client, rng, targets, node, name, self.agents[rng.randrange(len(self.agents))])
        with self._lock:
            self.done += 1

    # ------------------------------------------------------------------ sending

    def _send(
        self,
        client: RecordingClient,
        rng: random.Random,
        targets: Sequence[str],
        first: str,
        path: str,
        body: dict[str, Any],
        key: str,
    ) -> Sent:
        """Send one write until an answer is definite, with the same request id every time."""
        sent = Sent()
        node = first
        deadline = time.monotonic() + WRITE_DEADLINE_S
        while sent.attempts < MAX_ATTEMPTS and time.monotonic() < deadline:
            sent.attempts += 1
            answer = client.http(node, "POST", path, body, headers={HEADER: key})
            outcome = classify(answer)
            if outcome == "ok" and sent.attempts < MAX_ATTEMPTS and rng.random() < self.drop:
                sent.maybe_applied = True  # applied, but the client never saw it: retry
                sent.dropped += 1
            elif outcome == "ok" or (outcome == "fail" and answer.status is not None and answer.status < 500):
                sent.answer, sent.node = answer, node
                break
            elif outcome == "unknown":
                sent.maybe_applied = True
            # a definite refusal before anything was written (503 no_quorum, connection refused): retry too
            others = [t for t in targets if t != node] or list(targets)
            node = others[rng.randrange(len(others))]
            time.sleep(RETRY_PAUSE_S * sent.attempts)
        if sent.attempts > 1:
            with self._lock:
                self.retried += 1
        return sent

    @staticmethod
    def _undecided(pending: PendingOp, sent: Sent, last: str) -> Op:
        if sent.maybe_applied:
            return pending.unknown(f"{sent.attempts} attempts, none definite ({last})")
        return pending.fail(f"refused on all {sent.attempts} attempts ({last})")

    # ---------------------------------------------------------------- the writes

    def transfer(
        self,
        client: RecordingClient,
        rng: random.Random,
        targets: Sequence[str],
        node: str,
        src: str,
        dst: str,
        amount: int,
        reference: str,
    ) -> Op:
        """``transfer`` (the money checker's shape): ok(transaction id) once it
        settled completed, fail if refused or settled failed, else unknown."""
        value = {"from": src, "to": dst, "amount": amount, "reference": reference}
        with client.history.op(client.name, "transfer", reference, value, node=node) as pending:
            sent = self._send(client, rng, targets, node, "/transactions", value, f"{client.name}:{reference}")
            answer = sent.answer
            if answer is None or sent.node is None:
                return self._undecided(pending, sent, "no definite answer")
            if classify(answer) == "fail":
                return pending.fail(answer.code or f"HTTP {answer.status}")
            tx = answer.body.get("transaction_id") if isinstance(answer.body, dict) else None
            deadline = time.monotonic() + SETTLE_DEADLINE_S
            while True:
                read = client.http(sent.node, "GET", f"/transactions/{tx}")
                status = read.body.get("status") if read.status == 200 and isinstance(read.body, dict) else None
                if status == "completed":
                    with self._lock:
                        self.transfers.append(str(tx))
                    return pending.ok(tx)
                if status == "failed":
                    return pending.fail(read.body.get("reason") or "failed", result=tx)
                if time.monotonic() >= deadline:
                    return pending.unknown(f"{tx} still {status or read.status} after {SETTLE_DEADLINE_S:g}s")
                time.sleep(0.05)  # poll interval of a deadline-bounded wait for the settlement
        raise AssertionError("unreachable")  # pragma: no cover - the with block always returns

    def register(
        self, client: RecordingClient, rng: random.Random, targets: Sequence[str], node: str, name: str, ref: str
    ) -> Op:
        """``register`` of a fresh name (the register checker's shape): 201 ->
        ok(ref); ``already_registered`` -> ok(False), which for a name only this
        write registers means a retry was applied as a second write."""
        with client.history.op(client.name, "register", name, ref, node=node) as pending:
            sent = self._send(
                client, rng, targets, node, "/registry", {"name": name, "ref": ref}, f"{client.name}:{name}"
            )
            answer = sent.answer
            if answer is None:
                return self._undecided(pending, sent, "no definite answer")
            if answer.status == 201 and isinstance(answer.body, dict):
                return pending.ok(answer.body.get("ref"))
            if answer.status == 409 and answer.code == "already_registered":
                return pending.ok(False)
            return pending.fail(answer.code or f"HTTP {answer.status}")
        raise AssertionError("unreachable")  # pragma: no cover
