"""CPU and memory pressure helpers: they really apply pressure, they are
bounded, and they are always reaped."""

from __future__ import annotations

import sys

import psutil
import pytest

from pipeline.cluster.config import cluster_config
from pipeline.cluster.manager import ClusterManager
from pipeline.faults import FaultError
from pipeline.faults.pressure import PressureError, cpu_pressure, memory_pressure
from pipeline.testing.eventually import eventually


def test_cpu_pressure_burns_cpu_until_stopped():
    with cpu_pressure(seconds=30, workers=2) as p:
        proc = psutil.Process(p.pid)
        eventually(lambda: len(proc.children()) == 1, timeout=10, description="second worker forked")
        eventually(lambda: proc.cpu_times().user > 0.2, timeout=20, description="helper burning CPU")
        children = proc.children()
    assert not p.alive
    eventually(
        lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
        timeout=10,
        description="workers gone",
    )


def test_memory_pressure_holds_resident_memory():
    with memory_pressure(64, seconds=30) as p:
        rss = psutil.Process(p.pid).memory_info().rss
        assert rss >= 64 * 1024 * 1024
    assert not p.alive


def test_pressure_ends_by_itself_after_its_time():
    p = cpu_pressure(seconds=0.2)
    try:
        assert p.wait(timeout=20) == 0
    finally:
        p.stop()


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: cpu_pressure(seconds=0), "seconds: must be a number in (0, 600]"),
        (lambda: cpu_pressure(seconds=601), "seconds: must be a number in (0, 600]"),
        (lambda: cpu_pressure(seconds=1, workers=0), "workers: must be an integer in [1,"),
        (lambda: memory_pressure(10**9, seconds=1), "mb: must be an integer in [1,"),
    ],
)
def test_bounds_are_enforced_with_named_keys(call, fragment):
    with pytest.raises(PressureError) as info:
        call()
    assert fragment in str(info.value)


def test_pressure_as_a_cluster_fault_is_logged_and_reaped_at_teardown(tmp_path):
    manager = ClusterManager(runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
    ping = [sys.executable, "-m", "pipeline.testing.pingnode", "--port", "{port}"]
    with manager.start(cluster_config(1, "mesh", command=ping, link_proxies=False)) as c:
        record = c.faults.cpu_pressure(seconds=60, node="n1")
        pid = record.params["pid"]
        assert psutil.pid_exists(pid) and "reported ready" in record.verification
        state = c.state.to_json()
        assert any(p["role"] == "pressure" and p["pid"] == pid for p in state["processes"].values())
        with pytest.raises(FaultError, match="mb: must be"):
            c.faults.memory_pressure(0, 1)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not record.active
