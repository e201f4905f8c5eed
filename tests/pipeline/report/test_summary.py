import json
from pathlib import Path

import pytest

from pipeline.report import summary
from pipeline.report.gate import assess, judge
from pipeline.report.junit import read_report
from pipeline.report.threshold import parse_threshold
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, MISSING, NOT_RUN, SKIPPED, StageRun

DATA = Path(__file__).parents[1] / "data"
POLICY = Policy("feature", (), flaky="warn", missing="warn")
META = {"mode": "pipeline", "branch_type": "feature", "branch": "refs/heads/feature/x", "elapsed_s": 12.5}


def st(name: str, report: str, *thresholds: str) -> Stage:
    return Stage(name, name, DATA / report, 60.0, thresholds=tuple(parse_threshold(t) for t in thresholds))


@pytest.fixture
def verdict():
    unit = st("unit", "pytest_reruns_xdist.xml")
    perf = st("performance", "performance_metrics.xml", "p95_ms < 500", "throughput_ops >= 1000")
    multinode, chaos = st("multinode", "absent.xml"), st("chaos", "absent.xml")
    return judge(
        (
            assess(
                unit,
                "required",
                StageRun("unit", COMPLETED, exit_code=1, elapsed_s=3.25),
                read_report(unit.report, "reports/unit.xml"),
                POLICY,
            ),
            assess(
                perf,
                "optional",
                StageRun("performance", COMPLETED, exit_code=0, elapsed_s=61.0),
                read_report(perf.report),
                POLICY,
            ),
            assess(
                multinode,
                "required",
                StageRun("multinode", MISSING, "no nox session 'multinode' in noxfile.py"),
                None,
                POLICY,
            ),
            assess(chaos, "skip", StageRun("chaos", SKIPPED, "skipped by the feature policy"), None, POLICY),
        )
    )


def test_json_has_stages_counts_times_thresholds_and_verdict(verdict):
    data = summary.to_json(verdict, META, DATA)
    json.dumps(data)  # serialisable
    assert (data["verdict"], data["exit_code"], data["branch_type"]) == ("fail", 1, "feature")
    assert [s["name"] for s in data["stages"]] == ["unit", "performance", "multinode", "chaos"]
    assert [s["status"] for s in data["stages"]] == ["failed", "failed", "missing", "skipped"]
    unit = data["stages"][0]
    assert unit["counts"] == {"tests": 3, "passed": 2, "failed": 1, "errors": 0, "skipped": 0, "flaky": 1}
    assert unit["flaky_tests"] == ["test_flaky::test_flaky"]
    assert (unit["elapsed_s"], unit["report"], unit["requirement"]) == (3.25, "pytest_reruns_xdist.xml", "required")
    perf = data["stages"][1]
    assert perf["thresholds"] == [
        {
            "threshold": "p95_ms < 500",
            "metric": "p95_ms",
            "op": "<",
            "limit": 500.0,
            "measured": 612.5,
            "passed": False,
        },
        {
            "threshold": "throughput_ops >= 1000",
            "metric": "throughput_ops",
            "op": ">=",
            "limit": 1000.0,
            "measured": 1310.0,
            "passed": True,
        },
    ]
    assert data["stages"][2]["counts"] is None
    assert data["stages"][2]["reason"] == "no nox session 'multinode' in noxfile.py"
    assert data["totals"]["tests"] == 4
    assert {
        "severity": "warn",
        "stage": "multinode",
        "message": "missing: no nox session 'multinode' in noxfile.py",
    } in data["findings"]


def test_markdown_is_a_table_fit_for_a_step_summary(verdict):
    md = summary.markdown(verdict, META)
    lines = md.splitlines()
    assert lines[0] == "## ❌ Pipeline verdict: **FAIL**"
    header = next(i for i, line in enumerate(lines) if line.startswith("| Stage |"))
    rows = lines[header + 2 : header + 6]
    assert [r.split("|")[1].strip() for r in rows] == ["unit", "performance", "multinode", "chaos"]
    assert all(r.count("|") == lines[header].count("|") for r in rows)
    assert "| performance | `p95_ms < 500` | 612.5 | ❌ fail |" in md
    assert "`multinode`: missing: no nox session 'multinode' in noxfile.py" in md


def test_markdown_escapes_pipes():
    stage = st("x", "absent.xml")
    v = judge((assess(stage, "required", StageRun("x", NOT_RUN, "a | b"), None, POLICY),))
    assert "a \\| b" in summary.markdown(v, META)


def test_terminal_table_and_verdict_line(verdict):
    text = summary.terminal(verdict, META)
    assert "Pipeline summary (feature policy for refs/heads/feature/x)" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("unit "))
    assert row.split() == ["unit", "required", "failed", "3", "2", "1", "0", "1", "3.2s"]
    assert "FAIL  performance: p95_ms < 500 (measured 612.5)" in text
    assert text.rstrip().endswith("Verdict: FAIL (exit code 1) after 12.5s")


def test_write_creates_both_files(verdict, tmp_path):
    md, js = summary.write(verdict, META, tmp_path / "reports", DATA)
    assert md.read_text().startswith("## ❌")
    assert json.loads(js.read_text())["verdict"] == "fail"


def test_markdown_links_the_plots_the_stages_drew(tmp_path):
    (tmp_path / "performance" / "hft").mkdir(parents=True)
    (tmp_path / "performance" / "hft" / "hft.png").write_bytes(b"\x89PNG")
    (tmp_path / "stray.png").write_bytes(b"\x89PNG")  # not a stage's: not listed
    assert summary.plots_in(tmp_path) == ("performance/hft/hft.png",)
    text = summary.markdown(judge(()), {"branch_type": "main"}, summary.plots_in(tmp_path))
    assert "### Plots" in text and "- [performance/hft/hft.png](performance/hft/hft.png)" in text
