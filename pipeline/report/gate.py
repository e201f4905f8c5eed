"""The gate: from what each stage did and reported, a verdict and an exit code.

Each stage gets a status and a list of findings, each ``fail``, ``warn`` or
``unknown``.  A problem in a required stage is a ``fail``; the same problem in an
optional stage only warns.  The policy decides for flaky tests and for stages
whose nox session does not exist.  A stage that says its measurement cannot be
trusted gives ``unknown``.  The verdict is ``fail`` if any finding fails, else
``unknown`` if any is unknown, else ``pass``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.report.junit import Case, StageReport
from pipeline.report.threshold import Check, check_all
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, INTERRUPTED, MISSING, NOT_RUN, SKIPPED, TIMED_OUT, UNRECORDED, StageRun

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
WARN = "warn"

EXIT_PASS = 0  # the gate passed (warnings allowed)
EXIT_FAIL = 1  # the gate failed
EXIT_CONFIG = 2  # bad configuration or usage; nothing was judged
EXIT_UNKNOWN = 3  # no failure, but a stage's measurement could not be trusted
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; the summary is still written
EXIT_CODES = {PASS: EXIT_PASS, FAIL: EXIT_FAIL, UNKNOWN: EXIT_UNKNOWN}

SHOWN_NAMES = 5


@dataclass(frozen=True)
class Finding:
    severity: str  # fail | warn | unknown
    stage: str
    message: str


@dataclass(frozen=True)
class Assessment:
    stage: Stage
    requirement: str
    run: StageRun
    report: StageReport | None
    status: str  # passed flaky failed crashed "timed out" interrupted "not run" skipped missing unknown
    reason: str = ""
    checks: tuple[Check, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def blocks(self) -> bool:
        """A failing required stage: the runner stops after it (a missing stage never stops it)."""
        return self.status != "missing" and any(f.severity == FAIL for f in self.findings)


@dataclass(frozen=True)
class Verdict:
    verdict: str
    exit_code: int
    assessments: tuple[Assessment, ...]
    interrupted: bool = False

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for a in self.assessments for f in a.findings)


def assess(
    stage: Stage, requirement: str, run: StageRun, report: StageReport | None, policy: Policy, strict: bool = False
) -> Assessment:
    """Judge one stage.  ``strict``: an optional stage's failure fails too (a CI stage job)."""
    severity = FAIL if requirement == "required" or strict else WARN

    def done(
        status: str, reason: str = "", findings: tuple[tuple[str, str], ...] = (), checks: tuple[Check, ...] = ()
    ) -> Assessment:
        return Assessment(
            stage,
            requirement,
            run,
            report,
            status,
            reason,
            checks,
            tuple(Finding(sev, stage.name, msg) for sev, msg in findings),
        )

    if requirement == "skip":  # the policy's word wins over whatever else is true of the stage
        return done("skipped", f"skipped by the {policy.branch_type} policy")
    if run.status == SKIPPED:
        return done("skipped", run.reason or f"skipped by the {policy.branch_type} policy")
    if run.status == MISSING:
        missing = policy.missing if requirement == "required" else WARN
        return done("missing", run.reason, ((missing, f"missing: {run.reason}"),))
    if run.status == NOT_RUN:
        return done("not run", run.reason, ((severity, f"not run: {run.reason}"),))
    if run.status == INTERRUPTED:
        return done("interrupted", run.reason, ((FAIL, run.reason),))
    if run.status == TIMED_OUT:
        return done("timed out", run.reason, ((severity, run.reason),))
    assert run.status in (COMPLETED, UNRECORDED), run.status

    exit_note = _exit_note(run)
    if report is None or report.problem:
        problem = report.problem if report is not None and report.problem else f"no JUnit report for stage {stage.name}"
        crashed = run.exit_code not in (None, 0)
        reason = f"{problem}; {exit_note}" if crashed else problem
        return done("crashed" if crashed else "failed", reason, ((severity, reason),))

    checks = check_all(stage.thresholds, report.metrics)
    reasons = []
    failing = report.counts.failed + report.counts.errors
    if failing:
        reasons.append(f"{failing} failed test{'s' if failing > 1 else ''}: {_names(report.failed)}")
    elif run.exit_code not in (None, 0):
        reasons.append(f"{exit_note} although its JUnit report shows no failing test")
    misses = [f"threshold {c.threshold!r} not met: {c.detail}" for c in checks if not c.passed]
    if report.trusted:
        reasons += misses
    # else: a measurement the stage itself does not trust judges nothing, either way: the
    # verdict is unknown (below), and the misses are said as what they are, not as failures
    flaky_note = (
        f"{len(report.flaky)} flaky test{'s' if len(report.flaky) > 1 else ''} "
        f"(failed, then passed on rerun): {_names(report.flaky)}"
    )
    if reasons:
        found = tuple((severity, r) for r in reasons)
        if report.flaky:  # a failing stage's flaky tests are findings too, not hidden behind its failure
            found += ((policy.flaky if severity == FAIL else WARN, flaky_note),)
        return done("failed", "; ".join(reasons), found, checks)

    status, notes = "passed", []
    untrusted = (
        [f"measurement not trusted: {report.untrusted_reason or 'pipeline.trusted=false'}"]
        if not report.trusted
        else []
    )
    untrusted += [f"measurement unreadable: {bad}" for bad in report.bad_metrics]
    if not report.trusted and misses:
        untrusted.append("not judged, since the measurement is not trusted: " + "; ".join(misses))
    if untrusted:
        status = "unknown"
        notes += [(UNKNOWN if severity == FAIL else WARN, msg) for msg in untrusted]
    if report.flaky:
        status = "flaky" if status == "passed" else status
        flaky_severity = policy.flaky if severity == FAIL else WARN
        notes.append((flaky_severity, flaky_note))
    if report.counts.skipped == report.counts.tests:
        notes.append((WARN, f"all {report.counts.tests} tests were skipped"))
    return done(status, "; ".join(msg for _, msg in notes), tuple(notes), checks)


def judge(assessments: tuple[Assessment, ...], interrupted: bool = False) -> Verdict:
    severities = {f.severity for a in assessments for f in a.findings}
    if interrupted:
        severities.add(FAIL)
    verdict = FAIL if FAIL in severities else UNKNOWN if UNKNOWN in severities else PASS
    return Verdict(verdict, EXIT_INTERRUPTED if interrupted else EXIT_CODES[verdict], assessments, interrupted)


def junit_cases(verdict: Verdict) -> list[Case]:
    """The pipeline's own test cases for the merged report: one per stage, one per threshold."""
    cases = []
    for a in verdict.assessments:
        severities = {f.severity for f in a.findings}
        if a.status in ("skipped", "not run") or (a.status == "missing" and FAIL not in severities):
            outcome = "skipped"
        elif a.status == "unknown" or a.status == "interrupted":
            outcome = "error"
        elif a.status in ("failed", "crashed", "timed out") or FAIL in severities:
            outcome = "failure"
        else:
            outcome = "passed"
        message = a.reason if a.reason.startswith(a.status) else f"{a.status}: {a.reason}" if a.reason else a.status
        props: tuple[tuple[str, str], ...] = (("pipeline.requirement", a.requirement), ("pipeline.status", a.status))
        if a.run.elapsed_s is not None:
            props += (("pipeline.elapsed_s", f"{a.run.elapsed_s:.3f}"),)
        cases.append(
            Case(
                f"pipeline.{a.stage.name}",
                f"stage {a.stage.name}",
                outcome,
                message if outcome != "passed" else "",
                "",
                props,
            )
        )
        for check in a.checks:
            cases.append(
                Case(
                    f"pipeline.{a.stage.name}.thresholds",
                    repr(check.threshold),
                    "passed" if check.passed else "failure",
                    check.detail,
                    properties=(("measured", "" if check.measured is None else f"{check.measured:g}"),),
                )
            )
    return cases


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" (+{len(names) - SHOWN_NAMES} more)" if len(names) > SHOWN_NAMES else "")


def _exit_note(run: StageRun) -> str:
    if run.exit_code is None:
        return "exit code not recorded"
    if run.exit_code < 0:
        return run.reason or f"killed by signal {-run.exit_code}"
    return f"nox exited with {run.exit_code}"
