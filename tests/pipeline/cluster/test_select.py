"""Choosing the provider by name: the same answers for the suites (pytest
plugin), the performance stage and the chaos stage.  "No Docker" is made
real by pointing ``DOCKER_HOST`` at a socket that does not exist: the engine
client really tries and really fails."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.cluster import select
from pipeline.cluster.containers import ContainersProvider
from pipeline.cluster.local import LocalProvider

ROOT = Path(__file__).resolve().parents[3]
NO_ENGINE = "unix:///nonexistent/pipeline-test-docker.sock"


def test_the_default_is_local_and_the_environment_can_choose(monkeypatch):
    monkeypatch.delenv(select.ENV, raising=False)
    assert select.provider_name(None) == "local"
    monkeypatch.setenv(select.ENV, "containers")
    assert select.provider_name(None) == "containers"
    assert select.provider_name("local") == "local"  # the option wins over the environment


def test_an_unknown_name_says_where_it_came_from_and_what_is_allowed(monkeypatch):
    with pytest.raises(
        select.ProviderChoiceError, match=r"--provider: unknown provider 'docker'; expected one of: local, containers"
    ):
        select.provider_name("docker")
    monkeypatch.setenv(select.ENV, "k8s")
    with pytest.raises(select.ProviderChoiceError, match=rf"{select.ENV}: unknown provider 'k8s'"):
        select.provider_name(None)


def test_without_an_engine_containers_is_unavailable_in_one_line(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    assert select.unavailable("local") is None
    reason = select.unavailable("containers", timeout=2)
    assert reason is not None and "\n" not in reason
    assert reason.startswith("--provider containers: ") and NO_ENGINE in reason
    with pytest.raises(select.ProviderUnavailable, match="--skip-without-docker"):
        select.choose("containers", skip_without_docker=False)
    assert select.choose("containers", skip_without_docker=True) == ("containers", reason)


def test_the_manager_makes_a_fresh_provider_of_the_chosen_kind_per_cluster():
    containers = select.manager("containers", image="some/image:tag")
    first, second = containers._new_provider(), containers._new_provider()
    assert isinstance(first, ContainersProvider) and first is not second and first.image == "some/image:tag"
    assert isinstance(select.manager("local")._new_provider(), LocalProvider)


def _run(*args: str, env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )


@pytest.mark.parametrize("stage", ["load", "chaos"])
def test_a_stage_without_docker_fails_fast_in_one_line_or_reports_skipped(stage, tmp_path):
    config = ROOT / "pipeline.toml"
    env = {"DOCKER_HOST": NO_ENGINE, "PYTHONPATH": str(ROOT), "PIPELINE_REPORTS": str(tmp_path / "reports")}
    failed = _run(
        "-m", f"pipeline.{stage}", "--config", str(config), "--provider", "containers", env_extra=env, cwd=ROOT
    )
    assert failed.returncode == 2, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --provider containers: ") and NO_ENGINE in lines[0]
    assert "Traceback" not in failed.stderr

    # the same config, its report moved into tmp_path, so the skip can be read back
    moved = tmp_path / "pipeline.toml"
    text = config.read_text()
    moved.write_text(text)
    for sub in ("locustfiles", "suites", "mabeam"):
        (tmp_path / sub).symlink_to(ROOT / sub)
    skipped = _run(
        "-m",
        f"pipeline.{stage}",
        "--config",
        str(moved),
        "--provider",
        "containers",
        "--skip-without-docker",
        env_extra=env,
        cwd=tmp_path,
    )
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped without Docker" in skipped.stderr
    name = "performance" if stage == "load" else "chaos"
    report = ET.parse(tmp_path / "reports" / f"{name}.xml").getroot()
    cases = list(report.iter("testcase"))
    assert cases and all(c.find("skipped") is not None for c in cases)
    assert all(NO_ENGINE in (c.find("skipped").get("message") or "") for c in cases)
