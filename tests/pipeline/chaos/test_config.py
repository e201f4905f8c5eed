"""The [chaos] table of pipeline.toml: loaded, and every mistake one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.chaos.config import ConfigError, from_mapping, load

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_table_loads():
    config = load(ROOT / "pipeline.toml")
    assert config.junit == ROOT / "reports/chaos.xml" and config.reports == ROOT / "reports/chaos"
    assert config.workload("registry") == "suites.chaos.workload:registry"
    assert config.scenario("leader_kill").nodes == 3
    assert config.digest_path == "/state/digest" and config.leader_field == "leader"
    total = sum(s.warmup_s + s.duration_s + s.cooldown_s for s in config.scenarios)
    assert total <= 300  # the CI scale: every scenario in a few minutes (plus start, recovery, checks)


def table(**scenario):
    return {
        "command": ["node", "--port", "{port}"],
        "workloads": {"w": "m:f"},
        "scenarios": {"s": {"duration_s": 10, "workload": "w", **scenario}},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": 1}, "pipeline.toml: chaos.colour: unknown key; allowed: order, command"),
        ({"command": []}, "pipeline.toml: chaos.command: expected a non-empty list of strings"),
        ({"workloads": {"w": "nomodule"}}, "pipeline.toml: chaos.workloads.w: expected 'module:callable'"),
        (
            table(conditions=[{"kind": "node_failure", "mode": "explode"}]),
            "pipeline.toml: chaos.scenarios.s.conditions.0.mode: 'explode' is not allowed; allowed: crash, pause",
        ),
        (table(nodes=0), "pipeline.toml: chaos.scenarios.s.nodes: expected a whole number in [1, 15], got 0"),
        (
            {"workloads": {"w": "m:f"}, "scenarios": {"s": {"duration_s": 1, "workload": "other"}}},
            "pipeline.toml: chaos.scenarios.s.workload.name: unknown workload 'other'; allowed: w",
        ),
        ({**table(), "order": ["t"]}, "pipeline.toml: chaos.order: unknown scenario 't'; allowed: s"),
        ({"progress_interval_s": 0}, "pipeline.toml: chaos.progress_interval_s: expected a positive, finite number"),
        ({"ready_timeout_s": float("inf")}, "pipeline.toml: chaos.ready_timeout_s: expected a positive, finite number"),
    ],
)
def test_errors_are_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        from_mapping(data, "pipeline.toml", ROOT)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_unknown_scenario_names_the_allowed_ones():
    config = from_mapping(table(), "pipeline.toml", ROOT)
    with pytest.raises(ConfigError, match=r"chaos.scenarios: unknown scenario 'x'; allowed: s"):
        config.scenario("x")


def test_python_placeholder_is_this_interpreter():
    import sys

    config = from_mapping({**table(), "command": ["{python}", "-m", "x"]}, "f", ROOT)
    assert config.node_command() == [sys.executable, "-m", "x"]


def test_the_node_command_is_the_projects_not_the_toolkits():
    data = table()
    del data["command"]
    with pytest.raises(ConfigError, match=r"chaos.command: missing: the node command"):
        from_mapping(data, "pipeline.toml", ROOT)
