"""reports/chaos.xml as the gate reads it: one case per criterion per scenario, trust, replay."""

from __future__ import annotations

import math
from pathlib import Path

from pipeline.chaos.junit import write_report
from pipeline.chaos.model import network_latency, scenario
from pipeline.chaos.result import ScenarioResult
from pipeline.report.gate import assess, judge
from pipeline.report.junit import read_report
from pipeline.report.threshold import check_all
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, StageRun

RELEASE = Policy("release", (("chaos", "required"),), flaky="fail", missing="fail")
SCENARIO = scenario(
    "latency",
    duration_s=10,
    conditions=[network_latency(100, 200)],
    criteria=["availability.during >= 0.8", "data_consistency == 1", "recovery_time <= 30"],
)
REPLAY = "nox -s chaos -- --replay reports/chaos/latency/schedule.json"


def result(problems=(), error="", **metrics):
    values = {"availability": 0.95, "availability.during": 0.9, "data_consistency": 1.0, "recovery_time": 2.5}
    values.update(metrics)
    return ScenarioResult(
        SCENARIO,
        41,
        metrics=values,
        checks=check_all(SCENARIO.criteria, values),
        problems=tuple(problems),
        error=error,
        consistency="[linearizable] INVALID\n  excerpt (3 ops):\n    #0 c1 register 'k1' 'a1' -> ok",
        replay=REPLAY,
        elapsed_s=30.0,
    )


def gate(path: Path):
    report = read_report(path)
    run = StageRun("chaos", COMPLETED, exit_code=0, elapsed_s=30.0)
    assessment = assess(Stage("chaos", "chaos", path, 600.0), "required", run, report, RELEASE)
    return report, assessment, judge((assessment,))


def test_one_case_per_criterion_and_the_metrics(tmp_path):
    report, assessment, verdict = gate(write_report(tmp_path / "chaos.xml", [result()]))
    names = [c.name for s in report.suites for c in s.cases]
    assert names == ["run latency", "availability.during >= 0.8", "data_consistency == 1", "recovery_time <= 30"]
    assert report.metrics["latency.availability.during"] == 0.9 and report.metrics["latency.recovery_time"] == 2.5
    assert report.trusted and assessment.status == "passed" and verdict.exit_code == 0


def test_a_failed_criterion_says_value_threshold_seed_and_replay(tmp_path):
    path = write_report(tmp_path / "chaos.xml", [result(**{"availability.during": 0.42})])
    report, assessment, verdict = gate(path)
    assert assessment.status == "failed" and verdict.exit_code == 1
    assert report.failed == ("chaos.latency.availability.during >= 0.8",) or any(
        "availability.during >= 0.8" in f for f in report.failed
    )
    text = path.read_text()
    assert "measured 0.42; threshold availability.during &gt;= 0.8; seed 41; replay: " + REPLAY in text


def test_data_consistency_failure_carries_the_checkers_excerpt(tmp_path):
    path = write_report(tmp_path / "chaos.xml", [result(data_consistency=0.0)])
    report, assessment, verdict = gate(path)
    assert verdict.exit_code == 1 and "data_consistency == 1" in assessment.reason
    assert "[linearizable] INVALID" in path.read_text() and "excerpt (3 ops)" in path.read_text()


def test_never_recovered_is_a_failure_that_says_so(tmp_path):
    path = write_report(tmp_path / "chaos.xml", [result(recovery_time=math.inf)])
    report, assessment, verdict = gate(path)
    assert verdict.exit_code == 1 and "never (did not happen within the deadline)" in path.read_text()
    assert not report.bad_metrics


def test_an_untrusted_scenario_is_unknown_never_pass(tmp_path):
    path = write_report(tmp_path / "chaos.xml", [result(problems=["fault not in effect: w1 latency: not delayed"])])
    report, assessment, verdict = gate(path)
    assert not report.trusted and "w1 latency" in report.untrusted_reason
    assert report.counts.skipped == 3 and assessment.status == "unknown" and verdict.exit_code == 3


def test_untrusted_and_failing_is_still_unknown_not_fail(tmp_path):
    bad = result(problems=["the workload sent 3.0 ops/s before any fault"], **{"availability.during": 0.1})
    report, assessment, verdict = gate(write_report(tmp_path / "chaos.xml", [bad]))
    assert assessment.status == "unknown" and verdict.exit_code == 3


def test_a_broken_run_is_an_error(tmp_path):
    path = write_report(tmp_path / "chaos.xml", [result(error="RuntimeError: cluster not ready")])
    report, assessment, verdict = gate(path)
    assert report.counts.errors == 1 and assessment.status == "failed" and verdict.exit_code == 1
    assert "seed 41; replay: " + REPLAY in path.read_text()
