"""The stage end to end on a real small cluster of ping nodes (a few seconds), and its outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline.chaos.config import from_mapping
from pipeline.chaos.runner import RunOptions, run_stage
from pipeline.report.gate import assess, judge
from pipeline.report.junit import read_report
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, StageRun

ROOT = Path(__file__).resolve().parents[3]
PING = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}", "--peers", "{peers}"]
RELEASE = Policy("release", (("chaos", "required"),), flaky="fail", missing="fail")


def config(tmp_path: Path, workload: str = "ping", **scenario):
    table = {
        "duration_s": 2,
        "nodes": 3,
        "warmup_s": 1,
        "cooldown_s": 1,
        "seed": 7,
        "recovery_timeout_s": 20,
        "workload": {"name": workload, "rate_ops": 20, "threads": 2, "timeout_s": 5, "min_rate_ratio": 0.0},
        "conditions": [
            {"kind": "partition", "shape": "isolate", "rounds": 1, "start_s": 0.2, "interval_s": 1, "hold_s": 1},
        ],
        "criteria": ["availability >= 0.5", "data_consistency == 1", "recovery_time <= 20"],
        **scenario,
    }
    return from_mapping(
        {
            "command": PING,
            "reports": str(tmp_path / "chaos"),
            "junit": str(tmp_path / "chaos.xml"),
            "workloads": {
                "ping": "tests.pipeline.chaos.helpers:ping",
                "broken": "tests.pipeline.chaos.helpers:broken",
            },
            "scenarios": {"ping_partition": table},
        },
        "test.toml",
        ROOT,
    )


def gate(path: Path):
    report = read_report(path)
    run = StageRun("chaos", COMPLETED, exit_code=0, elapsed_s=10.0)
    assessment = assess(Stage("chaos", "chaos", path, 600.0), "required", run, report, RELEASE)
    return report, assessment, judge((assessment,))


def test_a_scenario_runs_end_to_end_and_writes_every_output(tmp_path):
    lines: list[str] = []
    results, junit = run_stage(config(tmp_path), RunOptions(), say=lines.append)
    (result,) = results
    out = tmp_path / "chaos" / "ping_partition"
    assert result.error == "" and result.trusted, (result.error, result.problems)
    for name in ("schedule.json", "history.jsonl", "faults.log", "executed.json", "result.json", "timeline.png"):
        assert (out / name).is_file(), name
    assert list((out / "cluster").glob("*/n1.log"))
    executed = json.loads((out / "executed.json").read_text())
    assert [e["action"] for e in executed] == ["partition", "revert"] and "problem" not in executed[0]
    assert "partition" in (out / "faults.log").read_text() and "verified" in (out / "faults.log").read_text()
    assert result.metrics["data_consistency"] == 1.0 and result.metrics["ops"] > 0
    assert {"availability.before", "availability.during", "availability.after"} <= set(result.metrics)
    assert result.metrics["recovery_time"] >= 0
    report, assessment, verdict = gate(junit)
    names = {c.name for s in report.suites for c in s.cases}
    assert {"run ping_partition", "availability >= 0.5", "data_consistency == 1", "recovery_time <= 20"} <= names
    assert report.metrics["ping_partition.data_consistency"] == 1.0
    assert any(line.startswith("[ping_partition] faults ended; recovered") for line in lines)
    assert any("ping_partition" in line and "pass" in line for line in lines[-2:] + lines[-3:])
    assert assessment.status == ("passed" if result.passed else "failed"), assessment.reason


def test_the_same_seed_writes_the_same_schedule_and_a_replay_runs_it(tmp_path):
    first = tmp_path / "first"
    run_stage(config(first), RunOptions(dry_run=True), say=lambda _: None)
    written = (first / "chaos" / "ping_partition" / "schedule.json").read_text()
    replayed, _ = run_stage(
        config(tmp_path), RunOptions(replay=first / "chaos/ping_partition/schedule.json"), say=print
    )
    assert (tmp_path / "chaos" / "ping_partition" / "schedule.json").read_text() == written
    assert replayed[0].seed == 7 and replayed[0].error == ""


def test_a_dry_run_starts_nothing_and_prints_the_schedule(tmp_path):
    lines: list[str] = []
    results, junit = run_stage(config(tmp_path), RunOptions(dry_run=True, seed=3), say=lines.append)
    assert results == [] and junit is None and not (tmp_path / "chaos.xml").exists()
    assert "schedule of ping_partition (seed 3)" in lines[0] and "partition" in lines[0]
    assert not (tmp_path / "chaos" / "ping_partition" / "cluster").exists()


def test_a_run_that_breaks_is_an_error_case_with_the_replay_command(tmp_path):
    results, junit = run_stage(config(tmp_path, workload="broken"), RunOptions(), say=lambda _: None)
    assert results[0].verdict == "error" and "cannot start" in results[0].error
    report, assessment, verdict = gate(junit)
    assert assessment.status == "failed" and verdict.exit_code == 1
    assert "--replay" in results[0].replay


@pytest.mark.parametrize("criteria", [["availability >= 2"]])
def test_a_missed_criterion_fails_with_seed_and_replay(tmp_path, criteria):
    results, junit = run_stage(config(tmp_path, criteria=criteria), RunOptions(), say=lambda _: None)
    assert results[0].verdict == "fail"
    report, assessment, verdict = gate(junit)
    assert verdict.exit_code == 1 and "availability >= 2" in assessment.reason
    text = junit.read_text()
    assert "seed 7; replay: nox -s chaos -- --replay" in text
