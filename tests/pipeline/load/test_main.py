"""The command line: usage and configuration errors exit 2 with one line."""

from __future__ import annotations

from pathlib import Path

from pipeline.load.__main__ import main
from pipeline.load.runner import RunOptions, replay_command

ROOT = Path(__file__).resolve().parents[3]


def test_an_unknown_pattern_exits_2_naming_the_allowed_ones(capsys):
    assert main(["--config", str(ROOT / "pipeline.toml"), "--pattern", "hft"]) == 2
    err = capsys.readouterr().err
    assert "unknown pattern 'hft'; allowed: high_frequency_trading, normal_business_operations" in err


def test_a_configuration_error_exits_2(tmp_path, capsys):
    bad = tmp_path / "pipeline.toml"
    bad.write_text("[performance]\nnodes = 0\n")
    assert main(["--config", str(bad)]) == 2
    assert "performance.patterns: expected at least one" in capsys.readouterr().err


def test_bad_numbers_exit_2(capsys):
    assert main(["--config", str(ROOT / "pipeline.toml"), "--users", "0"]) == 2
    assert main(["--config", str(ROOT / "pipeline.toml"), "--duration", "-1"]) == 2


def test_the_replay_command_carries_every_choice():
    options = RunOptions(seed=9, full=True, duration_s=40, users=20, patterns=("high_frequency_trading",))
    assert replay_command(options) == (
        "nox -s performance -- --seed 9 --full --pattern high_frequency_trading --duration 40 --users 20"
    )


def test_an_infinite_duration_is_a_usage_error_before_anything_starts(capsys):
    from pipeline.load.__main__ import main

    assert main(["--duration", "inf"]) == 2
    assert "--duration: must be a finite number of seconds > 0, got inf" in capsys.readouterr().err
