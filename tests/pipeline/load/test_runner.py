"""The whole stage, end to end and small: a 2-node cluster of the toolkit's
ping node, a tiny locustfile, 2 users for 4 s; the reports written, the gate
reading them, nothing left running."""

from __future__ import annotations

from pathlib import Path

import psutil

from pipeline.load.config import from_mapping
from pipeline.load.locust import LocustOptions
from pipeline.load.runner import RunOptions, run_stage
from pipeline.report.junit import read_report

LOCUSTFILE = """
from locust import FastHttpUser, constant_throughput, task


class Ping(FastHttpUser):
    wait_time = constant_throughput(5)

    @task
    def ping(self):
        self.client.get("/ping", name="ping")
"""


def config_for(tmp_path: Path):
    (tmp_path / "ping.py").write_text(LOCUSTFILE)
    data = {
        "stages": {"performance": {"thresholds": ["p95_ms < 5000", "error_rate < 0.5"]}},
        "performance": {
            "nodes": 2,
            "command": ["{python}", "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}"],
            "reports": "reports/performance",
            "junit": "reports/performance.xml",
            "ramp_s": 0.5,
            "grace_s": 30,
            "progress_interval_s": 1,
            "telemetry": {"interval_s": 0.5, "paths": {"status": "/health"}, "fields": {"status": "status:status"}},
            "patterns": {
                "ping": {
                    "locustfile": "ping.py",
                    "users": 2,
                    "duration_s": 60,
                    "ci_duration_s": 4,
                    "operations": {"ping": 10},
                },
            },
        },
    }
    return from_mapping(data, "test.toml", tmp_path)


def test_a_small_stage_end_to_end(tmp_path):
    config = config_for(tmp_path)
    lines: list[str] = []
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    results, junit = run_stage(config, RunOptions(seed=11, locust=LocustOptions(stop_timeout_s=1)), say=lines.append)
    assert [r.name for r in results] == ["ping"] and results[0].error == "", results[0].error
    out = tmp_path / "reports" / "performance" / "ping"
    for name in (
        "locust_stats.csv",
        "locust_stats_history.csv",
        "report.html",
        "locust.log",
        "telemetry.csv",
        "result.json",
    ):
        assert (out / name).is_file(), name
    report = read_report(junit)
    assert report.problem is None and report.counts.tests == 3
    assert report.metrics["ping.requests"] > 0 and "throughput_ops" in report.metrics
    assert any(line.startswith("== Ping (ping):") for line in lines)
    assert any("seed=11" in line and "--seed 11" in line for line in lines)
    # the cluster is torn down and Locust is gone
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not [p for p in left if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
