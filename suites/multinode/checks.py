"""End every multi-node test with the history checkers, and fail usefully.

A test's own asserts check what it can see at one moment (a mode, a status
code); the checkers decide what only the whole history can: that the
registry's answers fit one order, that nothing acknowledged was lost, that
money was conserved, that each event reached each subscriber once and in one
order, that an auction was settled once with the right winner.

The history is always saved to ``reports/history/<test>.jsonl`` (a CI
artifact; replay it into the checkers with ``python -m pipeline.checker``).
On a violation the test fails with each failing checker's explanation, its
excerpt (the few operations that show the problem) and the path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.checker import CHECKERS, CheckReport, check_all, format_report
from pipeline.checker.history import History

__all__ = ["verify"]


def verify(history: History, *checks: str, max_steps: int = 2_000_000) -> CheckReport:
    """Run the named checkers (of ``pipeline.checker.CHECKERS``) on the
    history, save it, and fail the test unless every verdict is valid (an
    inconclusive search fails too: nothing was proved)."""
    unknown = set(checks) - set(CHECKERS)
    assert not unknown, f"unknown checkers {sorted(unknown)}; choose from {CHECKERS}"
    path = Path(history.path)
    history.save(path)
    history.saved = True  # type: ignore[attr-defined]
    report = check_all(history, only=checks, max_steps=max_steps)
    summary = ", ".join(f"{r.checker}={r.verdict}" for r in report.results)
    print(f"checks: {summary}; {history!r}; history saved to {path}")
    if not report.valid:
        pytest.fail(
            f"history check failed ({summary}); history saved to {path} "
            f"(replay: python -m pipeline.checker {path})\n{format_report(report, history.t0_ns)}",
            pytrace=False,
        )
    return report
