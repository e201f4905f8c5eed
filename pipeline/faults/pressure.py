"""CPU and memory pressure: a helper process that burns CPU or holds memory
for a bounded time, and is always reaped.

Why a separate process: pressure must compete with the nodes the way a noisy
neighbour would (the scheduler and the kernel's memory accounting see another
process), and it must be killable from outside when the test is over or the
runner dies.  The bounds are hard, not advisory:

* it ends by itself after ``seconds`` (at most 600);
* ``RLIMIT_CPU`` caps its CPU time at ``seconds * workers + 2`` s, so even a
  helper whose clock stalls is killed by the kernel;
* it dies with its parent (``PR_SET_PDEATHSIG``), runs in its own process
  group (its CPU workers included) and :meth:`Pressure.stop` kills the group;
* memory is capped at half of the machine's available memory, and the helper
  runs under ``RLIMIT_AS`` a little above what it holds.

``start`` returns only once the helper reports it is applying the pressure
(workers forked, memory allocated and touched), so callers can rely on it.

Command line (what the parent runs)::

    python -m pipeline.faults.pressure cpu --seconds 5 --workers 2
    python -m pipeline.faults.pressure memory --seconds 5 --mb 256
"""

from __future__ import annotations

import argparse
import atexit
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pipeline.cluster.process import child_setup

if TYPE_CHECKING:
    from pipeline.cluster.runstate import RunState

__all__ = ["Pressure", "PressureError", "cpu_pressure", "memory_pressure", "MAX_SECONDS"]

MAX_SECONDS = 600.0
_LIVE: weakref.WeakSet[Pressure] = weakref.WeakSet()


class PressureError(ValueError):
    """Bad bounds (naming the key and the allowed range) or a helper that did
    not start."""


def _available_mb() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 1024


class Pressure:
    """A running pressure helper.  Use as a context manager or call ``stop``."""

    def __init__(
        self,
        kind: str,
        argv: list[str],
        seconds: float,
        *,
        cpus: Iterable[int] | None = None,
        state: RunState | None = None,
        label: str = "",
    ) -> None:
        self.kind = kind
        self.seconds = seconds
        self.label = label or kind
        self.state = state
        self.started_at = time.time()
        cpu_set = set(cpus) if cpus else None
        base = child_setup(None, pdeathsig=threading.current_thread() is threading.main_thread())

        def setup() -> None:
            base()
            if cpu_set:
                os.sched_setaffinity(0, cpu_set)

        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=setup,
        )
        self._key = f"pressure:{self.proc.pid}"
        if state is not None:
            state.add_process(self._key, "pressure", self.label, self.proc.pid)
        _LIVE.add(self)
        stdout, stderr = self.proc.stdout, self.proc.stderr
        if stdout is None or stderr is None:  # cannot happen: both are PIPE above
            self.stop()
            raise PressureError(f"{kind} pressure helper started without stdout/stderr pipes")
        line = stdout.readline()  # the helper prints "ready" once pressure is on
        if line.strip() != b"ready":
            err = stderr.read(2000) if self.proc.poll() is not None else b""
            self.stop()
            raise PressureError(f"{kind} pressure helper did not start: {line!r} {err.decode(errors='replace')}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> int:
        """Kill the helper and its workers; idempotent; returns the exit status."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        code = self.proc.wait()
        try:  # the CPU workers, if any outlived the leader
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        if self.state is not None:
            self.state.drop_process(self._key)
            self.state = None
        _LIVE.discard(self)
        return code

    def __enter__(self) -> Pressure:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Pressure({self.label}, pid={self.proc.pid}, seconds={self.seconds:g}, alive={self.alive})"


def _check_seconds(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
        raise PressureError(f"seconds: must be a number in (0, {MAX_SECONDS:g}], got {seconds!r}")
    return float(seconds)


def cpu_pressure(
    seconds: float, workers: int = 1, *, cpus: Iterable[int] | None = None, state: RunState | None = None
) -> Pressure:
    """Burn ``workers`` CPUs for ``seconds`` (optionally pinned to ``cpus``)."""
    seconds = _check_seconds(seconds)
    limit = max(1, (os.cpu_count() or 1) * 2)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= limit:
        raise PressureError(f"workers: must be an integer in [1, {limit}], got {workers!r}")
    argv = [
        sys.executable,
        "-m",
        "pipeline.faults.pressure",
        "cpu",
        "--seconds",
        repr(seconds),
        "--workers",
        str(workers),
    ]
    return Pressure("cpu", argv, seconds, cpus=cpus, state=state, label=f"cpu x{workers} {seconds:g}s")


def memory_pressure(mb: int, seconds: float, *, state: RunState | None = None) -> Pressure:
    """Hold ``mb`` MiB of touched (resident) memory for ``seconds``."""
    seconds = _check_seconds(seconds)
    cap = max(1, _available_mb() // 2)
    if isinstance(mb, bool) or not isinstance(mb, int) or not 1 <= mb <= cap:
        raise PressureError(f"mb: must be an integer in [1, {cap}] (half the available memory), got {mb!r}")
    argv = [sys.executable, "-m", "pipeline.faults.pressure", "memory", "--seconds", repr(seconds), "--mb", str(mb)]
    return Pressure("memory", argv, seconds, state=state, label=f"memory {mb}MiB {seconds:g}s")


@atexit.register
def _stop_all() -> None:
    for pressure in list(_LIVE):
        pressure.stop()


# ------------------------------------------------------------------- helper side


def _burn(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with(parent: int) -> None:
    """A forked CPU worker dies with the helper (PDEATHSIG is not inherited)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except OSError:
        return
    if os.getppid() != parent:
        os._exit(0)


def _helper(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.faults.pressure")
    parser.add_argument("kind", choices=("cpu", "memory"))
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--mb", type=int, default=0)
    args = parser.parse_args(argv)
    seconds = min(max(args.seconds, 0.0), MAX_SECONDS)
    deadline = time.monotonic() + seconds
    cpu_cap = int(seconds * max(1, args.workers)) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_cap, cpu_cap + 1))
    if args.kind == "memory":
        size = args.mb * 1024 * 1024
        cap = _vm_size() + size + 64 * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        block = bytearray(size)
        block[::4096] = b"\x01" * len(range(0, size, 4096))  # touch every page: resident, not just reserved
        print("ready", flush=True)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))
        del block
        return 0
    children = []
    for _ in range(max(1, args.workers) - 1):
        pid = os.fork()
        if pid == 0:
            try:
                _die_with(os.getppid())
                _burn(deadline)
            finally:
                os._exit(0)
        children.append(pid)
    print("ready", flush=True)
    _burn(deadline)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(_helper(sys.argv[1:]))
