"""Cluster mode with real processes: election, forwarding, partitions, modes, restarts.

Each node is ``python -m mabeam`` started by the toolkit's cluster fixture; the
peers reach each other through Toxiproxy link proxies, so ``isolate`` and
``partition`` cut real sockets. Every wait is a condition with a deadline.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from pipeline.testing.eventually import eventually

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-0123456789"

pytestmark = pytest.mark.timeout(120)


def command(*, grace_s: float = 60.0, join: bool = False, snapshot_every: int = 1000) -> list[str]:
    cmd = [
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
        "--tick-ms",
        "50",
        "--snapshot-every",
        str(snapshot_every),
        "--member-grace-s",
        f"{grace_s:g}",
        "--log-level",
        "WARNING",
    ]
    return cmd + (["--join"] if join else ["--bootstrap"])


def start(cluster: Any, n: int, **kwargs: Any) -> Any:
    handle = cluster(
        node_count=n,
        command=command(**kwargs),
        cwd=str(ROOT),
        env={"MABEAM_CLUSTER_SECRET": SECRET},
        ready_timeout=30.0,
        stop_timeout=5.0,
    )
    leader_of(handle, handle.names)
    return handle


def get(handle: Any, name: str, path: str, **kw: Any) -> requests.Response:
    return requests.get(handle.url(name) + path, timeout=kw.pop("timeout", 3.0), **kw)


def post(handle: Any, name: str, path: str, body: Any, timeout: float = 5.0) -> requests.Response:
    return requests.post(handle.url(name) + path, json=body, timeout=timeout)


def health(handle: Any, name: str) -> dict[str, Any]:
    return get(handle, name, "/health", timeout=2.0).json()


def leader_of(handle: Any, names: Any, timeout: float = 10.0) -> str:
    """The one leader every node in ``names`` agrees on, in normal mode."""

    def agreed() -> str:
        seen = {n: health(handle, n) for n in names}
        leaders = {h["leader"] for h in seen.values()}
        assert len(leaders) == 1 and None not in leaders, seen
        assert all(h["mode"] == "normal" for h in seen.values()), seen
        (leader,) = leaders
        assert leader in seen and seen[leader]["role"] == "leader", seen
        return leader

    return eventually(agreed, timeout=timeout)


def digests_equal(handle: Any, names: Any, timeout: float = 10.0) -> str:
    def equal() -> str:
        found = {n: get(handle, n, "/state/digest").json() for n in names}
        assert len({d["digest"] for d in found.values()}) == 1, found
        return next(iter(found.values()))["digest"]

    return eventually(equal, timeout=timeout)


def publish(handle: Any, name: str, data: Any, timeout: float = 5.0) -> requests.Response:
    return post(handle, name, "/events", {"topic": "test.replication", "data": data}, timeout=timeout)


def test_three_nodes_replicate_forward_and_survive_a_partition(cluster: Any) -> None:
    c = start(cluster, 3)
    names = list(c.names)
    leader = leader_of(c, names)
    follower = next(n for n in names if n != leader)
    other = next(n for n in names if n not in (leader, follower))

    # A long-poll parked on one follower wakes when a write made on another node is applied there.
    polled: dict[str, Any] = {}
    poller = threading.Thread(
        target=lambda: polled.update(get(c, other, "/events?pattern=test.**&wait=10", timeout=15).json())
    )
    poller.start()
    eventually(lambda: get(c, other, "/telemetry").json()["gauges"]["event_readers_waiting"] >= 1, timeout=5)

    written = publish(c, follower, {"n": 1})
    assert written.status_code == 201, written.text
    event = written.json()
    assert event["node"] == follower  # stamped once, by the node that took the request
    poller.join(15)
    assert [e["id"] for e in polled["events"]] == [event["id"]]
    digests_equal(c, names)
    for n in names:
        events = get(c, n, "/events?pattern=test.**").json()["events"]
        assert [e["data"] for e in events] == [{"n": 1}]

    # Reads say whether they may be stale; ?consistent=true goes through the leader.
    assert get(c, leader, "/events").headers["X-Mabeam-Stale"] == "no"
    assert get(c, follower, "/events").headers["X-Mabeam-Stale"] == "maybe"
    fresh = get(c, follower, "/events?pattern=test.**&consistent=true")
    assert fresh.headers["X-Mabeam-Stale"] == "no" and len(fresh.json()["events"]) == 1
    assert get(c, follower, "/events?consistent=maybe").status_code == 400

    # Peers must prove they hold the secret.
    forged = requests.post(c.url(leader) + "/raft/propose", json={"command": {"op": "events.publish"}}, timeout=3)
    assert forged.status_code == 401 and forged.json()["error"] == "unauthorized"

    # Isolate the leader: it refuses writes quickly; the others elect and go on.
    c.faults.isolate(leader)
    majority = [n for n in names if n != leader]

    def old_leader_refuses() -> bool:
        r = publish(c, leader, {"n": "minority"}, timeout=3.0)
        assert r.status_code == 503 and r.json()["error"] == "no_quorum", r.text
        assert health(c, leader)["mode"] == "partition_detected"
        return True

    eventually(old_leader_refuses, timeout=5)
    new_leader = leader_of(c, majority)
    assert new_leader != leader
    r = publish(c, majority[0], {"n": 2})
    assert r.status_code == 201, r.text
    assert get(c, leader, "/events?consistent=true").status_code == 503

    c.faults.heal()
    digests_equal(c, names)
    leader_of(c, names)
    events = get(c, leader, "/events?pattern=test.**&consistent=true").json()["events"]
    datas = [e["data"] for e in events]
    assert {"n": 1} in datas and {"n": 2} in datas
    assert len({e["id"] for e in events}) == len(events)


def test_crashed_leader_is_replaced_and_a_restarted_node_catches_up(cluster: Any) -> None:
    # Compacting every 8 entries: the restarted node reloads its own snapshot, and
    # the 20 writes it missed are gone from the leader's log, so it gets InstallSnapshot.
    c = start(cluster, 3, snapshot_every=8)
    names = list(c.names)
    leader = leader_of(c, names)
    for i in range(12):
        assert publish(c, leader, {"i": i}).status_code == 201
    digests_equal(c, names)
    c.faults.crash(leader)
    rest = [n for n in names if n != leader]
    new_leader = leader_of(c, rest)
    assert new_leader != leader
    for i in range(12, 32):
        r = publish(c, rest[i % 2], {"i": i})
        assert r.status_code == 201, r.text
    c.faults.restart(leader)  # same data dir: the same member, behind by twenty writes
    digest = digests_equal(c, names)
    assert digest
    events = get(c, leader, "/events?pattern=test.**").json()["events"]
    assert [e["data"]["i"] for e in events] == list(range(32))
    assert (c.run_dir / "data" / leader / "snapshot.json").exists()
    members = get(c, leader, "/cluster/members").json()
    assert sorted(members["members"]) == sorted(names)


def test_an_even_split_puts_every_node_in_safe_mode(cluster: Any) -> None:
    c = start(cluster, 4)
    names = list(c.names)
    c.faults.partition([names[:2], names[2:]])

    def all_safe() -> bool:
        modes = {n: health(c, n)["mode"] for n in names}
        assert set(modes.values()) == {"safe_mode"}, modes
        return True

    eventually(all_safe, timeout=8)
    r = publish(c, names[0], {"split": True}, timeout=3)
    assert r.status_code == 503 and r.json()["error"] == "no_quorum"
    c.faults.heal()
    leader_of(c, names)
    assert publish(c, names[3], {"healed": True}).status_code == 201
    digests_equal(c, names)


def test_a_silent_member_is_removed_and_readmitted_when_it_returns(cluster: Any) -> None:
    c = start(cluster, 3, grace_s=1.0)
    names = list(c.names)
    leader = leader_of(c, names)
    victim = next(n for n in names if n != leader)
    c.faults.crash(victim)

    def removed() -> list[str]:
        members = get(c, leader, "/cluster/members").json()["members"]
        assert victim not in members, members
        return members

    assert len(eventually(removed, timeout=8)) == 2
    assert publish(c, leader, {"after": "removal"}).status_code == 201
    c.faults.restart(victim)

    def readmitted() -> bool:
        members = get(c, leader, "/cluster/members").json()["members"]
        assert sorted(members) == sorted(names), members
        return True

    eventually(readmitted, timeout=10)
    digests_equal(c, names)


def test_a_node_that_lost_its_disk_rejoins_with_join(cluster: Any) -> None:
    import shutil

    from pipeline.cluster import cluster_config, node_spec

    env = {"MABEAM_CLUSTER_SECRET": SECRET}
    nodes = [node_spec(command=command(), env=env, cwd=str(ROOT)) for _ in range(2)]
    nodes.append(node_spec(command=command(join=True), env=env, cwd=str(ROOT)))
    c = cluster(cluster_config(nodes=nodes, ready_timeout=30.0))
    names = list(c.names)
    joiner = names[2]
    leader_of(c, names, timeout=15)  # n3 starts empty with --join and is re-admitted as new
    for i in range(3):
        assert publish(c, names[0], {"i": i}).status_code == 201
    digests_equal(c, names)
    c.faults.crash(joiner)
    shutil.rmtree(c.run_dir / "data" / joiner)
    (c.run_dir / "data" / joiner).mkdir()
    assert publish(c, names[0], {"i": 3}).status_code == 201
    c.faults.restart(joiner)  # an empty disk: its old vote is gone, so it must come back as a new member

    def caught_up() -> bool:
        h = health(c, joiner)
        assert h["mode"] == "normal" and sorted(h["members"]) == sorted(names), h
        events = get(c, joiner, "/events?pattern=test.**").json()["events"]
        assert [e["data"]["i"] for e in events] == [0, 1, 2, 3]
        return True

    eventually(caught_up, timeout=15)
    digests_equal(c, names)
