"""Record pytest-rerunfailures' reruns in JUnit, whatever its version writes.

pytest-rerunfailures 16.7 writes every attempt as its own ``<testcase>``; 16.6
writes only the last attempt, so a test that failed and then passed on its
re-run looks like a plain pass and the flaky-test policy could never fire.
Both versions set ``report.rerun`` (how many attempts came before), so this
plugin adds it to the test's JUnit properties as ``pipeline.reruns``, which
:mod:`pipeline.report.junit` reads: a passed test with reruns is flaky.

Loaded with the toolkit's pytest plugin (:mod:`pipeline.testing.pytest_plugin`).
"""

from __future__ import annotations

import pytest

RERUNS_PROPERTY = "pipeline.reruns"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # junitxml writes a test's properties from its teardown report: put the count there
    reruns = getattr(report, "rerun", 0)
    outcome: str = report.outcome  # pytest-rerunfailures adds "rerun" to pytest's outcomes
    if report.when == "teardown" and outcome != "rerun" and isinstance(reruns, int) and reruns > 0:
        if not any(name == RERUNS_PROPERTY for name, _ in report.user_properties):
            report.user_properties = [*report.user_properties, (RERUNS_PROPERTY, str(reruns))]
