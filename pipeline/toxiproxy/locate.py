"""Find the Toxiproxy a run should use, start one if needed, and clean up.

Order (first that applies wins):

1. ``TOXIPROXY_URL`` (or ``url=``): an already-running Toxiproxy, kind
   ``"external"``.  It must answer ``GET /version`` or we fail loudly rather
   than silently test against something else.  We never stop it.
2. ``toxiproxy-server`` on ``PATH``: the real binary, started on a free
   127.0.0.1 port for this run (kind ``"binary"``), stopped by ``close()``.
3. The embedded server (kind ``"embedded"``).  Default is a *child process*
   (``embedded="subprocess"``): proxied traffic then runs on its own core and
   GIL instead of competing with the tests; the child also exits if we die.
   ``embedded="thread"`` runs it in-process instead (cheaper to start, fine
   for API-only use).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping

from .client import ToxiproxyClient, ToxiproxyError, ToxiproxyUnavailable
from .embedded import EmbeddedToxiproxy, spawn_embedded

BINARY = "toxiproxy-server"
ENV_URL = "TOXIPROXY_URL"


class ToxiproxyHandle:
    """Where the API is (``url``), what it is (``kind``), and how to let it go."""

    def __init__(self, url: str, kind: str, closer=None, *, seed: int | None = None, pid: int | None = None):
        self.url = url.rstrip("/")
        self.kind = kind
        self.seed = seed
        self.pid = pid
        self._closer = closer
        if closer is not None:
            atexit.register(self.close)

    @property
    def host(self) -> str:
        return ToxiproxyClient(self.url).host

    @property
    def port(self) -> int:
        return ToxiproxyClient(self.url).port

    def client(self, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout=timeout)

    def close(self) -> None:
        closer, self._closer = self._closer, None
        if closer is not None:
            atexit.unregister(self.close)
            closer()

    def __enter__(self) -> ToxiproxyHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ToxiproxyHandle(url={self.url!r}, kind={self.kind!r})"


def _normalise(url: str) -> str:
    return (url if "://" in url else "http://" + url).rstrip("/")


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, deadline: float) -> bool:
    """Poll GET /version until it answers, the process dies, or time runs out."""
    client = ToxiproxyClient(url, timeout=1.0)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            client.version()
            return True
        except ToxiproxyError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def start_binary(
    binary: str,
    *,
    seed: int | None = None,
    timeout: float = 15.0,
    log_path: str | os.PathLike | None = None,
    attempts: int = 3,
) -> ToxiproxyHandle:
    """Start ``toxiproxy-server`` on a free port; retry if the port got taken meanwhile."""
    last = "no attempt made"
    for _ in range(attempts):
        port = _free_port()
        cmd = [binary, "-host", "127.0.0.1", "-port", str(port)]
        if seed is not None:
            cmd += ["-seed", str(seed)]
        log = open(log_path, "ab") if log_path else None  # noqa: SIM115
        out = subprocess.DEVNULL if log is None else log
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        finally:
            if log is not None:
                log.close()
        url = f"http://127.0.0.1:{port}"
        if _wait_ready(url, proc, time.monotonic() + timeout):
            return ToxiproxyHandle(url, "binary", lambda p=proc: _stop(p), seed=seed, pid=proc.pid)
        last = f"exit code {proc.poll()}" if proc.poll() is not None else f"no answer within {timeout}s"
        _stop(proc)
    raise ToxiproxyUnavailable(f"{binary} did not start: {last}")


def start_embedded(
    mode: str = "subprocess",
    *,
    seed: int | None = None,
    timeout: float = 15.0,
    log_path: str | os.PathLike | None = None,
) -> ToxiproxyHandle:
    if mode == "thread":
        tp = EmbeddedToxiproxy(seed=seed).start(timeout)
        return ToxiproxyHandle(tp.url, "embedded", tp.stop, seed=tp.seed)
    if mode != "subprocess":
        raise ValueError(f"embedded must be 'subprocess' or 'thread', not {mode!r}")
    child = spawn_embedded(seed=seed, timeout=timeout, log_path=log_path)
    return ToxiproxyHandle(child.url, "embedded", child.stop, seed=child.seed, pid=child.pid)


def locate(
    *,
    url: str | None = None,
    embedded: str = "subprocess",
    seed: int | None = None,
    startup_timeout: float = 15.0,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike | None = None,
) -> ToxiproxyHandle:
    """Return a handle on the Toxiproxy API for this run (see module docstring)."""
    env = os.environ if env is None else env
    url = url or env.get(ENV_URL)
    if url:
        url = _normalise(url)
        try:
            ToxiproxyClient(url, timeout=min(startup_timeout, 5.0)).version()
        except ToxiproxyError as exc:
            raise ToxiproxyUnavailable(
                f"{ENV_URL}={url} is set but GET /version there failed: {exc}. "
                f"Start that Toxiproxy or unset {ENV_URL} to use a local one."
            ) from exc
        return ToxiproxyHandle(url, "external")
    binary = shutil.which(BINARY, path=env.get("PATH"))
    if binary:
        return start_binary(binary, seed=seed, timeout=startup_timeout, log_path=log_path)
    return start_embedded(embedded, seed=seed, timeout=startup_timeout, log_path=log_path)


__all__ = ["ToxiproxyHandle", "locate", "start_binary", "start_embedded", "BINARY", "ENV_URL"]
