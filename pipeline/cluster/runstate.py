"""A small JSON file per live cluster run: what to clean if the run dies.

Teardown normally happens in-process.  When the runner is SIGKILLed (or the
machine's OOM killer picks it), no Python code runs, so the run leaves a note
on disk while it lives: its own pid, every process it started (node, pressure
helper, Toxiproxy server) and every proxy it created.  ``python -m
pipeline.cluster.clean`` and the run's watchdog read these notes.

A pid alone is not an identity: pids are reused.  Each process is recorded with
its start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), and a
process is only ever signalled when both still match.

Files live in ``$PIPELINE_RUNS_DIR``, else ``$XDG_RUNTIME_DIR/pipeline-runs``,
else ``/tmp/pipeline-runs-<uid>``; one file per run, ``<run-id>.json``, written
atomically (temp file + rename) and removed when the run ends cleanly.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ProcessRecord", "RunState", "runs_dir", "new_run_id", "start_ticks", "same_process", "process_alive"]


def runs_dir() -> Path:
    """Where run state files live (see the module docstring)."""
    explicit = os.environ.get("PIPELINE_RUNS_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / "pipeline-runs"
    return Path(tempfile.gettempdir()) / f"pipeline-runs-{os.getuid()}"


def new_run_id() -> str:
    """Unique on this machine and readable: time, runner pid, random suffix."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(2)}"


def start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if there is no
    such process (or it is a zombie, which is as good as dead here)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may contain spaces
    rest = raw[raw.rfind(")") + 2 :].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def same_process(pid: int | None, ticks: int | None) -> bool:
    """True when ``pid`` is alive and is the process that was recorded."""
    if not pid or ticks is None:
        return False
    return start_ticks(pid) == ticks


def process_alive(pid: int) -> bool:
    return start_ticks(pid) is not None


@dataclass
class ProcessRecord:
    """A process the run started.  ``group`` is true when it leads its own
    process group, so cleaning also kills whatever it spawned."""

    role: str  # "node" | "pressure" | "toxiproxy" | "watchdog" | other helpers
    name: str
    pid: int
    ticks: int | None
    group: bool = True


@dataclass
class RunState:
    """The note a live run keeps on disk; every mutation is saved at once."""

    run_id: str
    path: Path
    runner_pid: int = field(default_factory=os.getpid)
    runner_ticks: int | None = None
    created: float = field(default_factory=time.time)
    report_dir: str | None = None
    toxiproxy_url: str | None = None
    toxiproxy_owned: bool = False
    proxies: list[str] = field(default_factory=list)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    #: the Docker engine the run made containers on ("" = the default socket;
    #: None = no containers), cleaned by their run label
    docker_host: str | None = None

    def __post_init__(self) -> None:
        if self.runner_ticks is None and self.runner_pid == os.getpid():
            self.runner_ticks = start_ticks(self.runner_pid)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, run_id: str, *, directory: Path | None = None, **kwargs: Any) -> RunState:
        directory = directory or runs_dir()
        directory.mkdir(parents=True, exist_ok=True)
        state = cls(run_id=run_id, path=directory / f"{run_id}.json", **kwargs)
        state.save()
        return state

    @classmethod
    def load(cls, path: Path) -> RunState:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or not isinstance(data.get("processes", {}), dict):
            raise ValueError("not a run state file: expected a JSON object with a 'processes' object")
        missing = [key for key in ("run_id", "runner_pid") if key not in data]
        if missing:  # without runner_pid the loader would take itself for the runner
            raise ValueError(f"not a run state file: missing {', '.join(missing)}")
        procs = {}
        for key, record in data.pop("processes", {}).items():
            try:
                procs[key] = ProcessRecord(**record)
            except TypeError as exc:  # not a mapping, a key missing or unknown
                raise ValueError(f"processes.{key}: not a process record ({exc})") from None
        data.pop("path", None)
        try:
            return cls(path=Path(path), processes=procs, **data)
        except TypeError as exc:
            raise ValueError(f"not a run state file ({exc})") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "runner_pid": self.runner_pid,
            "runner_ticks": self.runner_ticks,
            "created": self.created,
            "report_dir": self.report_dir,
            "toxiproxy_url": self.toxiproxy_url,
            "toxiproxy_owned": self.toxiproxy_owned,
            "proxies": list(self.proxies),
            "processes": {k: asdict(v) for k, v in self.processes.items()},
            "docker_host": self.docker_host,
        }

    def save(self) -> None:
        with self._lock:
            payload = json.dumps(self.to_json(), indent=1, sort_keys=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(payload)
            os.replace(tmp, self.path)

    def runner_alive(self) -> bool:
        return same_process(self.runner_pid, self.runner_ticks)

    def add_process(self, key: str, role: str, name: str, pid: int, *, group: bool = True) -> ProcessRecord:
        record = ProcessRecord(role=role, name=name, pid=pid, ticks=start_ticks(pid), group=group)
        self.processes[key] = record
        self.save()
        return record

    def drop_process(self, key: str) -> None:
        if self.processes.pop(key, None) is not None:
            self.save()

    def add_proxies(self, names: list[str]) -> None:
        self.proxies.extend(n for n in names if n not in self.proxies)
        self.save()

    def drop_proxies(self, names: list[str]) -> None:
        gone = set(names)
        self.proxies = [p for p in self.proxies if p not in gone]
        self.save()

    def runner_label(self) -> str:
        """``<hostname>:<pid>:<start ticks>``: who made a container, on its label."""
        return f"{socket.gethostname()}:{self.runner_pid}:{self.runner_ticks}"

    def remove(self) -> None:
        """The run ended cleanly: forget it."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
