from pathlib import Path

import pytest

from pipeline.report.gate import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_UNKNOWN,
    FAIL,
    PASS,
    UNKNOWN,
    WARN,
    assess,
    judge,
    junit_cases,
)
from pipeline.report.junit import Counts, StageReport, read_report
from pipeline.report.threshold import parse_threshold
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, INTERRUPTED, MISSING, NOT_RUN, SKIPPED, TIMED_OUT, UNRECORDED, StageRun

DATA = Path(__file__).parents[1] / "data"
FEATURE = Policy("feature", (("s", "required"),), flaky="warn", missing="warn")
RELEASE = Policy("release", (("s", "required"),), flaky="fail", missing="fail")


def stage(*thresholds: str) -> Stage:
    return Stage("s", "s", DATA / "s.xml", 60.0, thresholds=tuple(parse_threshold(t) for t in thresholds))


def report(name: str) -> StageReport:
    return read_report(DATA / name, name)


def ok(exit_code: int = 0) -> StageRun:
    return StageRun("s", COMPLETED, exit_code=exit_code, elapsed_s=1.0)


def severities(a) -> list[str]:
    return [f.severity for f in a.findings]


def test_passing_stage():
    clean = StageReport(DATA / "x.xml", counts=Counts(tests=3, passed=3))
    a = assess(stage(), "required", ok(), clean, FEATURE)
    assert (a.status, a.findings, a.blocks) == ("passed", (), False)
    assert judge((a,)).exit_code == EXIT_PASS


def test_unreadable_metric_is_unknown():
    a = assess(stage(), "required", ok(), report("performance_metrics.xml"), FEATURE)
    assert a.status == "unknown" and severities(a) == [UNKNOWN]
    assert a.reason == "measurement unreadable: metric.memory_ratio='high' is not a number"


@pytest.mark.parametrize("requirement, severity, blocks", [("required", FAIL, True), ("optional", WARN, False)])
def test_failed_tests_fail_a_required_stage_and_warn_for_an_optional_one(requirement, severity, blocks):
    a = assess(stage(), requirement, ok(1), report("pytest_xunit2.xml"), FEATURE)
    assert a.status == "failed"
    assert a.reason == "2 failed tests: test_sample::test_fails, test_sample::test_setup_error"
    assert severities(a) == [severity] and a.blocks is blocks


def test_strict_makes_an_optional_failure_fail():
    a = assess(stage(), "optional", ok(1), report("pytest_xunit2.xml"), FEATURE, strict=True)
    assert severities(a) == [FAIL]


@pytest.mark.parametrize(
    "name, status, reason",
    [
        (
            "truncated.xml",
            "crashed",
            "malformed JUnit truncated.xml: unclosed token: line 1, column 217; nox exited with 1",
        ),
        ("absent.xml", "crashed", "no JUnit report at absent.xml; nox exited with 1"),
        ("no_tests.xml", "crashed", "JUnit no_tests.xml has no test cases; nox exited with 1"),
    ],
)
def test_a_stage_without_usable_junit_is_a_failing_case_saying_so(name, status, reason):
    a = assess(stage(), "required", ok(1), report(name), FEATURE)
    assert (a.status, a.reason, severities(a)) == (status, reason, [FAIL])
    (case,) = junit_cases(judge((a,)))
    assert case.outcome == "failure" and reason in case.message


def test_no_report_after_a_clean_exit_still_fails():
    a = assess(stage(), "required", ok(0), report("absent.xml"), FEATURE)
    assert (a.status, a.reason) == ("failed", "no JUnit report at absent.xml")


def test_killed_by_a_signal():
    run = StageRun("s", COMPLETED, "killed by SIGKILL", exit_code=-9, elapsed_s=3.0)
    a = assess(stage(), "required", run, report("absent.xml"), FEATURE)
    assert a.status == "crashed" and a.reason.endswith("killed by SIGKILL")


def test_nonzero_exit_with_a_clean_report_fails():
    clean = StageReport(DATA / "x.xml", counts=Counts(tests=1, passed=1))
    a = assess(stage(), "required", ok(2), clean, FEATURE)
    assert a.status == "failed" and a.reason == "nox exited with 2 although its JUnit report shows no failing test"


def test_timed_out_and_interrupted():
    timed = assess(stage(), "optional", StageRun("s", TIMED_OUT, "timed out after 60 s", -15, 60.0), None, FEATURE)
    assert (timed.status, timed.reason, severities(timed)) == ("timed out", "timed out after 60 s", [WARN])
    stopped = assess(
        stage(), "optional", StageRun("s", INTERRUPTED, "interrupted by SIGINT after 2.0 s"), None, FEATURE
    )
    assert (stopped.status, severities(stopped)) == ("interrupted", [FAIL])


@pytest.mark.parametrize(
    "policy, requirement, severity",
    [(FEATURE, "required", WARN), (RELEASE, "required", FAIL), (RELEASE, "optional", WARN)],
)
def test_missing_session_follows_the_policy(policy, requirement, severity):
    run = StageRun("s", MISSING, "no nox session 's' in noxfile.py")
    a = assess(stage(), requirement, run, None, policy)
    assert a.status == "missing"
    assert [(f.severity, f.message) for f in a.findings] == [(severity, "missing: no nox session 's' in noxfile.py")]
    assert not a.blocks  # a missing stage never halts the run


def test_not_run_and_skipped():
    not_run = assess(
        stage(), "required", StageRun("s", NOT_RUN, "halted after required stage 'u' failed"), None, FEATURE
    )
    assert not_run.status == "not run" and severities(not_run) == [FAIL]
    assert not_run.findings[0].message == "not run: halted after required stage 'u' failed"
    skipped = assess(stage(), "skip", StageRun("s", SKIPPED, "skipped by the feature policy"), None, FEATURE)
    assert (skipped.status, skipped.findings) == ("skipped", ())


@pytest.mark.parametrize(
    "policy, severity, verdict, code", [(FEATURE, WARN, PASS, EXIT_PASS), (RELEASE, FAIL, FAIL, EXIT_FAIL)]
)
def test_flaky_fails_on_release_and_warns_elsewhere(policy, severity, verdict, code):
    r = report("pytest_reruns_xdist.xml")
    only_flaky = StageReport(r.path, counts=Counts(tests=2, passed=2, flaky=1), flaky=r.flaky)
    a = assess(stage(), "required", ok(), only_flaky, policy)
    assert a.status == "flaky" and severities(a) == [severity]
    assert a.findings[0].message == "1 flaky test (failed, then passed on rerun): test_flaky::test_flaky"
    v = judge((a,))
    assert (v.verdict, v.exit_code) == (verdict, code)


def test_untrusted_measurement_gives_unknown_and_exit_3():
    a = assess(stage("p95_ms < 500"), "required", ok(), report("performance_untrusted.xml"), RELEASE)
    assert a.status == "unknown"
    assert a.findings[0].message == "measurement not trusted: load generator saturated: CPU at 100%"
    assert [c.passed for c in a.checks] == [True]
    v = judge((a,))
    assert (v.verdict, v.exit_code) == (UNKNOWN, EXIT_UNKNOWN)
    assert junit_cases(v)[0].outcome == "error"


def test_untrusted_optional_stage_only_warns():
    a = assess(stage(), "optional", ok(), report("performance_untrusted.xml"), FEATURE)
    assert severities(a) == [WARN] and judge((a,)).verdict == PASS


def test_thresholds_are_checked_with_measured_values():
    a = assess(
        stage("p95_ms < 500", "throughput_ops >= 1000", "error_rate < 0.01"),
        "required",
        ok(),
        report("performance_metrics.xml"),
        FEATURE,
    )
    assert a.status == "failed"
    assert [(repr(c.threshold), c.measured, c.passed) for c in a.checks] == [
        ("p95_ms < 500", 612.5, False),
        ("throughput_ops >= 1000", 1310.0, True),
        ("error_rate < 0.01", None, False),
    ]
    assert a.reason == (
        "threshold p95_ms < 500 not met: measured 612.5; "
        "threshold error_rate < 0.01 not met: metric 'error_rate' not reported"
    )
    cases = junit_cases(judge((a,)))
    assert [(c.name, c.outcome) for c in cases[1:]] == [
        ("p95_ms < 500", "failure"),
        ("throughput_ops >= 1000", "passed"),
        ("error_rate < 0.01", "failure"),
    ]


def test_all_skipped_warns():
    r = report("nested.xml")
    a = assess(
        stage(), "required", StageRun("s", UNRECORDED), StageReport(r.path, counts=Counts(tests=2, skipped=2)), FEATURE
    )
    assert severities(a) == [WARN] and a.reason == "all 2 tests were skipped"


def test_verdict_precedence_and_exit_codes():
    fail = assess(stage(), "required", ok(1), report("pytest_xunit2.xml"), FEATURE)
    unknown = assess(stage(), "required", ok(), report("performance_untrusted.xml"), FEATURE)
    warn = assess(stage(), "optional", ok(1), report("pytest_xunit2.xml"), FEATURE)
    assert judge((unknown, fail)).exit_code == EXIT_FAIL
    assert judge((unknown, warn)).exit_code == EXIT_UNKNOWN
    assert judge((warn,)).exit_code == EXIT_PASS
    assert judge((warn,), interrupted=True).exit_code == EXIT_INTERRUPTED
    assert judge((warn,), interrupted=True).verdict == FAIL
    assert len({EXIT_PASS, EXIT_FAIL, EXIT_UNKNOWN, EXIT_INTERRUPTED, 2}) == 5


def test_missing_warned_is_a_skipped_case_and_failed_is_a_failure():
    warned = assess(stage(), "required", StageRun("s", MISSING, "no nox session 's' in noxfile.py"), None, FEATURE)
    failed = assess(stage(), "required", StageRun("s", MISSING, "no nox session 's' in noxfile.py"), None, RELEASE)
    assert junit_cases(judge((warned,)))[0].outcome == "skipped"
    assert junit_cases(judge((failed,)))[0].outcome == "failure"
    assert junit_cases(judge((failed,)))[0].message == "missing: no nox session 's' in noxfile.py"


def test_an_untrusted_measurement_is_unknown_even_when_a_threshold_is_missed():
    """A saturated load generator measures itself: its numbers neither pass nor fail the service."""
    a = assess(stage("throughput_ops >= 5000"), "required", ok(), report("performance_untrusted.xml"), FEATURE)
    assert a.status == "unknown" and not a.blocks
    assert "load generator saturated" in a.reason
    assert "not judged, since the measurement is not trusted: threshold throughput_ops >= 5000 not met" in a.reason
    assert judge((a,)).exit_code == EXIT_UNKNOWN
