"""Remove what dead cluster runs left behind: ``python -m pipeline.cluster.clean``.

Reads every run state file (see :mod:`pipeline.cluster.runstate`).  A run whose
runner is still alive is left alone.  For a dead run it kills each recorded
process whose start time still matches (never a recycled pid), together with
the members of its process group that started after it, deletes the run's
proxies on the Toxiproxy server it used (when that server still answers),
removes its containers, networks and volumes (found by their run label, on
the engine the run used), and removes the state file.  The command line also
sweeps the current Docker engine for the toolkit's objects whose runner is
gone, even without a state file (a run killed before it wrote one).  Safe
to run at any time, also from CI before a stage.

Options: ``--run RUN_ID`` (only that run), ``--dry-run`` (report only),
``--dir PATH`` (state directory).  Exit status 0 unless a state file could not
be read (1), or ``--dir`` is not a directory (2).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cluster.runstate import ProcessRecord, RunState, runs_dir, same_process, start_ticks

__all__ = ["CleanReport", "clean", "clean_run", "kill_record", "main"]


@dataclass
class CleanReport:
    """What a clean pass saw and did."""

    runs_seen: list[str] = field(default_factory=list)
    live_runs: list[str] = field(default_factory=list)
    cleaned_runs: list[str] = field(default_factory=list)
    killed: list[tuple[str, str, int]] = field(default_factory=list)  # (run, name, pid)
    proxies_deleted: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (run, "container pipeline-...-n1")
    errors: list[str] = field(default_factory=list)

    @property
    def found_anything(self) -> bool:
        return bool(self.killed or self.proxies_deleted or self.cleaned_runs or self.removed)

    def summary(self) -> str:
        lines = [
            f"run state files: {len(self.runs_seen)}, live runs left alone: {len(self.live_runs)}, "
            f"dead runs cleaned: {len(self.cleaned_runs)}"
        ]
        lines += [f"  killed {name} pid {pid} (run {run})" for run, name, pid in self.killed]
        lines += [f"  deleted proxy {name} (run {run})" for run, name in self.proxies_deleted]
        lines += [f"  removed {what} (run {run})" for run, what in self.removed]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def _group_members(pgid: int, not_before: int | None) -> list[int]:
    """Pids in process group ``pgid`` that started no earlier than the leader."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getpgid(pid) != pgid:
                continue
        except (ProcessLookupError, PermissionError):
            continue
        ticks = start_ticks(pid)
        if ticks is None or (not_before is not None and ticks < not_before):
            continue
        members.append(pid)
    return members


def kill_record(record: ProcessRecord, *, wait: float = 2.0) -> list[int]:
    """SIGKILL a recorded process (and its group) if it is still the same
    process; return the pids signalled.  Members of the group are recognised by
    pgid and by starting after the recorded leader."""
    victims: list[int] = []
    if same_process(record.pid, record.ticks):
        victims.append(record.pid)
    if record.group:
        victims += [p for p in _group_members(record.pid, record.ticks) if p not in victims]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    for pid in victims:
        while start_ticks(pid) is not None and time.monotonic() < deadline:
            try:  # reap if it is our child, else just wait for it to vanish
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass
            time.sleep(0.01)
    return victims


def _delete_proxy(url: str, name: str) -> bool:
    req = urllib.request.Request(f"{url.rstrip('/')}/proxies/{urllib.parse.quote(name, safe='')}", method="DELETE")
    try:
        with urllib.request.urlopen(req, timeout=1.0):
            return True
    except (urllib.error.URLError, OSError):  # HTTPError (404: already gone) included
        return False


def clean_run(state: RunState, report: CleanReport, *, dry_run: bool = False) -> None:
    """Clean one dead run (the caller decided it is dead)."""
    # nodes and helpers first, the Toxiproxy server it owned last
    records = sorted(state.processes.values(), key=lambda r: r.role == "toxiproxy")
    for record in records:
        if record.role == "watchdog":
            continue
        alive = same_process(record.pid, record.ticks) or (record.group and _group_members(record.pid, record.ticks))
        if not alive:
            continue
        if dry_run:
            report.killed.append((state.run_id, record.name, record.pid))
            continue
        for pid in kill_record(record):
            report.killed.append((state.run_id, record.name, pid))
    if state.toxiproxy_url and state.proxies and not state.toxiproxy_owned:
        for name in state.proxies:
            if dry_run or _delete_proxy(state.toxiproxy_url, name):
                report.proxies_deleted.append((state.run_id, name))
    if state.docker_host is not None:
        _remove_containers(state, report, dry_run=dry_run)
    if not dry_run:
        state.remove()
    report.cleaned_runs.append(state.run_id)


def _engine(docker_host: str | None) -> Any:
    """A client of the engine a run used (its DOCKER_HOST), or raise DockerUnavailable."""
    from pipeline.containers import engine

    return engine.connect(timeout=3.0, docker_host=docker_host or None)


def _remove_containers(state: RunState, report: CleanReport, *, dry_run: bool) -> None:
    from pipeline.containers import engine

    try:
        client = _engine(state.docker_host)
    except engine.DockerUnavailable as exc:
        report.errors.append(f"run {state.run_id}: its containers could not be removed: {exc}")
        return
    try:
        if dry_run:
            report.removed += [(state.run_id, what) for what in engine.leftovers(client).get(state.run_id, [])]
        else:
            report.removed += [(state.run_id, what) for what in engine.remove_run(client, state.run_id)]
    except Exception as exc:  # noqa: BLE001 - the engine refused: say so, clean the rest
        report.errors.append(f"run {state.run_id}: removing its containers failed: {exc}")
    finally:
        client.close()


def sweep_containers(report: CleanReport, *, dry_run: bool = False, live: set[str] | None = None) -> None:
    """Remove the toolkit's containers, networks and volumes on the current
    engine whose run is not alive: no live run state file names the run, and
    the runner on their label (``host:pid:ticks``) is gone.  Quiet when no
    engine answers (a machine without Docker has nothing to sweep)."""
    from pipeline.containers import engine

    try:
        client = _engine(None)
    except engine.DockerUnavailable:
        return
    try:
        for run_id, objects in engine.leftovers(client).items():
            if run_id in (live or set()) or _runner_alive(client, run_id):
                continue
            if dry_run:
                report.removed += [(run_id, what) for what in objects]
            else:
                report.removed += [(run_id, what) for what in engine.remove_run(client, run_id)]
    except Exception as exc:  # noqa: BLE001 - the engine refused: report it
        report.errors.append(f"sweeping containers: {exc}")
    finally:
        client.close()


def _runner_alive(client: Any, run_id: str) -> bool:
    """True when a labelled object of ``run_id`` names a runner alive on this machine."""
    import socket as _socket

    from pipeline.containers import engine

    flt = {"label": [f"{engine.LABEL_RUN}={run_id}"]}
    for obj in client.containers.list(all=True, filters=flt) + client.networks.list(filters=flt):
        label = engine._labels(obj).get(engine.LABEL_RUNNER, "")
        host, _, rest = label.partition(":")
        pid, _, ticks = rest.partition(":")
        if host == _socket.gethostname() and pid.isdigit() and ticks.isdigit():
            return same_process(int(pid), int(ticks))
    return False


def clean(
    *, run_id: str | None = None, dry_run: bool = False, directory: Path | None = None, containers: bool = False
) -> CleanReport:
    """Clean every dead run (or just ``run_id``) in ``directory``; with
    ``containers``, also sweep the Docker engine (:func:`sweep_containers`)."""
    report = CleanReport()
    directory = directory or runs_dir()
    if not directory.is_dir():
        if containers and run_id is None:
            sweep_containers(report, dry_run=dry_run)
        return report
    for path in sorted(directory.glob("*.json")):
        if run_id is not None and path.stem != run_id:
            continue
        try:
            state = RunState.load(path)
        except (OSError, ValueError, TypeError, json.JSONDecodeError) as exc:
            report.errors.append(f"{path}: unreadable ({exc})")
            continue
        report.runs_seen.append(state.run_id)
        if state.runner_alive():
            report.live_runs.append(state.run_id)
            continue
        clean_run(state, report, dry_run=dry_run)
    if containers and run_id is None:
        sweep_containers(report, dry_run=dry_run, live=set(report.live_runs))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.cluster.clean", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", dest="run_id", help="clean only this run id")
    parser.add_argument("--dry-run", action="store_true", help="report what would be done")
    parser.add_argument("--dir", type=Path, default=None, help=f"state directory (default {runs_dir()})")
    args = parser.parse_args(argv)
    if args.dir is not None and args.dir.exists() and not args.dir.is_dir():
        parser.error(f"--dir: {args.dir} is not a directory")
    if args.dir is not None and not args.dir.exists():
        print(f"note: --dir {args.dir} does not exist: no run state files to clean")
    report = clean(run_id=args.run_id, dry_run=args.dry_run, directory=args.dir, containers=True)
    print(report.summary())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
