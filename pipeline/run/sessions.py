"""Which nox sessions the noxfile defines (``nox --list --json``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NOX = (sys.executable, "-m", "nox")


class SessionListError(Exception):
    """The noxfile could not be listed; the message is one line."""


def list_sessions(noxfile: Path, cwd: Path, timeout_s: float = 120) -> frozenset[str]:
    """Names of the sessions ``noxfile`` defines (base names and parametrized names)."""
    command = [*NOX, "--noxfile", str(noxfile), "--list", "--json"]
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SessionListError(f"{noxfile}: cannot list nox sessions: {exc}") from None
    try:
        entries = json.loads(done.stdout)
        names = {entry[key] for entry in entries for key in ("session", "name") if entry.get(key)}
    except (ValueError, TypeError, AttributeError):
        detail = _last_line(done.stderr) or _last_line(done.stdout) or f"exit code {done.returncode}"
        raise SessionListError(f"{noxfile}: cannot list nox sessions: {detail}") from None
    return frozenset(names)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
