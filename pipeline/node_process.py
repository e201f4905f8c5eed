"""Run one service node as a child process on a free local port.

The service and multi-node stages test real processes over real sockets.  This
module owns the boring, easy-to-get-wrong part of that: pick a free port on
127.0.0.1, start the command with its output in a log file, wait until an HTTP
health path answers 200 (with a deadline, noticing at once if the process died),
and make sure the process is gone afterwards, whatever happened:

* ``stop()`` sends SIGTERM, waits a grace period, then SIGKILL;
* the child runs in its own process group, and the whole group is signalled, so
  helpers the node spawned go too, and a Ctrl-C in the terminal reaches only the
  test runner, which then tears down in order;
* on Linux the child asks the kernel for ``PR_SET_PDEATHSIG`` = SIGKILL, so it
  dies even when the test runner itself is SIGKILLed and no Python code runs;
* an ``atexit`` hook stops whatever is still running at interpreter exit.

It is generic: the command is a template whose arguments may contain ``{port}``,
``{host}`` and ``{name}``; nothing here knows what the node serves.  A cluster
manager can start N of these with different names.

Note on PDEATHSIG: the kernel fires it when the *thread* that forked the child
exits, so start nodes from a thread that lives as long as they should (the main
thread, in pytest).
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Mapping, Sequence

from pipeline.eventually import EventuallyTimeout, eventually

__all__ = ["NodeProcess", "NodeStartError", "free_port"]

_PR_SET_PDEATHSIG = 1
_LIVE: "weakref.WeakSet[NodeProcess]" = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class NodeStartError(RuntimeError):
    """The node exited or never became healthy; the message carries the exit
    code (if any) and the last lines of its log."""

    def __init__(self, message: str, *, returncode: int | None, log_tail: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.log_tail = log_tail


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``.

    Another process can still take it before the node binds it; ``start()``
    notices "address already in use" and retries on a fresh port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent(parent_pid: int) -> None:
    """preexec_fn: ask Linux to SIGKILL this child when its parent goes away.

    If the parent already died between fork and prctl, exit at once: the
    request would never fire for a parent that is already gone.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        nodes = list(_LIVE)
    for node in nodes:
        node.stop()


atexit.register(_stop_all_at_exit)


class NodeProcess:
    """One node command run as a subprocess; see the module docstring.

    Typical use::

        with NodeProcess([sys.executable, "-m", "svc", "--port", "{port}"],
                         name="n1", log_dir="reports/logs") as node:
            requests.get(node.url + "/health")
    """

    def __init__(
        self,
        command: Sequence[str] | str,
        *,
        name: str = "node",
        log_dir: str | os.PathLike[str] = "reports/logs",
        host: str = "127.0.0.1",
        port: int | None = None,
        health_path: str = "/health",
        ready_timeout: float = 30.0,
        stop_grace: float = 5.0,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        port_retries: int = 3,
    ) -> None:
        self.template = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.template:
            raise ValueError("empty node command")
        self.name = name
        self.host = host
        self.port = port
        self._fixed_port = port is not None
        self.health_path = health_path if health_path.startswith("/") else "/" + health_path
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.port_retries = port_retries
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.command: list[str] = []

    # -- addresses and state -------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123`` (no trailing slash)."""
        if self.port is None:
            raise RuntimeError(f"node {self.name} has no port yet: call start()")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the node's log ('' if there is none)."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        text = data[-64_000:].decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> "NodeProcess":
        """Start the node and wait until its health path answers 200.

        Raises :class:`NodeStartError` if the process exits first or is not
        healthy within ``ready_timeout``; the process is stopped in both cases.
        """
        if self.is_running():
            raise RuntimeError(f"node {self.name} is already running (pid {self.pid})")
        attempts = 1 if self._fixed_port else max(1, self.port_retries)
        for attempt in range(1, attempts + 1):
            if not self._fixed_port:
                self.port = free_port(self.host)
            self._spawn()
            try:
                self._wait_ready()
                return self
            except NodeStartError as error:
                self.stop()
                if attempt < attempts and self._lost_port_race(error):
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        values = {"port": self.port, "host": self.host, "name": self.name}
        self.command = [part.format(**values) for part in self.template]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"=== {stamp} start {self.name} on {self.host}:{self.port}: "
                      f"{shlex.join(self.command)}\n".encode())
            log.flush()
            parent = os.getpid()
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=(lambda: _die_with_parent(parent)),
            )
        with _LIVE_LOCK:
            _LIVE.add(self)

    def _health_ok(self) -> bool:
        """One readiness probe.  Raises NodeStartError (not retried) if the
        process is gone; AssertionError (retried) if it does not answer yet."""
        assert self.process is not None
        code = self.process.poll()
        if code is not None:
            raise NodeStartError(
                f"node {self.name} exited with code {code} before it was ready "
                f"(command: {shlex.join(self.command)}); last log lines of "
                f"{self.log_path}:\n{self.log_tail()}",
                returncode=code, log_tail=self.log_tail())
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=2) as answer:
                assert answer.status == 200, f"{self.health_path} answered {answer.status}"
                return True
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{self.health_path} answered {error.code}") from None
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as error:
            raise AssertionError(f"{self.health_path} not reachable: {error}") from None

    def _wait_ready(self) -> None:
        try:
            eventually(self._health_ok, timeout=self.ready_timeout, interval=0.05,
                       description=f"node {self.name} health at {self.url}{self.health_path}")
        except EventuallyTimeout as timeout:
            tail = self.log_tail()
            raise NodeStartError(
                f"node {self.name} not ready: {timeout}; last log lines of "
                f"{self.log_path}:\n{tail}", returncode=self.returncode, log_tail=tail) from None

    def _lost_port_race(self, error: NodeStartError) -> bool:
        text = error.log_tail.lower()
        return ("address already in use" in text or f"errno {errno.EADDRINUSE}" in text)

    def stop(self, grace: float | None = None) -> int | None:
        """Stop the node: SIGTERM to its process group, SIGKILL after ``grace``
        seconds.  Idempotent; returns the exit code (negative = signal)."""
        process = self.process
        if process is None:
            return None
        grace = self.stop_grace if grace is None else grace
        if process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait()
        # the leader is gone; make sure nothing it spawned lingers in the group
        self._signal_group(signal.SIGKILL)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL at once, no SIGTERM first (a crash, as fault injection wants
        it).  Idempotent; returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            self._signal_group(signal.SIGKILL)
            process.wait()
        return self.stop()

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> "NodeProcess":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"exited {self.returncode}"
        return f"<NodeProcess {self.name} {self.host}:{self.port} pid={self.pid} {state}>"
