"""The entry point as a real process: listening line, health, clean exit on signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest


def _start(*extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mabeam", "--node-id", "n9", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # blocks until the node prints it (or exits)
    assert line.startswith("mabeam n9 listening on http://127.0.0.1:"), (line, proc.stderr.read())
    return proc, line.split()[-1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_exits_cleanly_on_signal(sig):
    proc, url = _start("--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2", "--seed", "3", "--bootstrap")
    try:
        with urllib.request.urlopen(url + "/health", timeout=10) as resp:
            health = json.loads(resp.read())
        assert resp.status == 200 and health["node"] == "n9" and health["status"] == "ok"
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_exits_promptly_with_an_open_long_poll():
    proc, url = _start()
    try:
        import threading

        errors: list[BaseException] = []

        def poll() -> None:
            try:
                urllib.request.urlopen(url + "/events?pattern=never.*&wait=30", timeout=40).read()
            except BaseException as exc:  # noqa: BLE001 - the server may cut the connection
                errors.append(exc)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until the poll is parked on the node
            with urllib.request.urlopen(url + "/telemetry", timeout=10) as resp:
                if json.loads(resp.read())["gauges"]["event_readers_waiting"] >= 1:
                    break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0  # well before the 30 s poll would end
        thread.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_rejects_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "mabeam", "--port", "1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--node-id" in result.stderr


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mabeam", *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "70000"], "--port: 70000 is out of range; allowed: 0 (pick a free one) to 65535"),
        (["--port", "-5"], "--port: -5 is out of range"),
        (["--port", "0", "--peers", "n2=127.0.0.1:99999"], "--peers: 'n2=127.0.0.1:99999': port 99999 is out of range"),
        (["--port", "0", "--node-id", " "], "--node-id: must not be empty"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, message):
    result = _run("--node-id", "n1", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_data_dir_that_is_a_file_is_a_usage_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    for data_dir, message in (
        (afile, f"--data-dir: {afile} exists and is not a directory"),
        (afile / "sub", f"--data-dir: cannot create {afile / 'sub'}"),
    ):
        result = _run("--node-id", "n1", "--port", "0", "--peers", "n2=127.0.0.1:1", "--data-dir", str(data_dir))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_one_line_naming_the_address():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("--node-id", "n1", "--port", str(port))
    assert result.returncode == 1
    assert f"mabeam: error: cannot listen on 127.0.0.1:{port}:" in result.stderr
    assert "address already in use" in result.stderr  # what ClusterManager looks for to move the node
    assert "Traceback" not in result.stderr


def test_a_loaded_node_with_thousands_of_open_auctions_stops_promptly_on_sigterm():
    """Thousands of open auctions (created through the API) keep the deadline
    driver on a timed wait; SIGTERM arrives while writes still flow. The node
    must exit 0 well before a generous deadline (it used to ignore SIGTERM)."""
    import asyncio
    import threading

    import aiohttp

    auctions = 3000
    proc, url = _start()
    try:

        async def create(count: int, concurrency: int = 32) -> int:
            made = 0
            spec = {"type": "english", "item": "lot", "starting_price": 1, "duration_s": 3600}

            async def worker(session: aiohttp.ClientSession, share: int) -> None:
                nonlocal made
                for _ in range(share):
                    async with session.post(url + "/auctions", json=spec) as resp:
                        await resp.read()
                        made += resp.status == 201

            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
                await asyncio.gather(*(worker(session, count // concurrency) for _ in range(concurrency)))
            return made

        made = asyncio.run(create(auctions))
        assert made == auctions // 32 * 32
        with urllib.request.urlopen(url + "/telemetry", timeout=10) as resp:
            assert json.loads(resp.read())["gauges"]["auctions_open"] >= made

        stop_writing = threading.Event()

        def keep_writing() -> None:  # bounded: until the node is gone, or 200 writes
            for _ in range(200):
                if stop_writing.is_set():
                    return
                try:
                    body = json.dumps({"type": "english", "item": "late", "starting_price": 1}).encode()
                    request = urllib.request.Request(url + "/auctions", data=body, method="POST")
                    urllib.request.urlopen(request, timeout=5).read()
                except OSError:
                    return

        writers = [threading.Thread(target=keep_writing, daemon=True) for _ in range(4)]
        for writer in writers:
            writer.start()
        with urllib.request.urlopen(url + "/health", timeout=10):
            pass  # the writers are under way
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stop_writing.set()
        for writer in writers:
            writer.join(timeout=10)
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _run_env(*args: str, secret: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MABEAM_CLUSTER_SECRET"}
    if secret is not None:
        env["MABEAM_CLUSTER_SECRET"] = secret
    return subprocess.run([sys.executable, "-m", "mabeam", *args], capture_output=True, text=True, timeout=30, env=env)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mabeam: error: "), result.stderr
    return lines[0]


def test_a_member_without_its_data_refuses_to_start_unless_told_to_bootstrap_or_join(tmp_path):
    """It would have forgotten its vote: restarted as an initial member, it could
    vote twice in one term. Without data it needs --bootstrap (a new cluster) or --join."""
    peers = ("--node-id", "n1", "--port", "0", "--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2")
    for extra in (("--data-dir", str(tmp_path / "empty")), ()):
        line = _one_line_error(_run_env(*peers, *extra, secret="x" * 32))
        assert "--bootstrap" in line and "--join" in line, line
    result = _run_env(*peers, "--join", "--bootstrap", secret="x" * 32)
    assert result.returncode == 2 and "--join and --bootstrap exclude each other" in result.stderr


def test_a_member_with_its_data_starts_without_a_flag(tmp_path):
    data = tmp_path / "n9"
    data.mkdir()
    (data / "hard_state.json").write_text('{"term": 3, "voted_for": "n2"}')
    proc, url = _start("--peers", "n2=127.0.0.1:1,n3=127.0.0.1:2", "--data-dir", str(data))
    try:
        with urllib.request.urlopen(url + "/health", timeout=10) as resp:
            assert json.loads(resp.read())["term"] >= 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


@pytest.mark.parametrize("secret", [None, "mabeam-development-secret"])
def test_a_node_reachable_from_other_machines_refuses_the_public_development_secret(secret):
    # 192.0.2.1 (TEST-NET-1) is not loopback; the node must refuse before it even tries to bind it
    line = _one_line_error(
        _run_env(
            "--node-id", "n1", "--port", "0", "--host", "192.0.2.1", "--peers", "n2=127.0.0.1:1", "--bootstrap",
            secret=secret,
        )
    )  # fmt: skip
    assert "--host 192.0.2.1" in line and "--cluster-secret" in line and "MABEAM_CLUSTER_SECRET" in line, line


def test_the_development_secret_stays_allowed_on_loopback():
    proc, url = _start("--peers", "n2=127.0.0.1:1", "--bootstrap")
    try:
        with urllib.request.urlopen(url + "/health", timeout=10) as resp:
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
