"""Run the embedded Toxiproxy: in this process (thread or current loop) or as a child.

Why three ways: tests that only poke the API can share their own loop
(``start_async``); tools that want a Toxiproxy without caring how use the
thread (``start``); a cluster whose traffic crosses the proxy should use the
child process (``spawn_embedded``) so proxying gets its own core and GIL instead
of competing with the test process for one.
"""

from __future__ import annotations

import asyncio
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

from .api import make_app
from .server import ToxiproxyServer

READY_RE = re.compile(r"API on (http://\S+) seed=(\d+)")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when importable (several times faster at proxying), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class EmbeddedToxiproxy:
    """The HTTP API plus proxies, on one event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int | None = None) -> None:
        self.host = host
        self.port = port
        self.server = ToxiproxyServer(seed)
        self.seed = self.server.seed
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------ in a running loop
    async def start_async(self) -> EmbeddedToxiproxy:
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(make_app(self.server), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop_async(self) -> None:
        await self.server.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ own thread
    def start(self, timeout: float = 10.0) -> EmbeddedToxiproxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="toxiproxy-embedded", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("embedded toxiproxy did not start in time")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(self.stop_async(), loop)
        try:
            fut.result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._thread = None

    def __enter__(self) -> EmbeddedToxiproxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedProcess:
    """A child ``python -m pipeline.toxiproxy``; exits when stopped or when we die."""

    def __init__(self, proc: subprocess.Popen, url: str, seed: int) -> None:
        self.proc = proc
        self.url = url
        self.seed = seed
        self.pid = proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdin is not None:
            self.proc.stdin.close()

    def __enter__(self) -> EmbeddedProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spawn_embedded(
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int | None = None,
    *,
    timeout: float = 15.0,
    log_path: str | os.PathLike | None = None,
    command: list[str] | None = None,
) -> EmbeddedProcess:
    """Start the server as a child and wait for its ready line (port chosen by it).

    The child watches its stdin: when this process dies the pipe closes and the
    child exits, so a crashed test run leaves no proxy behind.
    """
    cmd = command or [sys.executable, "-m", "pipeline.toxiproxy"]
    cmd = [*cmd, "--host", host, "--port", str(port), "--exit-on-stdin-eof"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115
    err = subprocess.DEVNULL if log is None else log
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
    finally:
        if log is not None:
            log.close()
    stdout = proc.stdout
    if stdout is None:  # cannot happen with stdout=PIPE
        _kill(proc)
        raise RuntimeError("embedded toxiproxy started without a stdout pipe")
    deadline = time.monotonic() + timeout
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                _kill(proc)
                raise TimeoutError(f"embedded toxiproxy gave no ready line within {timeout}s")
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                _kill(proc)
                raise RuntimeError(f"embedded toxiproxy exited early (code {proc.poll()})")
            line += chunk
    stdout.close()
    m = READY_RE.search(line.decode(errors="replace"))
    if not m:
        _kill(proc)
        raise RuntimeError(f"unexpected ready line from embedded toxiproxy: {line!r}")
    return EmbeddedProcess(proc, m.group(1), int(m.group(2)))


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
