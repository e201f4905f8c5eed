"""``python -m pipeline.chaos``: dry runs need no cluster; usage and configuration errors exit 2."""

from __future__ import annotations

from pathlib import Path

from pipeline.chaos.__main__ import main

ROOT = Path(__file__).resolve().parents[3]


def toml(tmp_path: Path, body: str) -> str:
    path = tmp_path / "pipeline.toml"
    command = 'command = ["node", "--port", "{port}"]\n' if "command =" not in body else ""
    path.write_text(f'[chaos]\nreports = "{tmp_path}/chaos"\njunit = "{tmp_path}/chaos.xml"\n' + command + body)
    return str(path)


def test_dry_run_prints_the_same_schedule_twice_and_another_for_another_seed(tmp_path, capsys):
    config = toml(tmp_path, (ROOT / "pipeline.toml").read_text().split("[chaos]", 1)[1].split("\n", 1)[1])
    assert main(["--config", config, "--dry-run", "--scenario", "leader_kill"]) == 0
    first = capsys.readouterr().out
    written = (tmp_path / "chaos/leader_kill/schedule.json").read_text()
    assert main(["--config", config, "--dry-run", "--scenario", "leader_kill"]) == 0
    assert capsys.readouterr().out == first and (tmp_path / "chaos/leader_kill/schedule.json").read_text() == written
    assert main(["--config", config, "--dry-run", "--scenario", "leader_kill", "--seed", "5"]) == 0
    assert (tmp_path / "chaos/leader_kill/schedule.json").read_text() != written
    assert not (tmp_path / "chaos.xml").exists()


def test_configuration_mistakes_exit_2_naming_the_key(tmp_path, capsys):
    config = toml(tmp_path, '[chaos.scenarios.x]\nduration_s = 5\nconditions = [{kind = "meteor"}]\n')
    assert main(["--config", config, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "chaos.scenarios.x.conditions.0.kind: 'meteor' is not allowed; allowed: node_failure" in err


def test_unknown_scenario_and_bad_flags_exit_2(tmp_path, capsys):
    config = toml(tmp_path, "[chaos.scenarios.x]\nduration_s = 5\n")
    assert main(["--config", config, "--scenario", "nope", "--dry-run"]) == 2
    assert "unknown scenario 'nope'; allowed: x" in capsys.readouterr().err
    assert main(["--config", config, "--replay", "s.json", "--seed", "3"]) == 2
    assert main(["--config", config, "--replay", str(tmp_path / "missing.json"), "--dry-run"]) == 2
    assert "cannot read the schedule" in capsys.readouterr().err
