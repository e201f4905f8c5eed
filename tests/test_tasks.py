"""The invoke tasks as a user runs them (``invoke ...`` in a subprocess)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.data import DATA, make_project

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"pipeline", "release-gate", "gate", "matrix"}


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def test_list_shows_every_task_with_a_one_line_help():
    result = invoke("--list")
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    listed = {}
    for line in lines:
        assert line.startswith("  ") and not line.startswith("   "), f"wrapped help line: {line!r}"
        name, _, help_text = line.strip().partition(" ")
        listed[name] = help_text.strip()
    assert TASKS <= set(listed)
    assert all(listed[name] for name in TASKS), listed


def test_matrix_for_a_feature_branch():
    result = invoke("matrix", "--branch", "refs/heads/feature/x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    entries = json.loads(result.stdout)
    required = {e["stage"]: e["required"] for e in entries}
    assert required["unit"] and required["service"] and required["multinode"]
    assert "chaos" not in required
    assert all(set(e) == {"stage", "session", "required"} for e in entries)


def test_matrix_for_a_release_branch_lists_all_five_required():
    entries = json.loads(invoke("matrix", "--branch", "refs/heads/release/1.2").stdout)
    assert [(e["stage"], e["required"]) for e in entries] == [
        (s, True) for s in ("unit", "service", "multinode", "performance", "chaos")
    ]


def test_empty_option_values_are_usage_errors_not_defaults():
    result = invoke("matrix", "--branch", "")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("error: --branch: empty ref; give a ref such as refs/heads/main or refs/tags/v1.0")
    result = invoke("gate", "--config", "")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --config: empty path; give a file such as pipeline.toml"


def test_usage_errors_exit_2_with_one_line(tmp_path):
    result = invoke("matrix", "--branch-type", "hotfix")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --branch-type: 'hotfix' is not one of feature, main, release"
    bad = tmp_path / "pipeline.toml"
    bad.write_text("[stages.unit]\nbudget_s = 'soon'\n")
    result = invoke("gate", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("stages.unit.budget_s: expected a positive number of seconds, got 'soon'")


@pytest.fixture
def fake(tmp_path):
    config = "[stages.a]\n[policies.feature]\nrequired = ['a']\n[policies.main]\nrequired = ['a']\n"
    root = make_project(tmp_path / "proj", {"a": "pass"}, config)
    (root / "reports").mkdir()
    return root


@pytest.mark.parametrize(
    "fixture, code, verdict",
    [
        ("pytest_reruns_xdist.xml", 1, "fail"),
        ("performance_untrusted.xml", 3, "unknown"),
        ("surefire.xml", 1, "fail"),
        ("nested.xml", 1, "fail"),
    ],
)
def test_gate_exit_codes_from_existing_reports(fake, fixture, code, verdict):
    shutil.copy(DATA / fixture, fake / "reports" / "a.xml")
    result = invoke("gate", "--config", str(fake / "pipeline.toml"))
    assert result.returncode == code, result.stdout + result.stderr
    assert json.loads((fake / "reports" / "summary.json").read_text())["verdict"] == verdict
    assert (fake / "reports" / "pipeline.xml").is_file()


def test_pipeline_and_release_gate_run_through_invoke(fake):
    result = invoke("pipeline", "--config", str(fake / "pipeline.toml"), "--branch", "refs/heads/feature/y")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verdict: PASS (exit code 0)" in result.stdout
    result = invoke("release-gate", "--config", str(fake / "pipeline.toml"), "--pytest-args", "-k smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((fake / "reports" / "summary.json").read_text())
    assert summary["branch_type"] == "release"
    assert "nox -s a -- -k smoke" in result.stdout


def test_a_missing_noxfile_is_a_usage_error_naming_the_key(tmp_path):
    config = tmp_path / "pipeline.toml"
    config.write_text('[pipeline]\nnoxfile = "nope.py"\n')
    result = invoke("pipeline", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {config}: pipeline.noxfile: no such file {tmp_path / 'nope.py'}"


def test_an_option_invoke_does_not_know_exits_1_as_documented():
    """invoke's parser rejects it before any task runs and hard-codes exit 1
    (docs/pipeline.md, "Exit codes"); this test pins that documented exception."""
    result = invoke("pipeline", "--no-such-option")
    assert result.returncode == 1
    assert "No idea what '--no-such-option' is!" in result.stderr
