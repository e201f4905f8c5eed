"""The local provider with real processes: failed starts explain themselves,
resource limits are really applied, logs land in the run folder, a node that
loses its port race is moved, nodes without HTTP are supported."""

from __future__ import annotations

import os
import socket
import sys

import pytest

from pipeline.cluster.config import cluster_config, resources
from pipeline.cluster.handle import NodeStartError
from pipeline.cluster.local import LocalProvider
from pipeline.cluster.manager import ClusterManager
from pipeline.cluster.provider import Address, ProviderError
from pipeline.cluster.runstate import process_alive

PING = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}", "--peers", "{peers}"]


@pytest.fixture
def manager(tmp_path):
    return ClusterManager(runs_dir=tmp_path / "runs", report_root=tmp_path / "reports")


def test_failing_node_error_has_name_exit_code_and_log_tail_and_others_are_stopped(tmp_path, manager):
    class Recording(LocalProvider):
        started: dict[str, int] = {}

        def start(self, launch):
            super().start(launch)
            Recording.started[launch.name] = self.pid(launch.name)

    script = (
        "import sys, os\n"
        "if os.environ['CLUSTER_NODE'] == 'n2':\n"
        "    print('fatal: n2 cannot start', flush=True); sys.exit(3)\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'pipeline.testing.pingnode'])\n"
    )
    config = cluster_config(3, "mesh", command=[sys.executable, "-c", script])
    with pytest.raises(NodeStartError) as info:
        ClusterManager(Recording, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep").start(config)
    err = info.value
    assert err.name == "n2" and err.exit_code == 3
    assert "fatal: n2 cannot start" in err.log_tail and "exit status 3" in str(err)
    assert err.log_path is not None and err.log_path.name == "n2.log"
    assert set(Recording.started) == {"n1", "n2", "n3"}
    assert not any(process_alive(pid) for pid in Recording.started.values())
    assert list((tmp_path / "runs").glob("*.json")) == []


def test_unknown_command_is_a_clear_error(manager):
    with pytest.raises(ProviderError, match="cannot run '/nonexistent/node'"):
        manager.start(cluster_config(2, "mesh", command=["/nonexistent/node", "{port}"]))


def test_command_that_cannot_run_is_a_node_start_error_and_the_started_ones_are_stopped(tmp_path):
    class Recording(LocalProvider):
        started: dict[str, int] = {}

        def start(self, launch):
            super().start(launch)
            Recording.started[launch.name] = self.pid(launch.name)

    nodes = [{"command": PING}, {"command": ["/nonexistent/node", "{port}"]}]
    manager = ClusterManager(Recording, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
    with pytest.raises(NodeStartError) as info:
        manager.start(cluster_config(nodes=nodes, link_proxies=False))
    err = info.value
    assert isinstance(err, ProviderError)  # what callers caught before
    assert err.name == "n2" and err.exit_code == 127 and "exit status 127" in str(err)
    assert "could not start" in err.log_tail and err.log_path is not None and err.log_path.name == "n2.log"
    assert list(Recording.started) == ["n1"] and not process_alive(Recording.started["n1"])
    assert list((tmp_path / "runs").glob("*.json")) == []


def test_missing_cwd_is_named(manager):
    with pytest.raises(NodeStartError, match="node.cwd '/nonexistent/dir' is not a directory"):
        manager.start(cluster_config(1, command=PING, cwd="/nonexistent/dir", link_proxies=False))


def test_logs_go_to_the_run_folder_with_one_file_per_node(tmp_path, manager):
    with manager.start(cluster_config(2, "ring", command=PING)) as c:
        for name in c.names:
            path = c.node(name).log_path
            assert path == tmp_path / "reports" / c.run_id / f"{name}.log"
        assert any(f"{name} listening on" in c.node(name).log_tail() for name in ["n1"])
        assert (tmp_path / "reports" / c.run_id / "faults.log").exists()


def test_memory_cpu_and_file_limits_are_applied_to_the_node(manager):
    cpu = min(os.sched_getaffinity(0))
    limits = resources(memory_mb=512, cpus=[cpu], open_files=200)
    with manager.start(cluster_config(1, "mesh", command=PING, resources=limits)) as c:
        pid = c.node("n1").pid
        text = open(f"/proc/{pid}/limits").read()
        address_space = next(line for line in text.splitlines() if line.startswith("Max address space"))
        assert address_space.split()[3] == str(512 * 1024 * 1024)
        open_files = next(line for line in text.splitlines() if line.startswith("Max open files"))
        assert open_files.split()[3] == "200"
        assert os.sched_getaffinity(pid) == {cpu}


def test_memory_limit_really_stops_a_greedy_node(manager):
    greedy = [sys.executable, "-c", "b = bytearray(400 * 1024 * 1024); print('allocated')"]
    with pytest.raises(NodeStartError) as info:
        manager.start(cluster_config(1, "mesh", command=greedy, resources=resources(memory_mb=128)))
    assert "MemoryError" in info.value.log_tail and info.value.exit_code == 1


def test_cpus_not_available_are_refused_naming_the_key(manager):
    bad = max(os.sched_getaffinity(0)) + 64
    with pytest.raises(ProviderError, match=rf"resources.cpus \[{bad}\]"):
        manager.start(cluster_config(1, "mesh", command=PING, resources=resources(cpus=[bad])))


def test_node_without_http_is_ready_when_its_port_accepts(manager):
    tcp_only = [
        sys.executable,
        "-c",
        "import socket, sys, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "while True:\n    c, _ = s.accept(); c.close()\n",
        "{port}",
    ]
    with manager.start(cluster_config(2, "mesh", command=tcp_only, health_path=None)) as c:
        assert all(c.node(n).is_running() for n in c.names)
        record = c.faults.partition_halves()  # no HTTP to probe: verified through the proxy state
        assert "proxy state shows 2 links cut" in record.verification


def test_node_that_lost_its_port_race_is_moved_to_a_fresh_port(tmp_path):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]

    class Unlucky(LocalProvider):
        first = True

        def allocate(self, name, spec):
            if name == "n2" and Unlucky.first:
                Unlucky.first = False
                self._addresses[name] = Address("127.0.0.1", taken)
                return self._addresses[name]
            return super().allocate(name, spec)

    try:
        manager = ClusterManager(Unlucky, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
        with manager.start(cluster_config(3, "mesh", command=PING)) as c:
            moved = c.provider.address("n2")
            assert moved.port != taken
            assert c.links.proxy(next(link for link in c.links.links if str(link) == "n1->n2")).upstream == moved
            assert "Address already in use" in c.node("n2").log_tail()
            c.faults.heal()  # verifies every link flows, including the re-pointed ones
    finally:
        squatter.close()


def test_teardown_with_paused_and_crashed_nodes_leaves_nothing(tmp_path, manager):
    c = manager.start(cluster_config(3, "mesh", command=PING, stop_timeout=5))
    pids = [c.node(n).pid for n in c.names]
    c.faults.pause("n1")
    c.faults.crash("n2")
    proxies = [c.links.proxy(link).name for link in c.links.links]
    c.close()
    assert not any(process_alive(p) for p in pids)
    assert not set(proxies) & set(c.toxiproxy.client().proxies())
    assert list((tmp_path / "runs").glob("*.json")) == []
    # the paused node got SIGCONT with its SIGTERM, so it exited cleanly rather than by SIGKILL
    assert c.provider.exit_code("n1") == 0


def test_stop_escalates_to_sigkill_for_a_node_that_ignores_sigterm(manager):
    stubborn = [
        sys.executable,
        "-c",
        "import signal, socket, sys\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "while True:\n    s.accept()[0].close()\n",
        "{port}",
    ]
    with manager.start(
        cluster_config(1, "mesh", command=stubborn, health_path=None, link_proxies=False, stop_timeout=0.3)
    ) as c:
        record = c.faults.stop("n1")
        assert record.verification == f"process exited with status {-9}"
        c.faults.restart("n1")
        assert c.node("n1").is_running()


def test_node_that_never_gets_healthy_is_stopped_with_its_group(tmp_path):
    class Recording(LocalProvider):
        started: dict[str, int] = {}

        def start(self, launch):
            super().start(launch)
            Recording.started[launch.name] = self.pid(launch.name)

    # the node spawns a child in its group, prints, and never listens
    silent = [
        sys.executable,
        "-c",
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print('CHILD_PID', child.pid, flush=True)\ntime.sleep(600)\n",
    ]
    manager = ClusterManager(Recording, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
    with pytest.raises(NodeStartError, match="not healthy within 0.5s") as info:
        manager.start(cluster_config(1, command=silent, ready_timeout=0.5, link_proxies=False))
    err = info.value
    assert err.exit_code is None and "still running" in str(err)
    child = next(int(line.split()[1]) for line in err.log_tail.splitlines() if line.startswith("CHILD_PID "))
    assert not process_alive(Recording.started["n1"]) and not process_alive(child)
    assert list((tmp_path / "runs").glob("*.json")) == []
