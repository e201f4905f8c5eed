import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.run.config import load_config
from pipeline.run.stage import (
    COMPLETED,
    TIMED_OUT,
    StageRun,
    clear_outputs,
    nox_command,
    posargs,
    read_record,
    record_path,
    run_stage,
    write_record,
)
from tests.pipeline.data import make_project

CONFIG = """
[pipeline]
kill_grace_s = 2
[stages.ok]
parallel = true
reruns = 1
pytest_args = ["-x"]
[stages.boom]
parallel = 3
[stages.stuck]
budget_s = 1.5
[policies.feature]
required = ["ok", "boom", "stuck"]
[policies.main]
required = ["ok", "boom", "stuck"]
"""


def running_with(token: str) -> list[str]:
    """Command lines of live (not zombie) processes that mention ``token``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token in cmdline and state != "Z":
            found.append(cmdline)
    return found


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "proj", {"ok": "pass", "boom": "fail", "stuck": "hang"}, CONFIG)
    return load_config(root=root)


def test_posargs_for_parallel_reruns_and_extra(project):
    assert posargs(project.stage("ok"), ("-k", "auction")) == ["-n", "auto", "--reruns", "1", "-x", "-k", "auction"]
    assert posargs(project.stage("boom")) == ["-n", "3"]
    assert posargs(project.stage("stuck"), color=True) == ["--color=yes"]


def test_nox_command_selects_the_session_and_passes_posargs(project):
    command = nox_command(project, project.stage("ok"))
    assert command == [
        sys.executable,
        "-m",
        "nox",
        "--noxfile",
        str(project.noxfile),
        "--sessions",
        "ok",
        "--",
        "-n",
        "auto",
        "--reruns",
        "1",
        "-x",
    ]
    assert "--force-color" in nox_command(project, project.stage("ok"), color=True)


def reported_posargs(report: Path) -> list[str]:
    props = {p.get("name"): p.get("value") for p in ET.parse(report).iter("property")}
    return json.loads(props["posargs"])


def test_a_passing_stage_streams_its_output_and_keeps_a_log(project):
    out = io.StringIO()
    run = run_stage(project, project.stage("ok"), ("-k", "x"), out)
    assert (run.status, run.exit_code, run.reason) == (COMPLETED, 0, "")
    assert "fake stage ok: pass" in out.getvalue()
    assert "fake stage ok: pass" in Path(run.log).read_text()
    assert reported_posargs(project.stage("ok").report) == ["-n", "auto", "--reruns", "1", "-x", "-k", "x"]


def test_a_failing_stage_reports_the_exit_code(project):
    run = run_stage(project, project.stage("boom"), (), io.StringIO())
    assert run.status == COMPLETED and run.exit_code == 1


def test_a_stage_past_its_budget_is_stopped_with_its_whole_process_group(project):
    run = run_stage(project, project.stage("stuck"), (), io.StringIO())
    assert run.status == TIMED_OUT
    assert run.reason == "timed out after 1.5 s"
    assert run.exit_code is not None and run.exit_code < 0  # killed by a signal
    assert running_with(str(project.root)) == []  # nox, the stage and its child are gone


def test_records_round_trip_and_bad_ones_are_ignored(project):
    run = StageRun("ok", COMPLETED, "", 0, 1.5, ("nox", "-s", "ok"), "reports/ok.log")
    path = write_record(project, run)
    assert path == record_path(project, "ok") and read_record(project, "ok") == run
    path.write_text("{not json")
    assert read_record(project, "ok") is None
    path.write_text(json.dumps({"stage": "ok", "status": "exploded"}))
    assert read_record(project, "ok") is None
    assert read_record(project, "boom") is None


def test_clear_outputs_removes_report_log_and_record(project):
    stage = project.stage("ok")
    project.reports.mkdir(parents=True, exist_ok=True)
    for path in (stage.report, project.reports / "ok.log", record_path(project, "ok")):
        path.write_text("old")
    clear_outputs(project, stage)
    assert list(project.reports.iterdir()) == []
    clear_outputs(project, stage)  # nothing to remove is fine


def test_running_with_sees_a_live_process(tmp_path):
    # the helper itself must be able to fail: a live child is found
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('up', flush=True); sys.stdin.read()", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        # Popen returns once exec has begun, but /proc/PID/cmdline is empty until
        # the kernel has finished setting up the new image: wait for the child to speak.
        assert child.stdout.readline() == b"up\n"
        assert running_with(str(tmp_path))
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    assert running_with(str(tmp_path)) == []
