"""The [performance] table: the shipped one loads; every mistake is one line
naming the key and, where there is a closed set, the allowed values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipeline.load.config import ConfigError, from_mapping, load
from pipeline.run.config import load_config

ROOT = Path(__file__).resolve().parents[3]


def shipped() -> dict:
    return tomllib.loads((ROOT / "pipeline.toml").read_text())


def test_the_shipped_configuration_loads_with_the_seed_patterns():
    config = load(ROOT / "pipeline.toml")
    assert config.names == (
        "high_frequency_trading",
        "normal_business_operations",
        "multi_agent_coordination_burst",
        "steady_state_coordination",
    )
    hft = config.pattern("high_frequency_trading")
    assert hft.users == 200 and hft.target_ops == 1600 and hft.duration_s == 300
    assert dict(hft.operations) == {"create_auction": 100, "place_bid": 500, "check_market_data": 1000}
    assert [repr(t) for t in hft.thresholds] == [repr(t) for t in config.stage_thresholds]
    steady = config.pattern("steady_state_coordination")
    assert steady.target_ops == pytest.approx(6.1)
    assert "throughput_ops" not in {t.metric for t in steady.thresholds}
    assert "throughput_ratio >= 0.9" in [repr(t) for t in steady.thresholds]
    # and the pipeline's own loader accepts the file with its [performance] table
    assert load_config(ROOT / "pipeline.toml").stage("performance").thresholds


def test_scaling_users_keeps_each_users_rate():
    hft = load(ROOT / "pipeline.toml").pattern("high_frequency_trading")
    small = hft.scaled(20)
    assert small.users == 20 and small.target_ops == pytest.approx(160)
    assert small.per_user_rates() == pytest.approx(hft.per_user_rates())


def test_a_pattern_threshold_replaces_the_stage_one_on_the_same_metric():
    data = shipped()
    data["performance"]["patterns"]["high_frequency_trading"]["thresholds"] = ["p95_ms < 50"]
    config = from_mapping(data, "pipeline.toml", ROOT)
    texts = [repr(t) for t in config.pattern("high_frequency_trading").thresholds]
    assert "p95_ms < 50" in texts and "p95_ms < 500" not in texts and "avg_ms < 100" in texts


def mistake(edit) -> str:
    data = shipped()
    edit(data)
    with pytest.raises(ConfigError) as caught:
        from_mapping(data, "pipeline.toml", ROOT)
    return str(caught.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["performance"].update(nodez=3),
            "pipeline.toml: performance.nodez: unknown key; allowed: patterns, order,",
        ),
        (
            lambda d: d["performance"]["patterns"]["high_frequency_trading"].update(users=0),
            "performance.patterns.high_frequency_trading.users: expected a whole number >= 1, got a number 0",
        ),
        (
            lambda d: d["performance"].update(order=["hft"]),
            "performance.order: unknown pattern 'hft'; allowed: high_frequency_trading, normal_business_operations",
        ),
        (
            lambda d: d["performance"]["patterns"]["steady_state_coordination"].update(thresholds=["p95_ms <> 5"]),
            "performance.patterns.steady_state_coordination.thresholds[0]: cannot parse 'p95_ms <> 5'",
        ),
        (
            lambda d: d["performance"]["patterns"]["steady_state_coordination"].update(skip_thresholds=["p42"]),
            "skip_thresholds: 'p42' is not a stage threshold's metric; allowed: avg_ms, p95_ms",
        ),
        (
            lambda d: d["performance"]["patterns"]["high_frequency_trading"].update(locustfile="nope.py"),
            "performance.patterns.high_frequency_trading.locustfile: no such file",
        ),
        (
            lambda d: d["performance"]["patterns"]["high_frequency_trading"]["operations"].update(place_bid=-1),
            "performance.patterns.high_frequency_trading.operations.place_bid: expected a positive rate",
        ),
        (
            lambda d: d["performance"]["telemetry"]["fields"].update(cpu="nowhere:x"),
            "performance.telemetry.fields.cpu: expected \"<path name>:<dotted field>\", got a string 'nowhere:x'; "
            "allowed: telemetry, status",
        ),
        (
            lambda d: d["performance"].update(generator_bound_ratio=2),
            "performance.generator_bound_ratio: expected a number in (0, 1]",
        ),
        (lambda d: d["performance"].update(link_proxies="yes"), "performance.link_proxies: expected true or false"),
        (
            lambda d: d["performance"].update(ready_field="health:mode"),
            "performance.ready_field: expected \"<path name>:<dotted field>\", got 'health:mode'; allowed: telemetry",
        ),
        (lambda d: d.pop("performance"), "pipeline.toml: performance: no [performance] table"),
    ],
)
def test_mistakes_name_the_key_and_the_allowed_values(edit, expected):
    assert expected in mistake(edit)


def test_an_unknown_pattern_by_name(tmp_path):
    config = load(ROOT / "pipeline.toml")
    with pytest.raises(ConfigError, match="unknown pattern 'x'; allowed: high_frequency_trading"):
        config.pattern("x")
    with pytest.raises(ConfigError, match="no such configuration file"):
        load(tmp_path / "missing.toml")
