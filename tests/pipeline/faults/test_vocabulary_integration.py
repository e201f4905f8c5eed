"""Faults on a real 5-node mesh of ping nodes, seen from the nodes themselves.

One cluster for the module (starting one costs about a second); after each test
every link is healed and every node is back up, so tests stay independent.
Each node's ``/peers`` tries all its peers through its outgoing link proxies,
which is exactly what a partition must change.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import pytest

from pipeline.cluster.config import cluster_config
from pipeline.cluster.links import probe_link
from pipeline.cluster.manager import ClusterManager
from pipeline.testing.eventually import eventually

NAMES = ["n1", "n2", "n3", "n4", "n5"]
PING = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}", "--peers", "{peers}"]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    base = tmp_path_factory.mktemp("mesh")
    manager = ClusterManager(runs_dir=base / "runs", report_root=base / "reports")
    with manager.start(cluster_config(5, "mesh", command=PING, stop_timeout=3)) as c:
        yield c
    assert not list((base / "runs").glob("*.json")), "run state left behind"


@pytest.fixture(autouse=True)
def restore(mesh):
    yield
    for name in mesh.names:
        if mesh.provider.is_paused(name):
            mesh.faults.resume(name)
        if mesh.provider.exit_code(name) is not None:
            mesh.faults.restart(name)
    mesh.faults.heal()


def peers(cluster, node: str, timeout: float = 0.3) -> dict:
    with urllib.request.urlopen(f"{cluster.url(node)}/peers?timeout={timeout}", timeout=10) as resp:
        return json.load(resp)


def reachable(cluster, node: str) -> set[str]:
    return set(peers(cluster, node)["reachable"])


def sees(cluster, expected: dict[str, set[str]]):
    """Condition for eventually: every listed node reaches exactly those peers."""

    def check():
        got = {n: reachable(cluster, n) for n in expected}
        assert got == expected, got
        return True

    return check


def everyone_sees_everyone(cluster):
    return sees(cluster, {n: set(NAMES) - {n} for n in NAMES})


@pytest.mark.parametrize("mode", ["drop", "reject"])
def test_majority_minority_partition_and_heal(mesh, mode):
    record = mesh.faults.partition([["n1", "n2", "n3"], ["n4", "n5"]], mode=mode)
    assert len(record.links) == 12 and record.verification.startswith("exchange failed on 12/12")
    eventually(
        sees(mesh, {"n1": {"n2", "n3"}, "n2": {"n1", "n3"}, "n3": {"n1", "n2"}, "n4": {"n5"}, "n5": {"n4"}}), timeout=10
    )
    mesh.faults.heal()
    eventually(everyone_sees_everyone(mesh), timeout=10)
    assert not record.active


def test_drop_hangs_and_reject_refuses_at_the_socket(mesh):
    link = mesh.links.proxy(next(link for link in mesh.links.links if str(link) == "n1->n2"))
    with mesh.faults.cut("n1", "n2", mode="drop"):
        assert probe_link(link.listen, "/health", timeout=0.3).outcome == "timeout"
    with mesh.faults.cut("n1", "n2", mode="reject"):
        assert probe_link(link.listen, "/health", timeout=0.3).outcome == "refused"
    assert probe_link(link.listen, "/health", timeout=2).flows


def test_isolate_one_node(mesh):
    mesh.faults.isolate("n3", mode="drop")
    others = set(NAMES) - {"n3"}
    expected = {n: others - {n} for n in others}
    expected["n3"] = set()
    eventually(sees(mesh, expected), timeout=10)


def test_one_way_cut(mesh):
    mesh.faults.cut("n1", "n2")
    eventually(sees(mesh, {"n1": {"n3", "n4", "n5"}, "n2": {"n1", "n3", "n4", "n5"}}), timeout=10)


def test_bridge_and_majorities_ring_from_the_nodes_view(mesh):
    with mesh.faults.bridge():  # n1 n2 | n3 | n4 n5
        eventually(sees(mesh, {"n3": {"n1", "n2", "n4", "n5"}, "n1": {"n2", "n3"}, "n5": {"n3", "n4"}}), timeout=10)
    mesh.faults.partition_majorities_ring(mode="reject")
    views = {n: reachable(mesh, n) | {n} for n in NAMES}
    assert all(len(v) == 3 for v in views.values()) and len({frozenset(v) for v in views.values()}) == 5


def test_latency_adds_at_least_the_minimum_delay(mesh):
    record = mesh.faults.latency(80, 120, links=["n1->n2"], stream="upstream")
    assert "took >=" in record.verification
    got = peers(mesh, "n1", timeout=3)["peers"]["n2"]
    assert got["ok"] and got["ms"] >= 80


def test_crash_and_restart_on_the_same_address(mesh):
    address, old_pid = mesh.node("n4").address, mesh.node("n4").pid
    record = mesh.faults.crash("n4")
    assert record.verification.startswith("process reaped, exit status -9")
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    eventually(lambda: "n4" not in reachable(mesh, "n1") or None, timeout=10)
    mesh.faults.restart("n4")
    assert mesh.provider.address("n4") == address and mesh.node("n4").pid != old_pid
    eventually(lambda: "n4" in reachable(mesh, "n1") or None, timeout=10)
    assert not record.active


def test_pause_and_resume(mesh):
    mesh.faults.pause("n5")
    state = open(f"/proc/{mesh.node('n5').pid}/stat").read().rsplit(")", 1)[1].split()[0]
    assert state in ("T", "t")
    eventually(lambda: "n5" not in reachable(mesh, "n1") or None, timeout=10)
    mesh.faults.resume("n5")
    eventually(lambda: "n5" in reachable(mesh, "n1") or None, timeout=10)


def test_graceful_stop_then_restart(mesh):
    record = mesh.faults.stop("n2")
    assert record.verification == "process exited with status 0"
    record.revert()  # revert of a stop = restart
    eventually(lambda: "n2" in reachable(mesh, "n3") or None, timeout=10)


def test_message_loss_certain_loss_blocks_new_connections(mesh):
    mesh.faults.message_loss(1.0, links=["n1->n2"])
    got = peers(mesh, "n1")["peers"]["n2"]
    assert not got["ok"]
    assert "n1" in reachable(mesh, "n2")


def test_fault_log_of_this_cluster_reads_in_order(mesh):
    mesh.faults.isolate("n1")
    mesh.faults.heal()
    lines = mesh.faults.log.format().splitlines()
    assert "partition: PartitionPlan(isolate: n1 | n2 n3 n4 n5) mode=drop cuts 8 links" in lines[-2]
    assert "ended +" in lines[-2]
    assert "heal" in lines[-1] and "exchange flows on 20 links" in lines[-1]
