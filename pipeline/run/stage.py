"""Running one stage: ``nox -s <session> -- <pytest args>`` in its own process group.

The output is streamed to the terminal and kept in ``reports/<stage>.log``.  A stage
that runs past its time budget has its whole process group stopped (SIGTERM, then
SIGKILL after the grace period) and is recorded as timed out.  SIGINT or SIGTERM
of the runner, while :func:`interruptible` is active, stops the running stage's
process group the same way and records it as interrupted.

What happened to the process is a :class:`StageRun`; it is also written next to
the report as ``<stage>.run.json`` so that ``invoke gate`` can judge a run later
(in CI: in another job) without running anything.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from pipeline.run.config import Config, Stage
from pipeline.run.sessions import NOX

# What happened to a stage's process (the gate turns this and the JUnit into a status).
COMPLETED = "completed"  # the session ran to its end; exit_code says how
TIMED_OUT = "timed_out"  # stopped at its time budget
INTERRUPTED = "interrupted"  # stopped by Ctrl-C / SIGTERM of the runner
NOT_RUN = "not_run"  # an earlier required stage failed, or the run was interrupted
MISSING = "missing"  # the noxfile has no such session
SKIPPED = "skipped"  # the branch policy skips it
UNRECORDED = "unrecorded"  # gate only: no run record; judged from the JUnit alone
RUN_STATUSES = (COMPLETED, TIMED_OUT, INTERRUPTED, NOT_RUN, MISSING, SKIPPED, UNRECORDED)


@dataclass(frozen=True)
class StageRun:
    stage: str
    status: str
    reason: str = ""
    exit_code: int | None = None
    elapsed_s: float | None = None
    command: tuple[str, ...] = field(default=())
    log: str | None = None


class Interrupted(Exception):
    """Raised in the main thread by SIGINT/SIGTERM while :func:`interruptible` is active."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM into :class:`Interrupted`; later ones are ignored
    until the block ends, so that stopping a stage's processes is not itself cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame):
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def posargs(stage: Stage, extra: tuple[str, ...] = (), color: bool = False) -> list[str]:
    """The pytest arguments a stage gets after ``--``."""
    args: list[str] = []
    if stage.parallel:
        args += ["-n", "auto" if stage.parallel is True else str(stage.parallel)]
    if stage.reruns:
        args += ["--reruns", str(stage.reruns)]
    if color:
        args.append("--color=yes")
    return args + list(stage.pytest_args) + list(extra)


def nox_command(config: Config, stage: Stage, extra: tuple[str, ...] = (), color: bool = False) -> list[str]:
    command = [*NOX, "--noxfile", str(config.noxfile), "--sessions", stage.session]
    if color:
        command.append("--force-color")
    return command + ["--", *posargs(stage, extra, color)]


def run_stage(config: Config, stage: Stage, extra: tuple[str, ...] = (), out: IO[str] | None = None) -> StageRun:
    """Run one stage to its end, its time budget or an interruption."""
    out = out if out is not None else sys.stdout
    color = bool(getattr(out, "isatty", lambda: False)())
    command = nox_command(config, stage, extra, color)
    log_path = config.reports / f"{stage.name}.log"
    config.reports.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=config.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tee = threading.Thread(target=_tee, args=(proc.stdout, out, log), daemon=True)
        status, reason = COMPLETED, ""
        try:
            tee.start()
            try:
                proc.wait(timeout=stage.budget_s)
            except subprocess.TimeoutExpired:
                stop_group(proc, config.kill_grace_s)
                status, reason = TIMED_OUT, f"timed out after {stage.budget_s:g} s"
            else:
                _signal_group(proc.pid, signal.SIGTERM)  # leftovers of a finished session
            _join(tee)
        except Interrupted as exc:
            stop_group(proc, config.kill_grace_s)
            status = INTERRUPTED
            reason = f"interrupted by {exc} after {time.monotonic() - start:.1f} s"
            _join(tee)
    exit_code = proc.returncode
    if status == COMPLETED and exit_code is not None and exit_code < 0:
        reason = f"killed by {_signal_name(-exit_code)}"
    return StageRun(
        stage.name, status, reason, exit_code, round(time.monotonic() - start, 3), tuple(command), str(log_path)
    )


def stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the process group, SIGKILL whatever is left after ``grace_s``, reap the leader."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _join(tee: threading.Thread) -> None:
    if tee.ident is not None:
        tee.join(timeout=10)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _tee(pipe, out: IO[str], log: IO[bytes]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    fd = pipe.fileno()
    while chunk := os.read(fd, 65536):
        log.write(chunk)
        log.flush()
        try:
            out.write(decoder.decode(chunk))
            out.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not stop the log
    pipe.close()


# ---------------------------------------------------------------- run records


def record_path(config: Config, stage_name: str) -> Path:
    return config.reports / f"{stage_name}.run.json"


def write_record(config: Config, run: StageRun) -> Path:
    path = record_path(config, run.stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(run), indent=2) + "\n", encoding="utf-8")
    return path


def read_record(config: Config, stage_name: str) -> StageRun | None:
    """The run record of a stage; ``None`` when absent or unreadable (the JUnit is judged alone)."""
    path = record_path(config, stage_name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        run = StageRun(**{**data, "command": tuple(data.get("command", ()))})
    except (OSError, ValueError, TypeError):
        return None
    if run.stage != stage_name or run.status not in RUN_STATUSES:
        return None
    return run


def clear_outputs(config: Config, stage: Stage) -> None:
    """Remove a stage's report, log and record from an earlier run before it runs again."""
    for path in (stage.report, record_path(config, stage.name), config.reports / f"{stage.name}.log"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
