"""Scenarios and conditions: factories, validation that names the key, a repr that reads like the spec."""

from __future__ import annotations

import pytest

from pipeline.chaos.model import (
    ScenarioError,
    network_latency,
    node_failure,
    partition,
    resource_exhaustion,
    scenario,
    scenario_from_mapping,
    workload,
)


def progressive():
    return scenario(
        "progressive_node_failures",
        duration_s=60,
        conditions=[node_failure(interval_s=10, count=2), network_latency(100, 1000, fraction=0.3)],
        criteria=["availability >= 0.8", "data_consistency == 1", "recovery_time <= 30"],
    )


def test_repr_reads_like_the_spec():
    assert repr(progressive()) == (
        "scenario('progressive_node_failures', 60 s on 5 nodes: node_failure(target='random', mode='crash', "
        "interval_s=10, count=2), network_latency(min_ms=100, max_ms=1000, fraction=0.3); "
        "criteria: availability >= 0.8, data_consistency == 1, recovery_time <= 30)"
    )
    assert repr(partition(rounds=3, rotate=True, interval_s=8, hold_s=6)) == (
        "partition(shape='majority_minority', rounds=3, interval_s=8, hold_s=6, rotate=True)"
    )


def test_objects_are_frozen_and_equal_by_value():
    assert progressive() == progressive()
    with pytest.raises(AttributeError):
        progressive().conditions[0].count = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: node_failure(mode="explode"), "node_failure.mode: 'explode' is not allowed; allowed: crash, pause"),
        (lambda: node_failure(count=0), "node_failure.count: expected a whole number in [1, 100], got 0"),
        (lambda: node_failure(target="Nope"), "node_failure.target: 'Nope' is not allowed; allowed: random, leader"),
        (lambda: network_latency(500, 100), "network_latency.max_ms: must be >= min_ms (500), got 100"),
        (lambda: network_latency(100, fraction=0), "network_latency.fraction: must be in (0, 1], got 0"),
        (lambda: resource_exhaustion("disk"), "resource_exhaustion.resource: 'disk' is not allowed; allowed: memory"),
        (lambda: partition(shape="ring"), "partition.shape: 'ring' is not allowed; allowed: majority_minority"),
        (lambda: partition(hold_s=6, interval_s=5), "partition.hold_s: must be <= interval_s (5), got 6"),
        (lambda: workload(threads=0), "workload.threads: expected a whole number in [1, 64], got 0"),
        (lambda: scenario("Bad Name", duration_s=1), "name: expected a lowercase name"),
        (lambda: scenario("x", duration_s=1, criteria=["p95 <> 3"]), "criteria.0: cannot parse 'p95 <> 3'"),
    ],
)
def test_errors_name_the_key_and_the_allowed_values(make, message):
    with pytest.raises(ScenarioError) as err:
        make()
    assert str(err.value).startswith(message)


def test_conditions_must_fit_the_window():
    with pytest.raises(ScenarioError, match=r"conditions.0.count: failure 3 would start at 30 s, past duration_s"):
        scenario("x", duration_s=30, conditions=[node_failure(interval_s=10, count=3)])
    with pytest.raises(ScenarioError, match=r"conditions.0.rounds: round 2 would end at 15 s"):
        scenario("x", duration_s=12, conditions=[partition(rounds=2, interval_s=10, hold_s=5)])
    with pytest.raises(ScenarioError, match=r"conditions.0.resource: memory exhaustion needs the scenario's memory_mb"):
        scenario("x", duration_s=12, conditions=[resource_exhaustion("memory", 0.9)])
    with pytest.raises(ScenarioError, match=r"conditions.0.count: must be < nodes \(3\)"):
        scenario("x", duration_s=40, nodes=3, conditions=[node_failure(interval_s=5, count=3)])


def test_from_mapping_is_the_same_as_from_python():
    table = {
        "duration_s": 60,
        "conditions": [
            {"kind": "node_failure", "interval_s": 10, "count": 2},
            {"kind": "network_latency", "min_ms": 100, "max_ms": 1000, "fraction": 0.3},
        ],
        "criteria": ["availability >= 0.8", "data_consistency == 1", "recovery_time <= 30"],
    }
    assert scenario_from_mapping("progressive_node_failures", table) == progressive()
    as_table = {k: v for k, v in progressive().as_dict().items() if k != "name"}
    assert scenario_from_mapping("progressive_node_failures", as_table) == progressive()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"duration_s": 5, "colour": 1}, "colour: unknown key; allowed: title, duration_s"),
        ({}, "duration_s: missing"),
        ({"duration_s": 5, "conditions": [{"kind": "meteor"}]}, "conditions.0.kind: 'meteor' is not allowed"),
        ({"duration_s": 5, "conditions": [{"kind": "partition", "size": 2}]}, "conditions.0.size: unknown key"),
        ({"duration_s": 5, "workload": {"rate": 3}}, "workload.rate: unknown key; allowed: name, rate_ops"),
    ],
)
def test_mapping_errors_name_the_key(table, message):
    with pytest.raises(ScenarioError) as err:
        scenario_from_mapping("x", table)
    assert str(err.value).startswith(message)
