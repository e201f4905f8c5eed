"""reports/performance.xml as the gate reads it (pipeline.report)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.load.config import load
from pipeline.load.junit import write_report
from pipeline.load.results import evaluate
from pipeline.report.gate import assess, judge
from pipeline.report.junit import read_report
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, StageRun
from tests.pipeline.load.test_results import LIMIT, NODES, STEADY, stats_for

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load(ROOT / "pipeline.toml")
MAIN = Policy("main", (("performance", "required"),), flaky="warn", missing="warn")


def gate(path: Path, thresholds=None):
    stage = Stage(
        "performance",
        "performance",
        path,
        900.0,
        thresholds=CONFIG.stage_thresholds if thresholds is None else thresholds,
    )
    report = read_report(path)
    assessment = assess(
        stage, "required", StageRun("performance", COMPLETED, exit_code=0, elapsed_s=30.0), report, MAIN
    )
    return report, assessment, judge((assessment,))


def steady(achieved=6.0, **kw):
    return evaluate(CONFIG, STEADY, stats_for(achieved, **kw), NODES, duration_s=25, limit=LIMIT)


def write(tmp_path, results, **kw):
    return write_report(
        tmp_path / "performance.xml",
        results,
        CONFIG.stage_thresholds,
        seed=5,
        replay="nox -s performance -- --seed 5",
        **kw,
    )


def test_one_case_per_criterion_per_pattern_and_metrics_for_the_gate(tmp_path):
    path = write(tmp_path, [steady()])
    report, assessment, verdict = gate(path, thresholds=())
    names = {c.name for s in report.suites for c in s.cases}
    assert {"run steady_state_coordination", "p95_ms < 500", "throughput_ratio >= 0.9"} <= names
    assert report.counts.tests == 1 + len(STEADY.thresholds) and report.counts.failed == 0
    assert report.metrics["p95_ms"] == 20 and report.metrics["steady_state_coordination.p95_ms"] == 20
    assert report.trusted and assessment.status == "passed" and verdict.exit_code == 0


def test_a_missed_criterion_is_a_failing_case_with_the_measured_value(tmp_path):
    path = write(tmp_path, [steady(failures=10)])
    report, assessment, verdict = gate(path, thresholds=())
    assert report.failed == ("performance.steady_state_coordination::error_rate < 0.01",)
    measured = round(10 / report.metrics["requests"], 4)
    assert f'message="measured {measured:g}; threshold error_rate &lt; 0.01"' in path.read_text()
    assert assessment.status == "failed" and verdict.exit_code == 1


def test_an_unreachable_stage_threshold_fails_the_gate_with_the_measured_value(tmp_path):
    from pipeline.report.threshold import parse_threshold

    path = write(tmp_path, [steady()])
    _, assessment, verdict = gate(path, thresholds=(parse_threshold("p95_ms < 1"),))
    assert assessment.status == "failed" and "threshold p95_ms < 1 not met: measured 20" in assessment.reason
    assert verdict.exit_code == 1


def test_an_untrusted_pattern_is_not_judged_and_the_gate_says_unknown(tmp_path):
    result = dataclasses.replace(
        steady(failures=10), trusted=False, untrusted_reason="the generator was the bottleneck"
    )
    trusted = steady()
    path = write(tmp_path, [result, trusted])
    report, assessment, verdict = gate(path, thresholds=())
    assert not report.trusted and report.untrusted_reason == "the generator was the bottleneck"
    assert report.counts.failed == 0 and report.counts.skipped == len(STEADY.thresholds)
    assert assessment.status == "unknown" and verdict.exit_code == 3


def test_a_broken_run_is_an_error_case(tmp_path):
    broken = dataclasses.replace(steady(), error="Locust exited 2: no such option")
    path = write(tmp_path, [broken])
    report, assessment, verdict = gate(path, thresholds=())
    assert report.failed == ("performance::run steady_state_coordination",)
    assert verdict.exit_code == 1


def test_an_injected_failure_fails_the_stage(tmp_path):
    path = write(tmp_path, [steady()], injected="failure injected into stage 'performance'")
    report, _, verdict = gate(path, thresholds=())
    assert report.failed == ("performance::no failure injected",) and verdict.exit_code == 1
