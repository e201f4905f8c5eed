"""Which nox sessions the noxfile defines (``nox --list``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

NOX = (sys.executable, "-m", "nox")
# "* unit -> description" (selected) or "- chaos -> description" (defined, not selected)
_LISTED = re.compile(r"^[*-] (\S+?)(?: -> |$)", re.MULTILINE)


class SessionListError(Exception):
    """The noxfile could not be listed; the message is one line."""


def list_sessions(noxfile: Path, cwd: Path, timeout_s: float = 120) -> frozenset[str]:
    """Names of *every* session ``noxfile`` defines (base names and parametrized names).

    ``nox --list --json`` lists only the sessions selected to run by default
    (``nox.options.sessions``), so a stage whose session exists but is not a
    default one looked missing.  The text listing marks every session, selected
    (``*``) or not (``-``); that is what is read here."""
    command = [*NOX, "--noxfile", str(noxfile), "--list"]
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SessionListError(f"{noxfile}: cannot list nox sessions: {exc}") from None
    names = {m.group(1) for m in _LISTED.finditer(done.stdout)}
    if done.returncode != 0 or not names:
        detail = _last_line(done.stderr) or _last_line(done.stdout) or f"exit code {done.returncode}"
        raise SessionListError(f"{noxfile}: cannot list nox sessions: {detail}")
    return frozenset(names | {_base(name) for name in names})


def _base(name: str) -> str:
    """``tests(x=1)`` and ``tests-3.11`` are parametrizations of ``tests``, which ``nox -s tests`` runs."""
    return re.sub(r"-\d+(\.\d+)*$", "", re.sub(r"\(.*\)$", "", name))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
