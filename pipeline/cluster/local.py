"""The default provider: each node is a subprocess on 127.0.0.1.

Why it is safe to leave running tests unattended:

* every node gets its own session and process group (``start_new_session``),
  and every signal goes to the whole group, so whatever a node spawns goes
  with it, and a Ctrl-C in the terminal reaches only the runner, which then
  tears down in order;
* between fork and exec the child asks Linux for ``PR_SET_PDEATHSIG`` =
  SIGKILL (via ``prctl`` through ctypes), so it dies when the runner dies, even
  by SIGKILL.  The kernel fires it when the *forking thread* exits, so it is
  only requested when nodes are started from the main thread; the run's
  watchdog (:mod:`pipeline.cluster.watchdog`) covers the other cases and the
  node's own children;
* resource limits from the node spec are applied in the same pre-exec step:
  ``setrlimit(RLIMIT_AS or RLIMIT_DATA)`` for memory, ``RLIMIT_NOFILE`` for open
  files, ``sched_setaffinity`` for CPUs, so they bind the node and its children;
* each node's stdout and stderr go to ``<run dir>/<node>.log``; a restart
  appends to the same file after a marker line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import BinaryIO

from pipeline.cluster.config import NodeSpec
from pipeline.cluster.errors import NodeLaunchError
from pipeline.cluster.process import (
    Watchdog,
    check_resources,
    child_setup,
    proc_state,
    signal_group,
    tail_file,
    wait_for,
)
from pipeline.cluster.provider import Address, NodeLaunch, Provider, ProviderError, RunContext, free_port, merged_env
from pipeline.cluster.runstate import start_ticks

__all__ = ["LocalProvider"]


class LocalProvider(Provider):
    """Nodes as local subprocesses (see the module docstring)."""

    kind = "local"

    def __init__(self, host: str = "127.0.0.1", *, pdeathsig: bool = True, watchdog: bool = True) -> None:
        self.host = host
        self.pdeathsig = pdeathsig
        self.use_watchdog = watchdog
        self._addresses: dict[str, Address] = {}
        self._launches: dict[str, NodeLaunch] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, BinaryIO] = {}
        self._run: RunContext | None = None
        self._watchdog: Watchdog | None = None
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- lifecycle

    def open(self, run: RunContext) -> None:
        self._run = run
        if self.use_watchdog and run.state is not None and self._watchdog is None:
            self._watchdog = Watchdog(run.state, run.run_dir)

    def allocate(self, name: str, spec: NodeSpec) -> Address:
        address = Address(self.host, free_port(self.host))
        self._addresses[name] = address
        return address

    def reassign(self, name: str) -> Address:
        """Move a node that lost its port to another process to a fresh port."""
        address = Address(self.host, free_port(self.host))
        self._addresses[name] = address
        if name in self._launches:
            self._launches[name].address = address
        return address

    def start(self, launch: NodeLaunch) -> None:
        check_resources(launch.name, launch.spec.resources)
        argv = launch.argv()
        launch.prepare_files()
        with self._lock:
            self._launches[launch.name] = launch
            old = self._procs.get(launch.name)
            if old is not None and old.poll() is None:
                raise ProviderError(f"node {launch.name} is already running (pid {old.pid})")
            log = open(launch.log_path, "ab", buffering=0)
            log.write(
                f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start {launch.name} on {launch.address}: "
                f"{' '.join(argv)}\n".encode()
            )
            pdeathsig = self.pdeathsig and threading.current_thread() is threading.main_thread()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=merged_env(launch.environment()),
                    cwd=launch.spec.cwd,
                    start_new_session=True,
                    close_fds=True,
                    preexec_fn=child_setup(launch.spec.resources, pdeathsig=pdeathsig),
                )
            except OSError as exc:
                log.write(f"=== could not start: {exc}\n".encode())
                log.close()
                code = 127 if isinstance(exc, FileNotFoundError) else 126  # as a shell reports it
                cwd = launch.spec.cwd
                what = f"node.cwd {cwd!r} is not a directory" if cwd and not os.path.isdir(cwd) else str(exc)
                raise NodeLaunchError(
                    launch.name, f"cannot run {argv[0]!r}: {what}", code, tail_file(launch.log_path), launch.log_path
                ) from exc
            old_log = self._logs.pop(launch.name, None)
            if old_log is not None:
                old_log.close()
            self._procs[launch.name] = proc
            self._logs[launch.name] = log
        if self._run is not None and self._run.state is not None:
            self._run.state.add_process(f"node:{launch.name}", "node", launch.name, proc.pid)

    def _proc(self, name: str) -> subprocess.Popen:
        try:
            return self._procs[name]
        except KeyError:
            raise ProviderError(f"node {name!r} was never started; nodes: {', '.join(self._procs)}") from None

    def exit_code(self, name: str) -> int | None:
        return self._proc(name).poll()

    def pid(self, name: str) -> int | None:
        proc = self._procs.get(name)
        return None if proc is None else proc.pid

    def _forget(self, name: str) -> None:
        if self._run is not None and self._run.state is not None:
            self._run.state.drop_process(f"node:{name}")

    def stop(self, name: str, timeout: float = 5.0) -> int | None:
        return self._stop_many([name], timeout)[name]

    def _stop_many(self, names: list[str], timeout: float) -> dict[str, int | None]:
        """SIGTERM (and SIGCONT, so a paused node can act on it) to every group
        at once, one shared deadline, then SIGKILL whatever is left."""
        procs = {n: self._procs[n] for n in names if n in self._procs}
        for proc in procs.values():
            if proc.poll() is None:
                signal_group(proc.pid, signal.SIGTERM)
                signal_group(proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + timeout
        for proc in procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
        codes = {}
        for name, proc in procs.items():
            codes[name] = proc.wait()
            signal_group(proc.pid, signal.SIGKILL)  # stragglers the node left in its group
            self._forget(name)
        return {n: codes.get(n) for n in names}

    def kill(self, name: str) -> int | None:
        proc = self._proc(name)
        signal_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
        self._forget(name)
        return code

    def pause(self, name: str) -> None:
        proc = self._proc(name)
        if proc.poll() is not None:
            raise ProviderError(f"node {name} is not running (exit status {proc.returncode}); cannot pause")
        signal_group(proc.pid, signal.SIGSTOP)
        if not wait_for(lambda: proc_state(proc.pid) in ("T", "t", None), 5.0):
            raise ProviderError(f"node {name} (pid {proc.pid}) did not stop after SIGSTOP")

    def resume(self, name: str) -> None:
        proc = self._proc(name)
        signal_group(proc.pid, signal.SIGCONT)
        if not wait_for(lambda: proc_state(proc.pid) not in ("T", "t"), 5.0):
            raise ProviderError(f"node {name} (pid {proc.pid}) is still stopped after SIGCONT")

    def is_paused(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None and proc_state(proc.pid) in ("T", "t")

    def restart(self, name: str, timeout: float = 5.0) -> None:
        launch = self._launches.get(name)
        if launch is None:
            raise ProviderError(f"node {name!r} was never started")
        if self._proc(name).poll() is None:
            self.stop(name, timeout)
        with open(launch.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} restart {name}\n".encode())
        self.start(launch)

    def log_path(self, name: str) -> Path | None:
        launch = self._launches.get(name)
        return None if launch is None else launch.log_path

    def log_tail(self, name: str, lines: int = 40) -> str:
        return tail_file(self.log_path(name), lines)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            names = [n for n, p in self._procs.items() if p.returncode is None]
        if names:
            self._stop_many(names, timeout)
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def release(self) -> None:
        """Let the watchdog go: called after the run's state file is removed."""
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None

    def live_pids(self) -> dict[str, int]:
        """Pids of nodes still running (for tests and the run report)."""
        return {n: p.pid for n, p in self._procs.items() if p.poll() is None and start_ticks(p.pid)}
