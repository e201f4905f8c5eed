"""Locust as its own process: headless, bounded, its CSV, stats history and
HTML report under the pattern's folder, stopped whatever happens.

The command (``locust_command``) is plain Locust::

    python -m locust -f locustfiles/<pattern>.py --headless -u USERS -r RATE -t 25s
        --host URL --csv DIR/locust --csv-full-history --html DIR/report.html
        --reset-stats --stop-timeout 5 --only-summary [--processes N]
        [--master --expect-workers N --master-bind-host H --master-bind-port P]

and the locustfile learns the nodes, the seed and the per-user rates from
``LOAD_NODES``, ``LOAD_SEED``, ``LOAD_RATES`` and ``LOAD_WORKERS``.

Bounds: Locust's own ``-t``; on top, a hard deadline (duration + ramp +
``grace_s``) after which the process group is interrupted, then terminated,
then killed.  Ctrl-C (KeyboardInterrupt) stops it the same way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocustOptions", "LocustRun", "locust_command", "locust_env", "run_locust", "stop_group"]


@dataclass(frozen=True)
class LocustOptions:
    """How Locust is run; ``processes`` > 0 forks that many local workers
    (``--processes``, -1: one per core); ``expect_workers`` > 0 makes this a
    master waiting for that many workers started elsewhere
    (``locust -f FILE --worker --master-host HOST``)."""

    processes: int = 0
    expect_workers: int = 0
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = 5557
    stop_timeout_s: float = 5.0
    extra_args: tuple[str, ...] = ()

    @property
    def workers(self) -> int:
        if self.expect_workers > 0:
            return self.expect_workers
        if self.processes == -1:
            return os.cpu_count() or 1
        return max(1, self.processes)


@dataclass
class LocustRun:
    command: list[str]
    exit_code: int | None
    seconds: float
    log: Path
    timed_out: bool = False
    interrupted: bool = False
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    @property
    def problem(self) -> str:
        """Why the run cannot be used ('' when it can).  Locust exits 1 when some
        requests failed: that is a result, not a broken run."""
        if self.interrupted:
            return "interrupted"
        if self.timed_out:
            return f"Locust did not finish within its hard deadline ({self.seconds:.0f} s); killed"
        if self.exit_code not in (0, 1):
            tail = " | ".join(self.output.strip().splitlines()[-5:])
            return f"Locust exited {self.exit_code}: {tail[-400:]}"
        if not self.files["stats"].is_file():
            return f"Locust wrote no statistics ({self.files['stats']})"
        return ""


def output_files(directory: Path) -> dict[str, Path]:
    return {
        "stats": directory / "locust_stats.csv",
        "history": directory / "locust_stats_history.csv",
        "failures": directory / "locust_failures.csv",
        "exceptions": directory / "locust_exceptions.csv",
        "html": directory / "report.html",
        "log": directory / "locust.log",
    }


def locust_command(
    locustfile: Path,
    directory: Path,
    *,
    users: int,
    spawn_rate: float,
    duration_s: float,
    host: str,
    options: LocustOptions,
    python: str = sys.executable,
) -> list[str]:
    files = output_files(directory)
    command = [
        python,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        f"{spawn_rate:g}",
        "-t",
        f"{max(1, round(duration_s))}s",
        "--host",
        host,
        "--csv",
        str(directory / "locust"),
        "--csv-full-history",
        "--html",
        str(files["html"]),
        "--reset-stats",
        "--stop-timeout",
        f"{options.stop_timeout_s:g}",
        "--only-summary",
        "--loglevel",
        "INFO",
    ]
    if options.expect_workers > 0:
        command += [
            "--master",
            "--expect-workers",
            str(options.expect_workers),
            "--master-bind-host",
            options.master_bind_host,
            "--master-bind-port",
            str(options.master_bind_port),
        ]
    elif options.processes:
        command += ["--processes", str(options.processes)]
    return command + list(options.extra_args)


def locust_env(nodes: Sequence[str], seed: int, rates: Mapping[str, float], workers: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LOAD_NODES=",".join(nodes),
        LOAD_SEED=str(seed),
        LOAD_RATES=json.dumps(dict(rates)),
        LOAD_WORKERS=str(workers),
        PYTHONUNBUFFERED="1",
    )
    return env


def stop_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGINT (Locust writes its reports), then SIGTERM, then SIGKILL, to the
    process group; each step waits at most ``grace_s``."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue


def run_locust(
    command: list[str],
    env: Mapping[str, str],
    directory: Path,
    *,
    hard_timeout_s: float,
    stop_grace_s: float = 10.0,
    cwd: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
    tick_s: float = 5.0,
) -> LocustRun:
    """Run Locust to completion (or its hard deadline); ``on_tick(elapsed)``
    every ``tick_s`` while it runs (the progress line)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = output_files(directory)
    t0 = time.monotonic()
    deadline = t0 + hard_timeout_s
    run = LocustRun(command, None, 0.0, files["log"], files=files)
    with files["log"].open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
        )
        try:
            if on_start is not None:
                on_start(process.pid)
            next_tick = t0 + tick_s
            while process.poll() is None:
                now = time.monotonic()
                if now >= deadline:
                    run.timed_out = True
                    break
                try:
                    process.wait(timeout=max(0.05, min(next_tick, deadline) - now))
                except subprocess.TimeoutExpired:
                    pass
                if on_tick is not None and time.monotonic() >= next_tick and process.poll() is None:
                    on_tick(time.monotonic() - t0)
                    next_tick += tick_s
        except BaseException:
            run.interrupted = True
            raise
        finally:
            stop_group(process, stop_grace_s)
            run.exit_code = process.returncode
            run.seconds = time.monotonic() - t0
    return run
