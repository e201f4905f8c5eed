"""Process plumbing shared by everything the toolkit starts (nodes, pressure helpers).

* ``child_setup``: the pre-exec step that asks Linux for ``PR_SET_PDEATHSIG``
  = SIGKILL (so the child dies with the runner, even by SIGKILL) and applies
  resource limits (``RLIMIT_AS``/``RLIMIT_DATA``, ``RLIMIT_NOFILE``, CPU
  affinity) so they bind the child and its children;
* ``signal_group``: signals go to a whole process group, so whatever a node
  spawns goes with it;
* ``tail_file``, ``proc_state``, ``wait_for``: small readers for logs and
  ``/proc``.

It sits below the providers and the fault helpers so both can use it without
importing each other.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cluster.config import Resources
from pipeline.cluster.provider import ProviderError

if TYPE_CHECKING:
    from pipeline.cluster.runstate import RunState

__all__ = [
    "child_setup",
    "check_resources",
    "signal_group",
    "tail_file",
    "proc_state",
    "wait_for",
    "Watchdog",
]

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def child_setup(resources: Resources | None, *, pdeathsig: bool) -> Callable[[], None]:
    """The pre-exec function for a node (or helper) process.

    Everything it needs is resolved before the fork; in the child it only makes
    system calls.  If the parent died between fork and prctl, the child exits
    at once, since the death signal would never come.
    """
    parent = os.getpid()
    prctl = _PRCTL if pdeathsig else None
    limits: list[tuple[int, int]] = []
    cpus = None
    if resources is not None:
        if resources.memory_mb is not None:
            kind = resource.RLIMIT_AS if resources.memory_limit == "as" else resource.RLIMIT_DATA
            limits.append((kind, resources.memory_mb * 1024 * 1024))
        if resources.open_files is not None:
            limits.append((resource.RLIMIT_NOFILE, resources.open_files))
        cpus = set(resources.cpus) if resources.cpus else None

    def setup() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != parent:
                os._exit(70)
        for kind, value in limits:
            resource.setrlimit(kind, (value, value))
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


def check_resources(name: str, res: Resources) -> None:
    """Refuse limits this machine cannot honour, naming the key (a failure
    inside the pre-exec function would only say "preexec_fn failed")."""
    if res.cpus:
        available = sorted(os.sched_getaffinity(0))
        missing = [c for c in res.cpus if c not in available]
        if missing:
            raise ProviderError(
                f"node {name}: resources.cpus {list(res.cpus)} names CPUs {missing} "
                f"this process may not use (allowed: {available})"
            )
    for key, kind, value in (
        (
            "memory_mb",
            resource.RLIMIT_AS if res.memory_limit == "as" else resource.RLIMIT_DATA,
            None if res.memory_mb is None else res.memory_mb * 1024 * 1024,
        ),
        ("open_files", resource.RLIMIT_NOFILE, res.open_files),
    ):
        if value is None:
            continue
        hard = resource.getrlimit(kind)[1]
        if hard != resource.RLIM_INFINITY and value > hard:
            raise ProviderError(f"node {name}: resources.{key} exceeds the hard limit ({hard})")


def signal_group(pid: int, sig: int) -> bool:
    """Signal the process group led by ``pid``; False if it is gone."""
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False


def tail_file(path: Path | None, lines: int = 40, max_bytes: int = 64 * 1024) -> str:
    """Last ``lines`` lines of a text file ("" if missing)."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split(" ", 1)[0]


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


class Watchdog:
    """The run's watchdog process (:mod:`pipeline.cluster.watchdog`): it holds
    the read end of a pipe whose write end only this process has, so it sees
    end of file however the runner dies, and then cleans what the run state
    file still lists (processes, proxies, containers).  Every provider that
    starts something starts one in ``open``."""

    def __init__(self, state: RunState, run_dir: Path) -> None:
        read_fd, write_fd = os.pipe()  # both close-on-exec; the read end becomes the child's stdin
        log = open(run_dir / "watchdog.log", "ab")
        try:
            self.proc: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cluster.watchdog", str(state.path)],
                stdin=read_fd,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(read_fd)
            log.close()
        self._fd: int | None = write_fd
        state.add_process("watchdog", "watchdog", "watchdog", self.proc.pid)

    def release(self) -> None:
        """Let it go (after the run's state file is removed, so it finds nothing to do)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.proc is not None:
            try:
                self.proc.wait(3.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
