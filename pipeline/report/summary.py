"""The verdict for people and for machines: a terminal table, ``summary.md`` (fit
for a CI step summary) and ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.report.gate import FAIL, UNKNOWN, WARN, Assessment, Verdict
from pipeline.report.junit import Counts, StageReport

SCHEMA_VERSION = 1
COLUMNS = ("stage", "requirement", "status", "tests", "passed", "failed", "skipped", "flaky", "time")
_MARK = {"pass": "✅", "fail": "❌", "unknown": "❓"}
_SEVERITY_MARK = {FAIL: "❌", WARN: "⚠️", UNKNOWN: "❓"}


def _report(a: Assessment) -> StageReport | None:
    """The stage's JUnit report if it was read without a problem."""
    return a.report if a.report is not None and not a.report.problem else None


def _counts(a: Assessment) -> Counts | None:
    report = _report(a)
    return None if report is None else report.counts


def _time(a: Assessment) -> str:
    return "-" if a.run.elapsed_s is None else f"{a.run.elapsed_s:.1f}s"


def _row(a: Assessment) -> list[str]:
    c = _counts(a)
    numbers = (
        ["-"] * 5
        if c is None
        else [str(c.tests), str(c.passed), str(c.failed + c.errors), str(c.skipped), str(c.flaky)]
    )
    return [a.stage.name, a.requirement, a.status, *numbers, _time(a)]


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def to_json(verdict: Verdict, meta: dict, root: Path | None = None) -> dict:
    """Everything in the summary; paths relative to ``root`` (the configuration's folder)."""
    totals = Counts()
    stages = []
    for a in verdict.assessments:
        report = _report(a)
        c = None if report is None else report.counts
        if c is not None:
            totals = totals + c
        stages.append(
            {
                "name": a.stage.name,
                "session": a.stage.session,
                "requirement": a.requirement,
                "status": a.status,
                "reason": a.reason,
                "elapsed_s": a.run.elapsed_s,
                "budget_s": a.stage.budget_s,
                "exit_code": a.run.exit_code,
                "report": _relative(a.stage.report, root),
                "counts": None if c is None else _counts_dict(c),
                "failed_tests": list(report.failed) if report is not None else [],
                "flaky_tests": list(report.flaky) if report is not None else [],
                "metrics": dict(report.metrics) if report is not None else {},
                "trusted": report.trusted if report is not None else None,
                "thresholds": [
                    {
                        "threshold": repr(k.threshold),
                        "metric": k.threshold.metric,
                        "op": k.threshold.op,
                        "limit": k.threshold.limit,
                        "measured": k.measured,
                        "passed": k.passed,
                    }
                    for k in a.checks
                ],
                "findings": [{"severity": f.severity, "message": f.message} for f in a.findings],
            }
        )
    return {
        "schema": SCHEMA_VERSION,
        "verdict": verdict.verdict,
        "exit_code": verdict.exit_code,
        "interrupted": verdict.interrupted,
        **meta,
        "totals": _counts_dict(totals),
        "stages": stages,
        "findings": [{"severity": f.severity, "stage": f.stage, "message": f.message} for f in verdict.findings],
    }


def _counts_dict(c: Counts) -> dict:
    return {
        "tests": c.tests,
        "passed": c.passed,
        "failed": c.failed,
        "errors": c.errors,
        "skipped": c.skipped,
        "flaky": c.flaky,
    }


def terminal(verdict: Verdict, meta: dict) -> str:
    rows = [list(COLUMNS)] + [_row(a) for a in verdict.assessments]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["", f"Pipeline summary ({meta.get('branch_type')} policy{_ref(meta)})"]
    for r in rows:
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    checks = [(a.stage.name, k) for a in verdict.assessments for k in a.checks]
    if checks:
        lines.append("Thresholds:")
        lines += [f"  {'pass' if k.passed else 'FAIL'}  {name}: {k.threshold!r} ({k.detail})" for name, k in checks]
    if verdict.findings:
        lines.append("Findings:")
        lines += [f"  {f.severity.upper():7} {f.stage}: {f.message}" for f in verdict.findings]
    elapsed = meta.get("elapsed_s")
    lines.append(
        f"Verdict: {verdict.verdict.upper()} (exit code {verdict.exit_code})"
        + (f" after {elapsed:.1f}s" if elapsed is not None else "")
    )
    return "\n".join(lines) + "\n"


def markdown(verdict: Verdict, meta: dict, plots: tuple[str, ...] = ()) -> str:
    """``plots``: pictures the stages drew, as paths relative to the summary's folder."""
    mark = _MARK[verdict.verdict]
    lines = [f"## {mark} Pipeline verdict: **{verdict.verdict.upper()}**", ""]
    lines.append(
        f"Policy `{meta.get('branch_type')}`{_ref(meta, md=True)}, exit code {verdict.exit_code}"
        + (" (interrupted)" if verdict.interrupted else "")
        + "."
    )
    lines += [
        "",
        "| " + " | ".join(c.capitalize() for c in COLUMNS) + " | Notes |",
        "|" + "---|" * 3 + "---:|" * 6 + "---|",
    ]
    for a in verdict.assessments:
        lines.append("| " + " | ".join(_md(cell) for cell in _row(a)) + f" | {_md(a.reason)} |")
    checks = [(a.stage.name, k) for a in verdict.assessments for k in a.checks]
    if checks:
        lines += ["", "### Thresholds", "", "| Stage | Threshold | Measured | Result |", "|---|---|---:|---|"]
        for name, k in checks:
            measured = "not reported" if k.measured is None else f"{k.measured:g}"
            lines.append(f"| {name} | `{k.threshold!r}` | {measured} | {'✅ pass' if k.passed else '❌ fail'} |")
    if verdict.findings:
        lines += ["", "### Findings", ""]
        lines += [
            f"- {_SEVERITY_MARK[f.severity]} **{f.severity}** `{f.stage}`: {_md(f.message)}" for f in verdict.findings
        ]
    if plots:
        lines += ["", "### Plots", ""]
        lines += [f"- [{_md(plot)}]({plot})" for plot in plots]
    return "\n".join(lines) + "\n"


def plots_in(reports: Path) -> tuple[str, ...]:
    """The PNGs stages left in their folders (``performance/<pattern>/*.png``, ...), relative to ``reports``."""
    return tuple(sorted(p.relative_to(reports).as_posix() for p in reports.glob("*/*/*.png")))


def _ref(meta: dict, md: bool = False) -> str:
    ref = meta.get("branch")
    if not ref:
        return ""
    return f" for `{ref}`" if md else f" for {ref}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(verdict: Verdict, meta: dict, reports: Path, root: Path | None = None) -> tuple[Path, Path]:
    reports.mkdir(parents=True, exist_ok=True)
    md, js = reports / "summary.md", reports / "summary.json"
    md.write_text(markdown(verdict, meta, plots_in(reports)), encoding="utf-8")
    js.write_text(json.dumps(to_json(verdict, meta, root), indent=2) + "\n", encoding="utf-8")
    return md, js
