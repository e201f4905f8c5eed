"""Tests of ``pipeline.node_process`` with throwaway HTTP servers, not mabeam.

Each test starts real processes on real ports and checks the promises the stages
rely on: readiness means the health path answers, start failures say why, and
nothing outlives its test (stop, SIGKILL escalation, process group, parent death).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import psutil
import pytest

import pipeline.node_process as node_process
from pipeline.eventually import eventually
from pipeline.node_process import NodeProcess, NodeStartError, free_port

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

pytestmark = pytest.mark.timeout(60)


def http_server(directory: Path) -> list[str]:
    return [PY, "-m", "http.server", "{port}", "--bind", "{host}", "--directory", str(directory)]


def script(code: str) -> list[str]:
    """A ``python -c`` command; the code sees ``sys.argv[1:]`` = name, port."""
    return [PY, "-c", textwrap.dedent(code), "{name}", "{port}"]


# A server that prints its arguments, then serves 200 on every path.
SERVE = """
    import sys, http.server
    print("hello", sys.argv[1], "port", sys.argv[2], flush=True)
    {before}
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), H).serve_forever()
"""


def serve(before: str = "") -> list[str]:
    return script(SERVE.replace("{before}", before))


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for init counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.status


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_start_waits_for_health_then_stop_frees_everything(tmp_path):
    node = NodeProcess(http_server(tmp_path), name="web", log_dir=tmp_path / "logs",
                       health_path="/")
    node.start()
    try:
        assert node.is_running()
        assert node.url == f"http://127.0.0.1:{node.port}"
        assert get(node.url + "/") == 200
        pid = node.pid
    finally:
        code = node.stop()
    assert code is not None and not node.is_running()
    assert gone(pid)
    assert refuses(node.port)
    header = node.log_path.read_text().splitlines()[0]
    assert header.startswith("=== ") and "start web on 127.0.0.1:" in header
    assert node.stop() == code, "stop() must be idempotent"


def test_placeholders_are_filled_and_output_goes_to_the_log(tmp_path):
    with NodeProcess(serve(), name="alpha", log_dir=tmp_path) as node:
        assert node.command[-2:] == ["alpha", str(node.port)]
        eventually(lambda: f"hello alpha port {node.port}" in node.log_tail(),
                   timeout=10, description="greeting in the log")
    assert node.log_path == tmp_path / "alpha.log"


def test_exit_before_ready_names_exit_code_and_log_tail(tmp_path):
    node = NodeProcess(script("import sys; print('boom: bad config', flush=True); sys.exit(3)"),
                       name="broken", log_dir=tmp_path, ready_timeout=20)
    with pytest.raises(NodeStartError) as info:
        node.start()
    message = str(info.value)
    assert "exited with code 3" in message
    assert "boom: bad config" in message
    assert info.value.returncode == 3
    assert not node.is_running()


def test_not_ready_in_time_fails_and_leaves_no_process(tmp_path):
    node = NodeProcess(script("import time; print('thinking', flush=True); time.sleep(600)"),
                       name="slow", log_dir=tmp_path, ready_timeout=1.0, stop_grace=2)
    with pytest.raises(NodeStartError) as info:
        node.start()
    assert "not ready" in str(info.value)
    assert "/health" in str(info.value)
    assert "thinking" in info.value.log_tail
    assert node.returncode is not None
    assert gone(node.pid)


def test_health_path_must_answer_200(tmp_path):
    """An HTTP server that answers 404 on the health path is not ready."""
    node = NodeProcess(http_server(tmp_path), name="nohealth", log_dir=tmp_path / "logs",
                       health_path="/does-not-exist", ready_timeout=1.0)
    with pytest.raises(NodeStartError, match="answered 404"):
        node.start()
    assert not node.is_running()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path):
    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    node = NodeProcess(serve(ignore), name="stubborn", log_dir=tmp_path, health_path="/x",
                       stop_grace=0.5)
    node.start()
    assert node.stop() == -signal.SIGKILL
    assert gone(node.pid)


def test_kill_is_an_immediate_sigkill(tmp_path):
    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"
    node = NodeProcess(serve(ignore), name="victim", log_dir=tmp_path, stop_grace=30)
    node.start()
    assert node.kill() == -signal.SIGKILL
    assert not node.is_running()


def test_stop_takes_the_nodes_own_children_along(tmp_path):
    spawn = ("import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', "
             "'import time; time.sleep(600)']); print('child', c.pid, flush=True)")
    node = NodeProcess(serve(spawn), name="parent", log_dir=tmp_path)
    with node:
        line = eventually(lambda: [l for l in node.log_tail().splitlines()
                                   if l.startswith("child ")], timeout=10)[0]
        grandchild = int(line.split()[1])
        assert not gone(grandchild)
    eventually(lambda: gone(grandchild), timeout=10, description="grandchild gone")


def test_node_dies_when_its_parent_is_sigkilled(tmp_path):
    """PR_SET_PDEATHSIG: no Python teardown runs in a SIGKILLed runner, yet the
    node must not outlive it."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    runner = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pipeline.node_process import NodeProcess
        node = NodeProcess({http_server(tmp_path)!r}, name="orphan",
                           log_dir={str(tmp_path / 'logs')!r}, health_path="/")
        node.start()
        print(node.pid, flush=True)
        time.sleep(600)  # keeps the parent alive until the test kills it
    """)
    parent = subprocess.Popen([PY, "-c", runner], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"runner did not start the node: {line!r}"
        node_pid = int(line)
        assert not gone(node_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        eventually(lambda: gone(node_pid), timeout=10, description="orphaned node gone")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def test_context_manager_stops_on_exception(tmp_path):
    node = NodeProcess(http_server(tmp_path), name="ctx", log_dir=tmp_path / "l", health_path="/")
    with pytest.raises(RuntimeError, match="test body failed"):
        with node:
            pid = node.pid
            raise RuntimeError("test body failed")
    assert gone(pid)


def test_lost_port_race_is_retried_on_a_fresh_port(tmp_path, monkeypatch):
    """If another process grabs the port between the pick and the bind, start
    tries again with a new port instead of failing the run."""
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real = node_process.free_port
        monkeypatch.setattr(node_process, "free_port", lambda host: next(ports, None) or real(host))
        with NodeProcess(serve(), name="retry", log_dir=tmp_path, health_path="/") as node:
            assert node.port != taken
            assert get(node.url + "/") == 200
        assert "Address already in use" in node.log_path.read_text()


def test_fixed_port_in_use_fails_without_retry(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        node = NodeProcess(serve(), name="fixed", log_dir=tmp_path, port=taken)
        with pytest.raises(NodeStartError, match="Address already in use"):
            node.start()
        assert node.port == taken


def test_two_nodes_get_distinct_ports(tmp_path):
    with NodeProcess(serve(), name="a", log_dir=tmp_path) as a, \
            NodeProcess(serve(), name="b", log_dir=tmp_path) as b:
        assert a.port != b.port
        assert get(a.url + "/health") == get(b.url + "/health") == 200
        assert a.log_path != b.log_path


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_string_commands_are_split_and_empty_ones_refused(tmp_path):
    node = NodeProcess(f"{PY} -m http.server {{port}}", name="s", log_dir=tmp_path)
    assert node.template == [PY, "-m", "http.server", "{port}"]
    with pytest.raises(ValueError):
        NodeProcess([], log_dir=tmp_path)
    with pytest.raises(RuntimeError, match="call start"):
        _ = node.url


def test_start_twice_is_refused(tmp_path):
    with NodeProcess(serve(), name="once", log_dir=tmp_path) as node:
        with pytest.raises(RuntimeError, match="already running"):
            node.start()


def test_environment_reaches_the_node(tmp_path):
    code = "import os; print('flavour', os.environ['FLAVOUR'], flush=True)"
    env = dict(os.environ, FLAVOUR="mint")
    with NodeProcess(serve(code), name="env", log_dir=tmp_path, env=env) as node:
        eventually(lambda: "flavour mint" in node.log_tail(), timeout=10)
