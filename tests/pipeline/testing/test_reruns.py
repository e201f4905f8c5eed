"""pipeline.testing.reruns: a test re-run by pytest-rerunfailures carries its
rerun count into JUnit, so the reader sees flaky tests whatever layout the
installed pytest-rerunfailures writes."""

from __future__ import annotations

from pipeline.report.junit import read_report

pytest_plugins = ["pytester"]

FLAKY = """
from pathlib import Path

def test_fails_once(tmp_path_factory):
    mark = Path(__file__).with_name("attempted")
    first = not mark.exists()
    mark.write_text("x")
    assert not first, "first attempt fails"

def test_steady():
    pass
"""


def test_a_rerun_test_is_flaky_in_the_report(pytester):
    pytester.makepyfile(test_flaky=FLAKY)
    result = pytester.runpytest_subprocess(
        "-p", "pipeline.testing.reruns", "--reruns", "1", "--junitxml=out.xml", "-o", "junit_family=xunit2"
    )
    assert result.parseoutcomes().get("rerun") == 1 and result.parseoutcomes().get("passed") == 2
    text = (pytester.path / "out.xml").read_text()
    assert 'name="pipeline.reruns" value="1"' in text
    report = read_report(pytester.path / "out.xml")
    assert report.flaky == ("test_flaky::test_fails_once",)
    assert report.counts.tests == 2 and report.counts.flaky == 1


def test_a_test_that_never_reran_has_no_rerun_property(pytester):
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "pipeline.testing.reruns", "--reruns", "1", "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    assert "pipeline.reruns" not in (pytester.path / "out.xml").read_text()
