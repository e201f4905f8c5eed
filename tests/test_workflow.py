"""The CI workflow: valid (JSON schema, zizmor) and shaped like the matrix it consumes.

check-jsonschema and zizmor come with the test extras; a missing one fails here.
"""

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from invoke import Collection
from ruamel.yaml import YAML

import tasks
from pipeline.run.config import load_config
from pipeline.run.matrix import matrix

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pipeline.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(action + "@")]


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def zizmor(path: Path) -> subprocess.CompletedProcess:
    exe = Path(sysconfig.get_path("scripts")) / "zizmor"
    assert exe.exists(), f"zizmor is not installed in {exe.parent}: it belongs to the test extras"
    return subprocess.run([str(exe), "--offline", str(path)], capture_output=True, text=True)


def test_matches_the_github_workflow_schema():
    result = check_jsonschema(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    assert check_jsonschema(broken).returncode != 0


def test_zizmor_finds_nothing():
    result = zizmor(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_can_fail(tmp_path):
    risky = tmp_path / "risky.yml"
    risky.write_text(
        WORKFLOW.read_text().replace(
            'run: invoke gate --branch "$REF"', 'run: echo "${{ github.event.pull_request.title }}"'
        )
    )
    assert zizmor(risky).returncode != 0


def test_plan_job_emits_the_matrix(workflow):
    plan = workflow["jobs"]["plan"]
    assert plan["outputs"]["matrix"] == "${{ steps.matrix.outputs.matrix }}"
    assert uses(plan, "actions/checkout") and uses(plan, "actions/setup-python")
    assert uses(plan, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    step = next(s for s in plan["steps"] if s.get("id") == "matrix")
    assert step["env"]["REF"] == "${{ github.ref }}"
    assert 'invoke matrix --branch "$REF"' in step["run"] and '>> "$GITHUB_OUTPUT"' in step["run"]
    assert re.search(r"pip install .*nox.*invoke", runs(plan))


def test_lint_job_runs_the_lint_session(workflow):
    lint = workflow["jobs"]["lint"]
    assert "needs" not in lint
    assert uses(lint, "actions/setup-python")[0]["with"]["python-version"] == "3.11"
    assert "nox -s lint" in runs(lint)


def test_one_job_per_stage_with_optional_ones_allowed_to_fail(workflow):
    stage = workflow["jobs"]["stage"]
    assert set(stage["needs"]) == {"lint", "plan"}  # lint is early: no stage runs on a tree that fails it
    assert stage["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert stage["strategy"]["fail-fast"] is False
    assert stage["continue-on-error"] == "${{ !matrix.required }}"
    assert 'invoke pipeline --branch "$REF" --stage "$STAGE"' in runs(stage)
    run_step = next(s for s in stage["steps"] if "invoke pipeline" in s.get("run", ""))
    assert run_step["env"]["STAGE"] == "${{ matrix.stage }}"
    (upload,) = uses(stage, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == "reports-${{ matrix.stage }}"
    assert "reports/" in upload["with"]["path"].split()


def test_gate_job_downloads_every_report_and_runs_invoke_gate(workflow):
    gate = workflow["jobs"]["gate"]
    assert set(gate["needs"]) == set(workflow["jobs"]) - {"gate"}
    assert gate["if"] == "always()"
    (download,) = uses(gate, "actions/download-artifact")
    assert download["with"] == {"pattern": "reports-*", "merge-multiple": True, "path": "reports"}
    assert 'invoke gate --branch "$REF"' in runs(gate)
    assert "GITHUB_STEP_SUMMARY" in runs(gate)


def test_every_action_is_pinned_to_a_commit(workflow):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_matrix_keys_used_by_the_workflow_are_the_ones_invoke_matrix_emits():
    used = set(re.findall(r"(?<![.\w])matrix\.(\w+)", WORKFLOW.read_text()))
    config = load_config(ROOT / "pipeline.toml")
    for branch_type in ("feature", "main", "release"):
        for entry in matrix(config, branch_type):
            assert used <= set(entry), used - set(entry)
    assert used == {"stage", "required"}


def test_invoke_commands_in_the_workflow_exist_with_their_options(workflow):
    collection = Collection.from_module(tasks)
    seen = set()
    for job in workflow["jobs"].values():
        for command in re.findall(r"\binvoke ([a-z][\w-]*)((?: --[\w-]+ \"?\$\w+\"?)*)", runs(job)):
            name, options = command
            seen.add(name)
            assert name in collection.task_names, name
            task = collection[name]
            accepted = {name.replace("_", "-") for argument in task.get_arguments() for name in argument.names}
            for option in re.findall(r"--([\w-]+)", options):
                assert option in accepted, (name, option)
    assert seen == {"matrix", "pipeline", "gate", "report"}


def test_gate_job_uploads_the_html_page_and_links_it_from_the_step_summary(workflow):
    gate = workflow["jobs"]["gate"]
    names = [step.get("name", "") for step in gate["steps"]]
    (upload,) = uses(gate, "actions/upload-artifact")
    assert upload["id"] == "page" and upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["reports/"]  # the page links its plots and logs relatively
    summary = next(step for step in gate["steps"] if "GITHUB_STEP_SUMMARY" in step.get("run", ""))
    assert summary["env"]["PAGE_URL"] == "${{ steps.page.outputs.artifact-url }}"
    assert "$PAGE_URL" in summary["run"] and "index.html" in summary["run"]
    assert names.index(upload["name"]) < names.index(summary["name"])  # the URL exists once uploaded
    check = next(step for step in gate["steps"] if "invoke report" in step.get("run", ""))
    assert "--check" in check["run"] and check["continue-on-error"] is True and check["if"] == "always()"


def test_stage_jobs_leave_the_page_to_the_gate(workflow):
    (upload,) = uses(workflow["jobs"]["stage"], "actions/upload-artifact")
    assert "!reports/index.*" in upload["with"]["path"].split()
