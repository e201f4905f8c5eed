"""What a checker hands back: a verdict, the smallest evidence, and why.

A failing consistency check is only useful if a person can see the problem in
a few lines.  So every result carries, besides ``valid``, the excerpt of the
history that shows the violation (as small as the checker could make it) and a
paragraph in plain words.  ``notes`` say where the check was weaker than its
name (a fallback, a skipped key), so a pass is never silently partial.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.checker.history import History, Op

__all__ = ["CheckResult", "CheckReport"]


@dataclass(frozen=True)
class CheckResult:
    """One checker's verdict.

    ``valid`` is True only when the check completed and found no violation.
    ``inconclusive`` marks a check that ran out of its search budget without
    finding one (``valid`` is then False: nothing was proved).
    """

    checker: str
    valid: bool
    explanation: str = ""
    excerpt: tuple[Op, ...] = ()
    notes: tuple[str, ...] = ()
    inconclusive: bool = False
    stats: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def verdict(self) -> str:
        if self.valid:
            return "valid"
        return "inconclusive" if self.inconclusive else "INVALID"

    def __repr__(self) -> str:
        extra = f", {len(self.excerpt)} ops in excerpt" if self.excerpt else ""
        notes = f", {len(self.notes)} notes" if self.notes else ""
        return f"CheckResult({self.checker}: {self.verdict}{extra}{notes})"

    @classmethod
    def ok(
        cls, checker: str, explanation: str = "", *, notes: Iterable[str] = (), stats: Mapping[str, Any] | None = None
    ) -> CheckResult:
        return cls(checker, True, explanation, (), tuple(notes), False, dict(stats or {}))

    @classmethod
    def violation(
        cls,
        checker: str,
        explanation: str,
        excerpt: Iterable[Op],
        *,
        notes: Iterable[str] = (),
        stats: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        ops = tuple(sorted(set(excerpt), key=lambda o: (o.invoke_ns, o.index)))
        return cls(checker, False, explanation, ops, tuple(notes), False, dict(stats or {}))

    @classmethod
    def unsure(
        cls,
        checker: str,
        explanation: str,
        *,
        excerpt: Iterable[Op] = (),
        notes: Iterable[str] = (),
        stats: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        ops = tuple(sorted(set(excerpt), key=lambda o: (o.invoke_ns, o.index)))
        return cls(checker, False, explanation, ops, tuple(notes), True, dict(stats or {}))


@dataclass(frozen=True)
class CheckReport:
    """All checkers' results for one history (what :func:`check_all` returns)."""

    results: tuple[CheckResult, ...]
    history: History | None = field(default=None, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return all(r.valid for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.valid)

    def __getitem__(self, checker: str) -> CheckResult:
        for r in self.results:
            if r.checker == checker:
                return r
        raise KeyError(f"no result for checker {checker!r}; have {[r.checker for r in self.results]}")

    def __repr__(self) -> str:
        parts = ", ".join(f"{r.checker}={r.verdict}" for r in self.results)
        return f"CheckReport({'valid' if self.valid else 'INVALID'}: {parts})"
