"""Fixtures of the load tests: a real HTTP server on 127.0.0.1 that answers
like a node (every POST creates, every GET answers, ``/telemetry`` counts CPU
seconds up), and one short real Locust run of a real locustfile against it,
shared by the tests that read Locust's files."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.load.locust import LocustOptions, LocustRun, locust_command, locust_env, run_locust

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class StubNode:
    url: str
    requests: list[tuple[str, str, object]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    telemetry_reads: int = 0


def _handler(node: StubNode) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            with node.lock:
                node.requests.append(("GET", path, None))
                if path == "/telemetry":
                    node.telemetry_reads += 1
                    reads = node.telemetry_reads
            if path == "/telemetry":
                self._answer(
                    200,
                    {
                        "node": "stub",
                        "counters": {"ops.health": reads * 10, "errors.x": 1},
                        "process": {
                            "cpu_seconds": reads * 0.5,
                            "rss_bytes": 50_000_000 + reads,
                            "gc": {"collections": [reads, 0, 0]},
                        },
                    },
                )
            elif path == "/health":
                self._answer(200, {"status": "ok", "mode": "normal", "role": "leader", "commit_index": 7})
            else:
                self._answer(200, {"mode": "normal", "status": "running"})

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            with node.lock:
                node.requests.append(("POST", path, body))
                n = len(node.requests)
            if any(path.startswith(p) for p in node.fail_paths):
                self._answer(500, {"error": "internal", "detail": "stub failure"})
            elif path.endswith("/votes"):
                self._answer(200, {"status": "open"})
            else:
                self._answer(201, {"id": f"id{n}", "status": "open"})

    return Handler


@pytest.fixture(scope="session")
def stub_node() -> Iterator[StubNode]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: None)  # type: ignore[arg-type]
    node = StubNode(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(node)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield node
    server.shutdown()
    server.server_close()


@dataclass
class RealRun:
    run: LocustRun
    directory: Path
    stub: StubNode


@pytest.fixture(scope="session")
def locust_run(stub_node: StubNode, tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """The coordination-burst locustfile, 4 users for 4 s, sped up through
    LOAD_RATES, with ``POST /pools`` answering 500 (a failure to count)."""
    directory = tmp_path_factory.mktemp("locust")
    stub_node.fail_paths.add("/pools")
    command = locust_command(
        ROOT / "locustfiles" / "multi_agent_coordination_burst.py",
        directory,
        users=4,
        spawn_rate=100,
        duration_s=4,
        host=stub_node.url,
        options=LocustOptions(stop_timeout_s=1),
        python=sys.executable,
    )
    env = locust_env(
        [stub_node.url], 1234, {"coordinate_agents": 4, "consensus_voting": 2, "resource_allocation": 1}, 1
    )
    run = run_locust(command, env, directory, hard_timeout_s=60, stop_grace_s=10, cwd=ROOT, tick_s=1)
    assert run.problem == "", run.output[-2000:]
    assert "Aggregated" in run.files["stats"].read_text()
    return RealRun(run, directory, stub_node)
