"""Turn results into text a person can act on, and into pytest failures that reproduce.

A consistency failure in CI is only fixable if the report answers three
questions without rerunning anything: what went wrong (the explanation), where
(the excerpt, a handful of operations with relative times), and how to look
again (the saved history and the one command that re-runs the checker on it).
:func:`assert_valid` writes all three, Hypothesis-style.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from pipeline.checker.history import History, format_ops
from pipeline.checker.result import CheckReport, CheckResult

__all__ = ["format_result", "format_report", "assert_valid", "history_path", "rerun_command"]

DEFAULT_DIR = Path("reports") / "history"


def format_result(result: CheckResult, t0_ns: int | None = None) -> str:
    """The verdict, the explanation, the excerpt and the notes of one checker."""
    lines = [f"[{result.checker}] {result.verdict}"]
    if result.explanation:
        lines.append("  " + result.explanation)
    if result.excerpt:
        lines.append(f"  excerpt ({len(result.excerpt)} ops):")
        lines.append(format_ops(result.excerpt, t0_ns, indent="    "))
    for note in result.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def format_report(report: CheckReport | CheckResult, t0_ns: int | None = None) -> str:
    """Every result of a report, failures first."""
    if isinstance(report, CheckResult):
        return format_result(report, t0_ns)
    if t0_ns is None and report.history is not None:
        t0_ns = report.history.t0_ns
    ordered = sorted(report.results, key=lambda r: r.valid)
    head = f"consistency: {'valid' if report.valid else 'INVALID'} ({len(report.results)} checkers)"
    return "\n".join([head, *(format_result(r, t0_ns) for r in ordered)])


def history_path(name: str | None = None, directory: str | Path = DEFAULT_DIR) -> Path:
    """Where a failing test's history goes: ``reports/history/<test>.jsonl``.

    The name defaults to the running pytest test (``PYTEST_CURRENT_TEST``),
    made safe for a file name.
    """
    if name is None:
        current = os.environ.get("PYTEST_CURRENT_TEST", "history")
        name = current.rsplit(" ", 1)[0]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_.") or "history"
    return Path(directory) / f"{safe}.jsonl"


def rerun_command(path: Path, only: list[str] | None = None, config: str | None = None) -> str:
    parts = ["python", "-m", "pipeline.checker", str(path)]
    for name in only or []:
        parts += ["--only", name]
    if config:
        parts += ["--config", config]
    return shlex.join(parts)


def assert_valid(
    result: CheckReport | CheckResult,
    *,
    history: History | None = None,
    name: str | None = None,
    directory: str | Path = DEFAULT_DIR,
    config: str | None = None,
    allow_inconclusive: bool = False,
) -> None:
    """Raise ``AssertionError`` with the full story unless ``result`` is valid.

    The history (``history=``, or the one a :func:`check_all` report carries)
    is saved under ``directory`` and the message ends with the command that
    replays the checkers on it.  ``config`` (``module:function``) is passed on
    to that command when the suite used non-default models.
    ``allow_inconclusive`` lets an exhausted search pass (its notes still say so).
    """
    results = result.results if isinstance(result, CheckReport) else (result,)
    failing = [r for r in results if not r.valid and not (allow_inconclusive and r.inconclusive)]
    if not failing:
        return
    if history is None and isinstance(result, CheckReport):
        history = result.history
    t0 = history.t0_ns if history is not None else None
    parts = [format_report(result, t0)]
    if history is not None:
        path = history.save(history_path(name, directory))
        only = None if isinstance(result, CheckReport) else [result.checker]
        parts.append(f"history saved to {path} ({len(history)} ops)")
        parts.append(f"reproduce with: {rerun_command(path, only, config)}")
    else:
        parts.append("(pass history= to assert_valid to save the history and get a replay command)")
    raise AssertionError("\n".join(parts))
