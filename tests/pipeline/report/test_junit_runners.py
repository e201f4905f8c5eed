"""JUnit as real runners write it (tests/pipeline/data/runners/, each file made
by running the runner; rerun_layouts.py.txt is the pytest file behind the
pytest-rerunfailures ones).  Every test counts once, every test case read
comes out in the merged report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.report.gate import FAIL, WARN, assess
from pipeline.report.junit import Counts, merged, read_report
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, SKIPPED, StageRun

RUNNERS = Path(__file__).parents[1] / "data" / "runners"
RELEASE = Policy("release", (("s", "required"),), flaky="fail", missing="fail")
FEATURE = Policy("feature", (("s", "skip"),), flaky="warn", missing="warn")


def read(name: str):
    report = read_report(RUNNERS / name, name)
    assert report.problem is None, report.problem
    return report


@pytest.mark.parametrize(
    "name, counts, failed",
    [
        (
            "node_test_runner.xml",
            Counts(tests=5, passed=2, failed=2, skipped=1),
            ("test::top level fails", "test::inner fails"),
        ),
        (
            "ctest.xml",
            Counts(tests=5, passed=1, failed=2, skipped=2),
            ("fails::fails", "missing_executable::missing_executable"),
        ),
        (
            "jest.xml",
            Counts(tests=5, passed=2, failed=2, skipped=1),
            ("auction fails::auction fails",) + ("auction same name::auction same name",),
        ),
        ("mocha.xml", Counts(tests=3, passed=2, failed=1), ("fails::ledger fails",)),
        (
            "pytest_rerunfailures_16.7.xml",
            Counts(tests=5, passed=2, failed=1, errors=1, skipped=1, flaky=1),
            ("test_layouts::test_always_fails", "test_layouts::test_fails_and_teardown_errors"),
        ),
        (
            "pytest_rerunfailures_16.7_with_plugin.xml",
            Counts(tests=5, passed=2, failed=1, errors=1, skipped=1, flaky=1),
            ("test_layouts::test_always_fails", "test_layouts::test_fails_and_teardown_errors"),
        ),
        (
            "pytest_rerunfailures_16.6_with_plugin.xml",
            Counts(tests=5, passed=2, failed=1, errors=1, skipped=1, flaky=1),
            ("test_layouts::test_always_fails", "test_layouts::test_fails_and_teardown_errors"),
        ),
    ],
)
def test_each_test_counts_once_with_the_outcome_its_runner_gave(name, counts, failed):
    report = read(name)
    assert report.counts == counts
    assert report.failed == failed  # each failing test named once, however many elements it had


def test_flaky_tests_are_seen_in_both_rerunfailures_layouts():
    for name in ("pytest_rerunfailures_16.7.xml", "pytest_rerunfailures_16.6_with_plugin.xml"):
        assert read(name).flaky == ("test_layouts::test_fails_once",), name
    # 16.6 alone writes no trace of the first attempt: only the toolkit's plugin can tell
    assert read("pytest_rerunfailures_16.6.xml").flaky == ()


def test_ctest_notrun_is_a_failure_unless_skipped_on_purpose_and_disabled_is_skipped():
    cases = {c.name: c for flat in read("ctest.xml").suites for c in flat.cases}
    assert cases["missing_executable"].is_failure
    assert "Unable to find executable" in cases["missing_executable"].result[0].message
    assert cases["skipped_by_code"].is_skipped and not cases["skipped_by_code"].is_failure
    assert cases["disabled_one"].is_skipped


def test_top_level_failures_fail_the_gate():
    stage = Stage("s", "s", RUNNERS / "node_test_runner.xml", 60.0)
    a = assess(
        stage,
        "required",
        StageRun("s", COMPLETED, exit_code=None, elapsed_s=1.0),
        read("node_test_runner.xml"),
        RELEASE,
    )
    assert a.status == "failed" and a.blocks
    assert "top level fails" in a.reason


def test_a_failing_stage_still_reports_its_flaky_tests():
    stage = Stage("s", "s", RUNNERS / "x.xml", 60.0)
    run = StageRun("s", COMPLETED, exit_code=1, elapsed_s=1.0)
    a = assess(stage, "required", run, read("pytest_rerunfailures_16.7.xml"), RELEASE)
    assert a.status == "failed"
    assert any(f.severity == FAIL and "flaky" in f.message and "test_fails_once" in f.message for f in a.findings)


def test_a_stage_the_policy_skips_says_so_whatever_else_is_true():
    stage = Stage("s", "s", RUNNERS / "x.xml", 60.0)
    run = StageRun("s", SKIPPED, reason="no nox session 's' in noxfile.py")
    a = assess(stage, "skip", run, None, FEATURE)
    assert (a.status, a.reason) == ("skipped", "skipped by the feature policy")
    assert all(f.severity != WARN or "nox" not in f.message for f in a.findings)


@pytest.mark.parametrize("name", sorted(p.name for p in RUNNERS.glob("*.xml")))
def test_the_merged_report_keeps_every_test_and_every_result(name):
    report = read(name)
    xml = merged([("s", report)], [], {})
    root = ET.fromstring(ET.tostring(xml._elem))
    cases = [
        c for suite in root.iter("testsuite") if suite.get("name", "").startswith("s") for c in suite.iter("testcase")
    ]
    assert len(cases) == report.counts.tests
    source = ET.parse(RUNNERS / name).getroot()
    messages_in = sorted(r.get("message") or "" for r in source.iter() if r.tag in ("failure", "error"))
    messages_out = [r.get("message") or "" for c in cases for r in c if r.tag in ("failure", "error")]
    for message in messages_in:  # every failure and error of the runner is in the merged report
        assert any(message in out for out in messages_out), message
