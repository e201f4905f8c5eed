from pathlib import Path

import pytest
from junitparser import JUnitXml, xunit2

from pipeline.report.junit import Case, Counts, merged, read_report, write

DATA = Path(__file__).parents[1] / "data"


def read(name: str):
    return read_report(DATA / name, name)


def test_pytest_xunit1():
    r = read("pytest_xunit1.xml")
    assert r.problem is None
    assert r.counts == Counts(tests=7, passed=3, failed=1, errors=1, skipped=2, flaky=0)
    assert r.failed == ("test_sample::test_fails", "test_sample::test_setup_error")
    assert r.metrics == {"p95_ms": 412.5}  # record_property: a test case property


def test_pytest_xunit2_with_suite_properties():
    r = read("pytest_xunit2.xml")
    assert r.counts == Counts(tests=9, passed=5, failed=1, errors=1, skipped=2, flaky=0)
    assert r.metrics == {"p95_ms": 412.5, "throughput_ops": 1250.0, "error_rate": 0.002}
    assert [s.names for s in r.suites] == [("unit",)]
    assert r.trusted


def test_pytest_rerunfailures_output_is_folded_into_flaky_and_failed():
    # real output of `pytest -n 2 --reruns 1`: 5 <testcase> elements for 3 tests
    r = read("pytest_reruns_xdist.xml")
    assert r.counts == Counts(tests=3, passed=2, failed=1, errors=0, skipped=0, flaky=1)
    assert r.flaky == ("test_flaky::test_flaky",)
    assert r.failed == ("test_flaky::test_always_fails",)
    cases = {c.name: c for c in r.suites[0].cases}
    assert [f.message for f in cases["test_flaky"].flaky_failures()] == ["attempt 1 of 2 failed; passed on rerun"]
    assert cases["test_always_fails"].is_failure and len(cases["test_always_fails"].rerun_failures()) == 1
    assert not cases["test_ok"].interim_result


def test_surefire_flaky_rerun_error_skipped():
    r = read("surefire.xml")
    assert r.counts == Counts(tests=5, passed=2, failed=1, errors=1, skipped=1, flaky=1)
    assert r.flaky == ("com.example.auction.AuctionServiceTest::closesAuction",)
    assert r.failed == (
        "com.example.auction.AuctionServiceTest::rejectsLowBid",
        "com.example.auction.AuctionServiceTest::connectsToNode",
    )
    assert r.metrics == {}  # java.version etc. are not metrics


def test_nested_suites_are_flattened_and_each_case_counted_once():
    r = read("nested.xml")
    assert r.counts == Counts(tests=5, passed=3, failed=1, errors=0, skipped=1, flaky=0)
    assert [s.names for s in r.suites] == [("All",), ("All", "Registry"), ("All", "Economics", "Auctions")]
    assert r.failed == ("Registry::rejects a duplicate",)


def test_trust_and_metrics_of_a_performance_report():
    r = read("performance_untrusted.xml")
    assert not r.trusted
    assert r.untrusted_reason == "load generator saturated: CPU at 100%"
    assert r.metrics["throughput_ops"] == 1310.0


def test_a_non_numeric_metric_is_reported_not_dropped():
    r = read("performance_metrics.xml")
    assert "memory_ratio" not in r.metrics
    assert r.bad_metrics == ("metric.memory_ratio='high' is not a number",)


@pytest.mark.parametrize(
    "name, problem",
    [
        ("truncated.xml", "malformed JUnit truncated.xml: unclosed token"),
        ("empty.xml", "malformed JUnit empty.xml: no element found"),
        ("not_junit.xml", "malformed JUnit not_junit.xml: root element <html> is not <testsuites> or <testsuite>"),
        ("no_tests.xml", "JUnit no_tests.xml has no test cases"),
        ("absent.xml", "no JUnit report at absent.xml"),
    ],
)
def test_broken_reports_say_what_is_wrong(name, problem):
    r = read(name)
    assert r.problem is not None and r.problem.startswith(problem)
    assert r.counts == Counts()


def test_duplicates_that_are_not_reruns_are_kept(tmp_path):
    # same name twice, both with results and `tests` counting both: two tests, not a rerun
    path = tmp_path / "dup.xml"
    path.write_text(
        '<testsuite name="s" tests="2"><testcase classname="c" name="t"><failure/></testcase>'
        '<testcase classname="c" name="t"/></testsuite>'
    )
    r = read_report(path)
    assert r.counts == Counts(tests=2, passed=1, failed=1)
    assert r.flaky == ()


def test_a_rerun_failure_on_a_passing_case_counts_as_flaky(tmp_path):
    path = tmp_path / "r.xml"
    path.write_text(
        '<testsuite name="s"><testcase classname="c" name="t"><rerunFailure message="x"/></testcase>'
        '<testcase classname="c" name="u"><failure/><rerunFailure message="x"/></testcase></testsuite>'
    )
    r = read_report(path)
    assert r.counts == Counts(tests=2, passed=1, failed=1, flaky=1)
    assert r.flaky == ("c::t",) and r.failed == ("c::u",)


def test_trusted_value_that_is_neither_true_nor_false_is_untrusted(tmp_path):
    path = tmp_path / "t.xml"
    path.write_text(
        '<testsuite name="s"><properties><property name="pipeline.trusted" value="maybe"/></properties>'
        '<testcase name="t"/></testsuite>'
    )
    r = read_report(path)
    assert not r.trusted and "neither true nor false" in r.untrusted_reason


def test_merged_report_keeps_every_stage_and_the_pipeline_cases(tmp_path):
    reports = [
        ("unit", read("pytest_reruns_xdist.xml")),
        ("service", read("surefire.xml")),
        ("multinode", read("nested.xml")),
        ("chaos", read("truncated.xml")),
        ("performance", None),
    ]
    cases = [
        Case("pipeline.chaos", "stage chaos", "failure", "crashed: malformed JUnit"),
        Case("pipeline.performance", "stage performance", "skipped", "not run"),
        Case("pipeline.performance.thresholds", "p95_ms < 500", "passed", properties=(("measured", "1"),)),
    ]
    out = write(merged(reports, cases, {"pipeline.verdict": "fail"}), tmp_path / "reports" / "pipeline.xml")

    xml = JUnitXml.fromfile(str(out))  # junitparser reads it back
    names = [s.name for s in xml]
    assert names == [
        "unit/pytest",
        "service/com.example.auction.AuctionServiceTest",
        "multinode/All",
        "multinode/All/Registry",
        "multinode/All/Economics/Auctions",
        "pipeline",
    ]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (3 + 5 + 5 + 3, 1 + 1 + 1 + 1, 1, 1 + 1 + 1)
    suites = {s.name: s for s in xunit2.JUnitXml.fromfile(str(out))}
    flaky = [c for c in suites["unit/pytest"] if c.name == "test_flaky"]
    assert len(flaky) == 1 and flaky[0].is_flaky
    assert any(c.is_flaky for c in suites["service/com.example.auction.AuctionServiceTest"])
    assert {p.name: p.value for p in suites["unit/pytest"].properties()}["pipeline.run.stage"] == "unit"
    own = suites["pipeline"]
    assert {p.name: p.value for p in own.properties()} == {"pipeline.verdict": "fail"}
    chaos = next(c for c in own if c.name == "stage chaos")
    assert chaos.is_failure and chaos.result[0].message == "crashed: malformed JUnit"
    threshold = next(c for c in own if c.name == "p95_ms < 500")
    assert threshold.is_passed and {p.name: p.value for p in threshold.properties()} == {"measured": "1"}


def test_write_replaces_the_file_whole(tmp_path):
    target = tmp_path / "pipeline.xml"
    target.write_text("old")
    write(merged([], [Case("pipeline.x", "stage x")], {}), target)
    assert JUnitXml.fromfile(str(target)).tests == 1
    assert not (tmp_path / "pipeline.xml.tmp").exists()
