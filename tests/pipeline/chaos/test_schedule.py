"""Schedules: from the seed only, identical for the same seed, different for another, replayable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.chaos.config import load
from pipeline.chaos.model import ScenarioError, node_failure, partition, scenario
from pipeline.chaos.runner import RunOptions, plan, topology
from pipeline.chaos.schedule import compile_schedule, load_schedule

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load(ROOT / "pipeline.toml")


def compiled(name: str, seed: int):
    s = CONFIG.scenario(name)
    nodes, links = topology(CONFIG, s.nodes)
    return compile_schedule(s, seed, nodes, links)


@pytest.mark.parametrize("name", CONFIG.names)
def test_same_seed_same_bytes_other_seed_other_schedule(name):
    assert compiled(name, 11).dumps() == compiled(name, 11).dumps()
    assert compiled(name, 11).dumps() != compiled(name, 12).dumps()


def test_every_shipped_scenario_is_there():
    assert CONFIG.names == (
        "progressive_node_failures",
        "memory_pressure_with_partitions",
        "rotating_partition",
        "leader_kill",
        "leader_isolation",
    )


def test_progressive_failures_pick_distinct_live_nodes_every_interval():
    schedule = compiled("progressive_node_failures", 5)
    crashes = [a for a in schedule.actions if a.action == "crash"]
    assert [a.at_s for a in crashes] == [10.0, 20.0]
    assert len({a.params["node"] for a in crashes}) == 2
    latency = next(a for a in schedule.actions if a.action == "latency")
    assert len(latency.params["links"]) == 6 and latency.params["min_ms"] == 100  # 30 % of 20 links


def test_rotating_partition_changes_the_minority_every_round():
    schedule = compiled("rotating_partition", 5)
    minorities = [tuple(a.params["groups"][1]) for a in schedule.actions if a.action == "partition"]
    assert len(minorities) == 3 and len(set(minorities)) == 3
    assert all(len(m) == 1 for m in minorities)
    ends = [a for a in schedule.actions if a.action == "revert"]
    assert [w.end_s - w.start_s for w in schedule.windows] == [6.0, 6.0, 6.0] and len(ends) == 3


def test_leader_is_resolved_when_it_happens_and_says_so():
    schedule = compiled("leader_kill", 5)
    assert [a.params.get("node") for a in schedule.actions if a.action == "crash"] == ["leader", "leader"]
    assert [w.label for w in schedule.windows] == ["crash the leader", "crash the leader"]


def test_at_the_same_instant_ends_come_before_starts():
    s = scenario("x", duration_s=20, nodes=3, conditions=[partition(rounds=2, interval_s=5, hold_s=5)])
    nodes, links = topology(CONFIG, 3)
    actions = compile_schedule(s, 1, nodes, links).actions
    at_five = [a.action for a in actions if a.at_s == 5.0]
    assert at_five == ["revert", "partition"]


def test_written_schedule_replays_exactly(tmp_path):
    original = compiled("leader_kill", 99)
    path = original.write(tmp_path / "schedule.json")
    again = load_schedule(path)
    assert again.dumps() == original.dumps() and again.scenario == original.scenario
    assert plan(CONFIG, RunOptions(replay=path)) == [again]


def test_no_node_left_to_fail_is_an_error():
    s = scenario("x", duration_s=40, nodes=2, conditions=[node_failure(interval_s=5, count=3, down_s=30)])
    with pytest.raises(ScenarioError, match="conditions.0.count: no node left up at 15 s"):
        compile_schedule(s, 1, ("n1", "n2"), ("n1->n2", "n2->n1"))


def test_a_broken_schedule_file_names_itself(tmp_path):
    bad = tmp_path / "schedule.json"
    bad.write_text('{"format": 1, "scenario": {}}')
    with pytest.raises(ScenarioError, match=r"schedule.json: not a chaos schedule"):
        load_schedule(bad)


def test_seed_order_flag_then_environment_then_scenario():
    s = CONFIG.scenario("leader_kill")
    assert plan(CONFIG, RunOptions(scenarios=("leader_kill",)))[0].seed == s.seed
    assert plan(CONFIG, RunOptions(scenarios=("leader_kill",)), env_seed=8)[0].seed == 8
    assert plan(CONFIG, RunOptions(seed=9, scenarios=("leader_kill",)), env_seed=8)[0].seed == 9


def test_leader_isolation_is_resolved_at_each_round():
    schedule = compiled("leader_isolation", 5)
    rounds = [a for a in schedule.actions if a.action == "partition"]
    assert [a.params for a in rounds] == [{"isolate": "leader", "mode": "drop"}] * 3
    assert [w.label for w in schedule.windows] == ["isolate the leader"] * 3
