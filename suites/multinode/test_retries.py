"""Retried writes through leader changes (guarantee 6: a retried or re-forwarded
write is applied once).

Clients transfer money and register fresh names, each write retried with the
same ``Idempotency-Key`` on another node whenever its answer is uncertain or
(on purpose, see :mod:`suites.multinode.retries`) dropped, while the leader
is crashed and restarted, then cut off from the others and healed.  After
that, the settlements of the completed transactions are forwarded to the
leader again on the peer path (``POST /raft/propose``, as a follower re-forwards
a write whose answer it lost): they must not move money a second time.

The checkers judge the whole history: money conserved and every balance
explained by the acknowledged transfers (plus some of the unknown ones), each
retried registration a single registration, nothing acknowledged lost; and
every node holds each transfer's reference at most once in its settlement events.
"""

from __future__ import annotations

from collections import Counter

import orjson
import requests

from mabeam.replication.auth import peer_headers
from pipeline.testing.eventually import eventually
from suites.multinode.checks import verify
from suites.multinode.cluster import MabeamCluster
from suites.multinode.recording import RecordingClient
from suites.multinode.retries import RetriedWrites
from suites.multinode.steps import Money, final_registry_reads, start_agents
from suites.multinode.workload import Workers
from suites.service.client import uid

THREADS = 3
MAX_OPS = 24  # per client
EVENTS_PAGE = 1000


def progress(writes: RetriedWrites, at_least: int, what: str) -> None:
    eventually(lambda: writes.done >= at_least, timeout=20, interval=0.05, description=what)


def resettle(cluster: MabeamCluster, leader: str, secret: bytes, transaction_ids: list[str]) -> None:
    """Forward the settlement of already settled transactions to the leader again,
    signed like a follower's forward, each twice in one batch."""
    command = {"op": "transaction.settle", "time": 0.0, "node": "retry", "ids": transaction_ids}
    body = orjson.dumps({"commands": [command, dict(command)]})
    path = "/raft/propose"
    answer = requests.post(
        cluster.urls[leader] + path,
        data=body,
        headers=peer_headers(secret, "POST", path, body, "retry", leader),
        timeout=5,
    )
    assert answer.status_code == 200, f"POST {path} on {leader}: {answer.status_code} {answer.text[:300]}"
    results = [a.get("result") for a in answer.json()["answers"]]
    assert results == [{"settled": []}, {"settled": []}], f"settled again: {results}"


def settled_references(cluster: MabeamCluster, node: str) -> Counter[str]:
    """How often each reference was settled, from this node's settlement events (bounded pages)."""
    counts: Counter[str] = Counter()
    after = 0
    for _ in range(50):
        answer = requests.get(
            cluster.urls[node] + "/events",
            params={"pattern": "economics.transaction.*", "after": after, "limit": EVENTS_PAGE},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        counts.update(str(e["data"].get("reference")) for e in page["events"])
        if len(page["events"]) < EVENTS_PAGE:
            return counts
        after = page["cursor"]
    raise AssertionError("more settlement events than this test can write")


def test_retried_writes_apply_once_through_leader_changes(mabeam, history, seed):
    cluster = mabeam(3, "mesh")
    names = list(cluster.names)
    secret = cluster.handle.config.nodes[0].env_dict["MABEAM_CLUSTER_SECRET"].encode()
    admin = RecordingClient(history, "admin", cluster.urls)
    money = Money.setup(admin, names, count=4, opening=100)
    writes = RetriedWrites(money.accounts, start_agents(admin, names, 3, uid("rt")))
    budget = THREADS * MAX_OPS

    with Workers(history, cluster.urls, writes.step, seed=seed, threads=THREADS, max_ops=MAX_OPS, max_seconds=40):
        progress(writes, budget // 6, "clients write before the first fault")
        old = cluster.leader()
        rest = [n for n in names if n != old]
        cluster.handle.faults.crash(old)
        cluster.leader(rest, timeout=10)
        progress(writes, budget // 3, "clients write under the new leader")
        cluster.handle.faults.restart(old)
        cluster.wait_modes(names, "normal", timeout=15)

        cut = cluster.leader()
        cluster.handle.faults.isolate(cut)
        cluster.leader([n for n in names if n != cut], timeout=10)
        progress(writes, budget // 2, "clients write while the old leader is cut off")
        cluster.handle.faults.heal()

    cluster.wait_modes(names, "normal", timeout=15)
    leader = cluster.leader()
    cluster.wait_converged(timeout=15)
    print(f"writes {writes.done}, retried {writes.retried}, transfers completed {len(writes.transfers)}")
    assert writes.retried >= 5, f"only {writes.retried} of {writes.done} writes were retried"
    if writes.transfers:
        resettle(cluster, leader, secret, writes.transfers)
        cluster.wait_converged(timeout=15)

    for node in names:
        admin.read_balances(node, final=True)
    final_registry_reads(admin, names, writes.registered)
    verify(history, "money", "linearizable", "lost_writes")
    for node in names:
        twice = {ref: n for ref, n in settled_references(cluster, node).items() if n > 1}
        assert not twice, f"{node} settled these references more than once: {twice}"
