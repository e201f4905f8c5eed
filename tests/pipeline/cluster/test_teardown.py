"""Nothing is left behind: not after SIGTERM or Ctrl-C of the runner (in-process
teardown), not after SIGKILL of the runner (PDEATHSIG + watchdog), and
``python -m pipeline.cluster.clean`` removes what dead runs left while never
touching a live run or a recycled pid."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.cluster.clean import clean
from pipeline.cluster.clean import main as clean_main
from pipeline.cluster.runstate import RunState, process_alive, same_process, start_ticks
from pipeline.testing.eventually import eventually
from pipeline.toxiproxy import ToxiproxyClient
from pipeline.toxiproxy.embedded import EmbeddedToxiproxy

RUNNER = textwrap.dedent("""
    import json, signal, sys, time
    # A runner a user starts from a terminal has SIGINT at its default, so Ctrl-C
    # raises KeyboardInterrupt.  This one inherits the test's disposition, which is
    # SIG_IGN when pytest itself runs as a background job of a non-interactive
    # shell (CI scripts, `cmd &`); Python then keeps ignoring SIGINT.  Be the runner
    # the test means to interrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from pipeline.cluster import ClusterManager, cluster_config, node_spec
    ping = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}",
            "--peers", "{peers}"]
    # n2 runs behind a shell that forks it: PDEATHSIG alone would not reach the real server
    wrapped = ["sh", "-c", '"$@" & wait', "sh", *ping]
    config = cluster_config(nodes=[node_spec("n1", ping), node_spec("n2", wrapped), node_spec("n3", ping)],
                            topology="mesh")
    with ClusterManager().start(config) as c:
        print(json.dumps({"run_id": c.run_id, "state": str(c.state.path), "run_dir": str(c.run_dir),
                          "pids": {n: c.node(n).pid for n in c.names}}), flush=True)
        time.sleep(600)  # the test signals us
""")


@pytest.fixture(scope="module")
def toxiproxy():
    """A Toxiproxy outside the runner, so the test can see its proxies go."""
    server = EmbeddedToxiproxy().start()
    yield server.url
    server.stop()


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    out.append(int(entry))
            except ProcessLookupError:
                pass
    return out


@pytest.fixture
def start_runner():
    """``start_runner(tmp_path, toxiproxy_url) -> (proc, info)``; whatever the
    test's outcome, the runner and every process of its nodes' groups are gone
    afterwards (a failing test must not leave a cluster sleeping for 10 minutes)."""
    started: list[tuple[subprocess.Popen, list[tuple[int, int | None]]]] = []

    def start(tmp_path: Path, toxiproxy_url: str) -> tuple[subprocess.Popen, dict]:
        proc, info = _start_runner(tmp_path, toxiproxy_url)
        members = [(p, start_ticks(p)) for pid in info["pids"].values() for p in group_members(pid)]
        started.append((proc, members))
        return proc, info

    yield start
    for proc, members in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        for pid, ticks in members:
            if same_process(pid, ticks):  # still the node process we saw, not a recycled pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # exited in between


def _start_runner(tmp_path: Path, toxiproxy_url: str) -> tuple[subprocess.Popen, dict]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    env = dict(
        os.environ,
        PIPELINE_RUNS_DIR=str(tmp_path / "runs"),
        PIPELINE_REPORTS=str(tmp_path / "reports"),
        TOXIPROXY_URL=toxiproxy_url,
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 60
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            if time.monotonic() > deadline or not sel.select(deadline - time.monotonic()):
                proc.kill()
                pytest.fail(f"runner gave no line; stderr: {proc.stderr.read().decode()[-2000:]}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait()
                pytest.fail(f"runner died ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
            line += chunk
    return proc, json.loads(line)


def run_proxies(url: str, run_id: str) -> list[str]:
    return [name for name in ToxiproxyClient(url).proxies() if name.startswith(run_id + ":")]


def test_runner_sigkill_leaves_no_node_no_proxy_and_nothing_to_clean(tmp_path, toxiproxy, start_runner):
    proc, info = start_runner(tmp_path, toxiproxy)
    members = [p for pid in info["pids"].values() for p in group_members(pid)]
    assert len(members) >= 4  # three nodes plus n2's forked server
    assert len(run_proxies(toxiproxy, info["run_id"])) == 6
    assert Path(info["state"]).exists()

    proc.kill()
    proc.wait()

    eventually(
        lambda: not [p for p in members if process_alive(p)],
        timeout=15,
        description="every node process (and n2's grandchild) is gone",
    )
    eventually(
        lambda: not Path(info["state"]).exists() and not run_proxies(toxiproxy, info["run_id"]),
        timeout=15,
        description="the watchdog removed the run's proxies and state file",
    )
    assert "runner of " + info["run_id"] + " died" in (Path(info["run_dir"]) / "watchdog.log").read_text()
    report = clean(directory=tmp_path / "runs", run_id=info["run_id"])
    assert not report.found_anything, report.summary()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_runner_sigterm_or_ctrl_c_tears_down_in_process(tmp_path, toxiproxy, start_runner, sig):
    proc, info = start_runner(tmp_path, toxiproxy)
    members = [p for pid in info["pids"].values() for p in group_members(pid)]
    proc.send_signal(sig)
    proc.wait(timeout=30)
    # the runner itself removed everything before it exited: no waiting needed
    assert not [p for p in members if process_alive(p)]
    assert not Path(info["state"]).exists()
    assert run_proxies(toxiproxy, info["run_id"]) == []
    assert "died" not in (Path(info["run_dir"]) / "watchdog.log").read_text()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143


def test_clean_kills_only_matching_processes_of_dead_runs(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    victim = subprocess.Popen(sleeper, start_new_session=True)
    stranger = subprocess.Popen(sleeper, start_new_session=True)
    live_node = subprocess.Popen(sleeper, start_new_session=True)
    dead_runner = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_ticks = start_ticks(dead_runner.pid)
    dead_runner.wait()
    try:
        dead = RunState.create("dead-run", directory=runs, runner_pid=dead_runner.pid, runner_ticks=dead_ticks)
        dead.add_process("node:n1", "node", "n1", victim.pid)
        dead.add_process("node:n2", "node", "n2", stranger.pid)
        dead.processes["node:n2"].ticks = (dead.processes["node:n2"].ticks or 0) + 1  # a recycled pid
        dead.save()
        live = RunState.create("live-run", directory=runs)  # this process is its runner
        live.add_process("node:n1", "node", "n1", live_node.pid)

        dry = clean(directory=runs, dry_run=True)
        assert dry.killed == [("dead-run", "n1", victim.pid)] and victim.poll() is None

        report = clean(directory=runs)
        assert report.live_runs == ["live-run"] and report.cleaned_runs == ["dead-run"]
        assert report.killed == [("dead-run", "n1", victim.pid)]
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert stranger.poll() is None and live_node.poll() is None
        assert not (runs / "dead-run.json").exists() and (runs / "live-run.json").exists()
        assert clean_main(["--dir", str(runs)]) == 0
    finally:
        for p in (victim, stranger, live_node):
            p.kill()
            p.wait()


def test_clean_command_line_reports_and_tolerates_an_empty_directory(tmp_path, capsys):
    assert clean_main(["--dir", str(tmp_path / "none")]) == 0
    assert "run state files: 0" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("{not json")
    assert clean_main(["--dir", str(tmp_path)]) == 1
    assert "unreadable" in capsys.readouterr().out


def test_clean_command_line_refuses_a_dir_that_is_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(SystemExit) as info:
        clean_main(["--dir", str(afile)])
    assert info.value.code == 2
    assert f"--dir: {afile} is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("[]", "not a run state file: expected a JSON object with a 'processes' object"),
        ('{"run_id": "r"}', "not a run state file: missing runner_pid"),
        ('{"run_id": "r", "runner_pid": 1, "processes": {"a": "b"}}', "processes.a: not a process record"),
        ('{"run_id": "r", "runner_pid": 1, "bogus": 2}', "not a run state file"),
    ],
)
def test_clean_names_what_is_wrong_with_a_state_file(tmp_path, capsys, content, message):
    (tmp_path / "r.json").write_text(content)
    assert clean_main(["--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'r.json'}: unreadable ({message}" in out and "dead runs cleaned: 0" in out


def test_an_exception_inside_the_with_block_stops_every_node_before_the_block_is_left(tmp_path):
    """Not at interpreter exit, where atexit would hide a leak: right after the block."""
    from pipeline.cluster.config import cluster_config
    from pipeline.cluster.manager import ClusterManager

    ping = [
        sys.executable,
        "-m",
        "pipeline.testing.pingnode",
        "--name",
        "{name}",
        "--port",
        "{port}",
        "--peers",
        "{peers}",
    ]
    manager = ClusterManager(report_root=tmp_path / "rep", runs_dir=tmp_path / "runs")
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="boom"):
        with manager.start(cluster_config(3, "mesh", command=ping)) as c:
            pids = [pid for pid in (n.pid for n in c.nodes) if pid is not None]
            assert len(pids) == 3 and all(process_alive(p) for p in pids)
            raise RuntimeError("boom")
    assert c.closed
    assert [p for p in pids if process_alive(p)] == []  # reaped, not merely signalled
    assert list((tmp_path / "runs").glob("*.json")) == []  # and the run's state file is gone
