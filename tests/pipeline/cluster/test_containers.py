"""The containers provider against a real Docker engine (skipped, saying why,
where none answers): a cluster of ping nodes in containers on a network of the
run's own, its links through the run's Toxiproxy container, the node spec's
limits on the containers, crash / restart / pause keeping addresses, logs in
the run folder, and nothing of the run left on the engine afterwards -- also
when the runner is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pipeline.cluster import select
from pipeline.cluster.config import cluster_config, resources
from pipeline.testing.eventually import eventually

ROOT = Path(__file__).resolve().parents[3]
PING = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--host", "{host}", "--port", "{port}"]
PING_PEERS = [*PING, "--peers", "{peers}"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a first offline image build takes a minute or two


@pytest.fixture(scope="module")
def engine():
    reason = select.unavailable("containers")
    if reason is not None:
        pytest.skip(reason)
    from pipeline.containers import engine as docker_engine

    client = docker_engine.connect()
    select.prepare("containers", say=lambda line: None)
    yield client
    client.close()


@pytest.fixture
def manager(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_RUNS_DIR", str(tmp_path / "runs"))
    return select.manager("containers", report_root=tmp_path / "reports")


def _objects(client, run_id: str) -> list[str]:
    from pipeline.containers import engine as docker_engine

    return docker_engine.leftovers(client).get(run_id, [])


def _reachable(handle, name: str) -> set[str]:
    with urllib.request.urlopen(handle.url(name) + "/peers?timeout=0.5", timeout=10) as answer:
        return set(json.load(answer)["reachable"])


def test_a_cluster_in_containers_takes_faults_and_leaves_nothing(engine, manager):
    config = cluster_config(
        3, "mesh", command=PING_PEERS, ready_timeout=60, resources=resources(memory_mb=256, open_files=512)
    )
    handle = manager.start(config, seed=7)
    run_id = handle.run_id
    try:
        assert all(url.startswith("http://127.0.0.1:") for url in handle.urls.values())  # tests stay on loopback
        eventually(lambda: _reachable(handle, "n1") == {"n2", "n3"}, timeout=30, description="n1 reaches both")
        container = engine.containers.get(f"pipeline-{run_id}-n1")
        assert container.attrs["HostConfig"]["Memory"] == 256 * 1024 * 1024
        assert {u["Name"]: u["Soft"] for u in container.attrs["HostConfig"]["Ulimits"]} == {"nofile": 512}
        assert f"pipeline-{run_id}" in container.attrs["NetworkSettings"]["Networks"]

        with handle.faults.isolate("n1"):  # verified cut, through the Toxiproxy container
            eventually(lambda: _reachable(handle, "n2") == {"n3"}, timeout=30, description="n2 lost n1")
        eventually(lambda: _reachable(handle, "n2") == {"n1", "n3"}, timeout=30, description="healed")

        url = handle.url("n2")
        handle.faults.crash("n2")
        assert handle.provider.exit_code("n2") == -signal.SIGKILL
        handle.faults.restart("n2")
        assert handle.url("n2") == url  # the same address for the tests, the same alias for peers
        eventually(lambda: _reachable(handle, "n1") == {"n2", "n3"}, timeout=30, description="n2 back")

        handle.faults.pause("n3")
        assert handle.provider.is_paused("n3") and not handle.provider.healthy("n3", "/health")
        handle.faults.resume("n3")
        eventually(lambda: handle.provider.healthy("n3", "/health"), timeout=30, description="n3 answers again")
    finally:
        handle.close()
    assert _objects(engine, run_id) == []
    logs = sorted(p.name for p in handle.run_dir.glob("n*.log"))
    assert logs == ["n1.log", "n2.log", "n3.log"]
    assert "listening" in (handle.run_dir / "n1.log").read_text()


def test_a_half_started_cluster_is_removed(engine, manager):
    bad = cluster_config(2, "mesh", command=[sys.executable, "-c", "raise SystemExit(3)"], ready_timeout=30)
    with pytest.raises(Exception, match="exit") as caught:
        manager.start(bad)
    run_ids = [d.name for d in (manager.report_root).iterdir()]
    assert len(run_ids) == 1, caught.value
    assert _objects(engine, run_ids[0]) == []


RUNNER = """
import sys, time
from pipeline.cluster import select
from pipeline.cluster.config import cluster_config
handle = select.manager("containers").start(cluster_config(2, "mesh", command={command!r}, ready_timeout=60))
print("RUN=" + handle.run_id, flush=True)
time.sleep(600)  # killed by the test
"""


def test_a_sigkilled_runner_leaves_no_container_network_or_volume(engine, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPELINE_RUNS_DIR": str(tmp_path / "runs")}
    env["PIPELINE_REPORTS"] = str(tmp_path / "reports")
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER.format(command=PING_PEERS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert runner.stdout is not None
        lines = []
        for line in runner.stdout:  # the toolkit may print before the runner says its run
            lines.append(line)
            if line.startswith("RUN="):
                break
        run_id = lines[-1].removeprefix("RUN=").strip() if lines and lines[-1].startswith("RUN=") else ""
        assert run_id, "".join(lines) + (runner.stderr.read() if runner.stderr else "")
        assert len([o for o in _objects(engine, run_id) if o.startswith("container")]) == 3  # n1, n2, toxiproxy
    finally:
        runner.kill()
        runner.wait(timeout=30)
    # the run's watchdog outlives its runner and removes everything by label
    eventually(lambda: _objects(engine, run_id) == [], timeout=90, description=f"run {run_id} removed by its watchdog")
