"""End-to-end runs of the pipeline on small fake projects (real nox, real subprocesses)."""

import io
import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import JUnitXml

from pipeline.report.gate import EXIT_CONFIG, EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_UNKNOWN
from pipeline.run import runner
from tests.pipeline.data import make_project
from tests.pipeline.run.test_stage import running_with


def project(tmp_path: Path, sessions: dict[str, str], stages: str, feature: str, release: str = "") -> Path:
    names = [line.split(".", 1)[1].rstrip("]") for line in stages.split() if line.startswith("[stages.")]
    release = release or f"required = {json.dumps(names)}"
    config = (
        f"[pipeline]\nkill_grace_s = 2\n{stages}\n[policies.feature]\n{feature}\n"
        f"[policies.main]\nrequired = {json.dumps(names)}\n[policies.release]\n{release}\n"
    )
    return make_project(tmp_path / "proj", sessions, config)


def run(root: Path, mode=runner.pipeline, **options) -> tuple[int, dict, str]:
    out = io.StringIO()
    code = mode(runner.Options(root=root, **options), out)
    summary = json.loads((root / "reports" / "summary.json").read_text())
    return code, summary, out.getvalue()


def statuses(summary: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in summary["stages"]}


def pipeline_cases(root: Path) -> dict[str, object]:
    xml = JUnitXml.fromfile(str(root / "reports" / "pipeline.xml"))
    own = next(s for s in xml if s.name == "pipeline")
    return {c.name: c for c in own}


def test_all_stages_pass(tmp_path):
    root = project(tmp_path, {"a": "pass", "b": "pass"}, "[stages.a]\n[stages.b]\n", 'required = ["a", "b"]')
    code, summary, out = run(root)
    assert code == EXIT_PASS and summary["verdict"] == "pass"
    assert statuses(summary) == {"a": "passed", "b": "passed"}
    assert summary["totals"]["tests"] == 4
    assert "==> [1/2] a (required, budget 600 s): nox -s a" in out
    assert "<== a: passed in" in out and "fake stage b: pass" in out
    assert "Verdict: PASS (exit code 0)" in out
    reports = root / "reports"
    assert {p.name for p in reports.iterdir()} >= {
        "pipeline.xml",
        "summary.md",
        "summary.json",
        "a.xml",
        "a.run.json",
        "a.log",
        "b.xml",
    }
    suites = [s.name for s in JUnitXml.fromfile(str(reports / "pipeline.xml"))]
    assert suites == ["a/a", "b/b", "pipeline"]


def test_a_failing_required_stage_halts_and_later_stages_are_not_run(tmp_path):
    root = project(
        tmp_path,
        {"a": "pass", "opt": "fail", "req": "fail", "late": "pass"},
        "[stages.a]\n[stages.opt]\n[stages.req]\n[stages.late]\n",
        'required = ["a", "req", "late"]\noptional = ["opt"]',
    )
    code, summary, out = run(root)
    assert code == EXIT_FAIL
    assert statuses(summary) == {"a": "passed", "opt": "failed", "req": "failed", "late": "not run"}
    assert "fake stage late" not in out
    findings = {(f["stage"], f["severity"]): f["message"] for f in summary["findings"]}
    assert findings[("opt", "warn")] == "1 failed test: fake::test_broken"
    assert findings[("req", "fail")] == "1 failed test: fake::test_broken"
    assert findings[("late", "fail")] == "not run: halted after required stage 'req' failed"
    md = (root / "reports" / "summary.md").read_text()
    assert "| req | required | failed |" in md and "| late | required | not run |" in md
    assert pipeline_cases(root)["stage late"].is_skipped


def test_crash_malformed_and_timeout_become_failing_cases(tmp_path):
    root = project(
        tmp_path,
        {"crash": "crash", "bad": "malformed", "slow": "hang"},
        "[stages.crash]\n[stages.bad]\n[stages.slow]\nbudget_s = 1\n",
        'optional = ["crash", "bad", "slow"]',
    )
    (root / "reports").mkdir()
    (root / "reports" / "crash.xml").write_text("<testsuite name='stale'><testcase name='old'/></testsuite>")
    code, summary, _ = run(root)
    assert code == EXIT_PASS  # all optional: warnings only
    assert statuses(summary) == {"crash": "crashed", "bad": "crashed", "slow": "timed out"}
    cases = pipeline_cases(root)
    assert cases["stage crash"].result[0].message == "crashed: no JUnit report at reports/crash.xml; nox exited with 1"
    assert cases["stage bad"].result[0].message.startswith("crashed: malformed JUnit reports/bad.xml")
    assert cases["stage slow"].result[0].message == "timed out after 1 s"
    assert all(c.is_failure for c in cases.values())
    assert running_with(str(root)) == []


def test_missing_session_warns_on_feature_and_fails_on_release(tmp_path):
    root = project(
        tmp_path,
        {"a": "pass", "b": "pass"},
        "[stages.a]\n[stages.ghost]\n[stages.b]\n",
        'required = ["a", "ghost", "b"]',
    )
    code, summary, out = run(root, branch_type="feature")
    assert code == EXIT_PASS
    assert statuses(summary) == {"a": "passed", "ghost": "missing", "b": "passed"}
    assert "--- ghost: missing: no nox session 'ghost' in noxfile.py" in out
    assert {
        "severity": "warn",
        "stage": "ghost",
        "message": "missing: no nox session 'ghost' in noxfile.py",
    } in summary["findings"]
    assert "missing: no nox session 'ghost' in noxfile.py" in (root / "reports" / "summary.md").read_text()
    assert pipeline_cases(root)["stage ghost"].is_skipped

    code, summary, _ = run(root, branch_type="release")
    assert code == EXIT_FAIL
    assert statuses(summary) == {"a": "passed", "ghost": "missing", "b": "passed"}  # missing does not halt
    assert pipeline_cases(root)["stage ghost"].is_failure


def test_flaky_test_from_a_real_rerun_warns_on_feature_and_fails_on_release(tmp_path):
    root = project(tmp_path, {"t": "pytest"}, "[stages.t]\nreruns = 1\n", 'required = ["t"]')
    code, summary, _ = run(root, branch_type="feature")
    assert code == EXIT_PASS
    (stage,) = summary["stages"]
    assert stage["status"] == "flaky" and stage["flaky_tests"] == ["flaky_tests::test_fails_once"]
    assert stage["counts"]["tests"] == 2 and stage["counts"]["flaky"] == 1
    merged = ET.parse(root / "reports" / "pipeline.xml")
    assert [tc.get("name") for tc in merged.iter("testcase") if tc.find("flakyFailure") is not None] == [
        "test_fails_once"
    ]

    (root / "flaky_attempts.txt").unlink()
    code, summary, _ = run(root, branch_type="release")
    assert code == EXIT_FAIL and summary["findings"][0]["severity"] == "fail"


def test_without_reruns_the_flaky_test_fails(tmp_path):
    root = project(tmp_path, {"t": "pytest"}, "[stages.t]\n", 'required = ["t"]')
    code, summary, _ = run(root)
    assert code == EXIT_FAIL and summary["stages"][0]["failed_tests"] == ["flaky_tests::test_fails_once"]


def test_pytest_args_reach_every_stage(tmp_path):
    root = project(tmp_path, {"a": "pass"}, "[stages.a]\nparallel = true\n", 'required = ["a"]')
    run(root, pytest_args="-k 'auction and not slow'")
    props = {p.get("name"): p.get("value") for p in ET.parse(root / "reports" / "a.xml").iter("property")}
    assert json.loads(props["posargs"]) == ["-n", "auto", "-k", "auction and not slow"]


def test_thresholds_and_untrusted_measurements(tmp_path):
    root = project(
        tmp_path,
        {"perf": "metrics", "noisy": "untrusted"},
        "[stages.perf]\nthresholds = ['p95_ms < 500', 'error_rate < 0.01']\n"
        "[stages.noisy]\nthresholds = ['p95_ms < 500']\n",
        'optional = ["perf"]\nrequired = ["noisy"]',
    )
    code, summary, out = run(root)
    assert code == EXIT_UNKNOWN and summary["verdict"] == "unknown"
    perf, noisy = summary["stages"]
    assert [(t["threshold"], t["measured"], t["passed"]) for t in perf["thresholds"]] == [
        ("p95_ms < 500", 612.0, False),
        ("error_rate < 0.01", 0.001, True),
    ]
    assert noisy["status"] == "unknown" and noisy["trusted"] is False
    assert "measurement not trusted: noisy host" in out
    cases = pipeline_cases(root)
    assert cases["p95_ms < 500"] is not None


def test_gate_re_evaluates_the_reports_without_running(tmp_path):
    root = project(
        tmp_path,
        {"a": "pass", "b": "fail", "c": "pass"},
        "[stages.a]\n[stages.b]\n[stages.c]\n",
        'required = ["a", "c"]\noptional = ["b"]',
    )
    code, summary, _ = run(root)
    assert code == EXIT_PASS and statuses(summary) == {"a": "passed", "b": "failed", "c": "passed"}
    for log in (root / "reports").glob("*.log"):
        log.unlink()
    gate_code, gate_summary, out = run(root, mode=runner.gate)
    assert gate_code == code and statuses(gate_summary) == statuses(summary)
    assert gate_summary["mode"] == "gate" and "==>" not in out
    assert not list((root / "reports").glob("*.log")), "the gate ran nothing"

    # without run records the JUnit files alone are judged; no report at all fails
    for record in (root / "reports").glob("*.run.json"):
        record.unlink()
    (root / "reports" / "c.xml").unlink()
    gate_code, gate_summary, _ = run(root, mode=runner.gate)
    assert gate_code == EXIT_FAIL
    assert statuses(gate_summary) == {"a": "passed", "b": "failed", "c": "failed"}
    assert gate_summary["stages"][2]["reason"] == "no JUnit report at reports/c.xml"


def test_gate_under_a_stricter_policy_fails_a_stage_the_run_skipped(tmp_path):
    root = project(tmp_path, {"a": "pass", "x": "pass"}, "[stages.a]\n[stages.x]\n", 'required = ["a"]\nskip = ["x"]')
    assert run(root)[0] == EXIT_PASS
    code, summary, _ = run(root, mode=runner.gate, branch_type="release")
    assert code == EXIT_FAIL and statuses(summary)["x"] == "not run"


def test_single_stage_mode_fails_an_optional_stage(tmp_path):
    root = project(
        tmp_path, {"a": "pass", "opt": "fail"}, "[stages.a]\n[stages.opt]\n", 'required = ["a"]\noptional = ["opt"]'
    )
    code, summary, _ = run(root, stages=("opt",))
    assert code == EXIT_FAIL and statuses(summary) == {"opt": "failed"}
    assert not (root / "reports" / "a.xml").exists()


def test_configuration_errors_exit_2(tmp_path, capsys):
    root = project(tmp_path, {"a": "pass"}, "[stages.a]\nbudget_s = -1\n", 'required = ["a"]')
    assert runner.pipeline(runner.Options(root=root), io.StringIO()) == EXIT_CONFIG
    assert capsys.readouterr().err.strip().endswith("stages.a.budget_s: expected a positive number of seconds, got -1")
    root2 = project(tmp_path / "two", {"a": "pass"}, "[stages.a]\n", 'required = ["a"]')
    assert runner.pipeline(runner.Options(root=root2, stages=("zzz",)), io.StringIO()) == EXIT_CONFIG
    assert "--stage: unknown stage 'zzz'; allowed: a" in capsys.readouterr().err
    assert runner.pipeline(runner.Options(root=root2, branch_type="hotfix"), io.StringIO()) == EXIT_CONFIG
    (root2 / "noxfile.py").write_text("raise SystemExit('broken noxfile')\n")
    assert runner.pipeline(runner.Options(root=root2), io.StringIO()) == EXIT_CONFIG
    assert "cannot list nox sessions" in capsys.readouterr().err


def test_empty_branch_ref_and_unsplittable_pytest_args_exit_2_before_running(tmp_path, capsys):
    root = project(tmp_path, {"a": "pass"}, "[stages.a]\n", 'required = ["a"]')
    assert runner.pipeline(runner.Options(root=root, branch=""), io.StringIO()) == EXIT_CONFIG
    assert "--branch: empty ref" in capsys.readouterr().err
    assert runner.pipeline(runner.Options(root=root, branch_type=""), io.StringIO()) == EXIT_CONFIG
    assert "--branch-type: '' is not one of feature, main, release" in capsys.readouterr().err
    assert runner.pipeline(runner.Options(root=root, pytest_args='-k "x'), io.StringIO()) == EXIT_CONFIG
    assert "--pytest-args: cannot split '-k \"x': No closing quotation" in capsys.readouterr().err
    assert not (root / "reports" / "a.log").exists()  # nothing was run


def test_branch_ref_picks_the_policy(tmp_path):
    root = project(tmp_path, {"a": "pass"}, "[stages.a]\n[stages.x]\n", 'required = ["a"]\nskip = ["x"]')
    code, summary, _ = run(root, branch="refs/tags/v1.0.0")
    assert summary["branch_type"] == "release" and summary["branch"] == "refs/tags/v1.0.0"
    assert code == EXIT_FAIL and statuses(summary)["x"] == "missing"


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_an_interrupted_run_stops_the_stage_and_still_writes_the_summary(tmp_path, sig, name):
    root = project(
        tmp_path,
        {"a": "pass", "stuck": "hang", "late": "pass"},
        "[stages.a]\n[stages.stuck]\n[stages.late]\n",
        'required = ["a", "stuck", "late"]',
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pipeline.run import runner; sys.exit(runner.pipeline(runner.Options()))",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seen = []
    for line in proc.stdout:  # wait (blocking) until the stage and its child are running
        seen.append(line)
        if line.startswith("hanging "):
            break
    else:
        pytest.fail("the stage never started: " + "".join(seen))
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED
    summary = json.loads((root / "reports" / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["verdict"] == "fail"
    assert statuses(summary) == {"a": "passed", "stuck": "interrupted", "late": "not run"}
    assert summary["stages"][1]["reason"].startswith(f"interrupted by {name} after ")
    assert summary["stages"][2]["reason"] == "the run was interrupted"
    assert "Verdict: FAIL (exit code 130)" in rest
    assert running_with(str(root)) == []
