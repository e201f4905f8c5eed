"""The executor: every action a call on the cluster's fault API with the schedule's seed; a fault
that is not in effect is a problem (the verdict can only be unknown), never silently skipped."""

from __future__ import annotations

import time
from types import SimpleNamespace

from pipeline.chaos.execute import Executor
from pipeline.chaos.model import network_latency, node_failure, partition, scenario
from pipeline.chaos.schedule import compile_schedule
from pipeline.faults.log import FaultLog, FaultNotEffective

NODES = ("n1", "n2", "n3")
LINKS = tuple(f"{a}->{b}" for a in NODES for b in NODES if a != b)


class FakeFaults:
    def __init__(self, fail: str = "") -> None:
        self.log = FaultLog()
        self.calls: list[tuple] = []
        self.fail = fail

    def _record(self, kind: str, *args, **kw):
        self.calls.append((kind, args, kw.get("seed")))
        if kind == self.fail:
            raise FaultNotEffective(f"{kind}: not in effect")
        record = self.log.new(kind, kind, kw.get("seed"))
        record._undo = lambda: self.calls.append(("undo", (kind,), None))
        return record

    def __getattr__(self, kind: str):
        return lambda *args, **kw: self._record(kind, *args, **kw)


class Probe:
    def wait_leader(self, nodes, timeout):
        return "n2"


class Aims:
    def __init__(self) -> None:
        self.aimed: list[list[str]] = []

    def aim(self, nodes):
        self.aimed.append(list(nodes))


def execute(s, fail=""):
    schedule = compile_schedule(s, 5, NODES, LINKS)
    cluster = SimpleNamespace(faults=FakeFaults(fail), links=object())
    driver = Aims()
    executor = Executor(cluster, schedule, driver, Probe(), tick_s=1000)  # type: ignore[arg-type]
    executor.run(time.monotonic_ns() - 10**12)  # the whole window is in the past: every action at once
    executor.end_all()
    return schedule, cluster.faults, executor, driver


def test_actions_are_fault_api_calls_with_the_schedules_seeds():
    s = scenario(
        "x",
        duration_s=20,
        nodes=3,
        conditions=[node_failure("leader", interval_s=5, count=1, down_s=5), network_latency(100, 200, fraction=0.5)],
    )
    schedule, faults, executor, driver = execute(s)
    kinds = [c[0] for c in faults.calls]
    assert kinds[:4] == ["latency", "crash", "restart", "undo"] and kinds[-1] == "heal"
    crash = next(c for c in faults.calls if c[0] == "crash")
    assert crash[1] == ("n2",) and crash[2] == next(a.seed for a in schedule.actions if a.action == "crash")
    latency = next(c for c in faults.calls if c[0] == "latency")
    assert latency[1] == (100, 200)
    assert driver.aimed[0] == ["n1", "n3"] and driver.aimed[-1] == ["n1", "n2", "n3"]
    assert [e.get("node") for e in executor.executed if e["action"] == "crash"] == ["n2"]
    assert [sp.label for sp in executor.spans()] == ["latency 100-200 ms on 3/6 links", "crash the leader (n2)"]
    assert not executor.problems


def test_a_fault_not_in_effect_is_a_problem_and_the_run_goes_on():
    s = scenario("x", duration_s=20, nodes=3, conditions=[partition(rounds=2, interval_s=5, hold_s=3)])
    schedule, faults, executor, driver = execute(s, fail="partition")
    assert len(executor.problems) == 2 and "FaultNotEffective: partition: not in effect" in executor.problems[0]
    assert [c[0] for c in faults.calls].count("partition") == 2  # both rounds were tried
    assert all(sp.end_ns >= sp.start_ns for sp in executor.spans())


def test_isolate_the_leader_cuts_off_whoever_leads():
    s = scenario("x", duration_s=20, nodes=3, conditions=[partition("isolate_leader", rounds=1, hold_s=3)])
    schedule, faults, executor, driver = execute(s)
    call = next(c for c in faults.calls if c[0] == "partition")
    assert call[1] == ([["n1", "n3"], ["n2"]], "drop")
    assert executor.executed[0]["groups"] == [["n1", "n3"], ["n2"]] and executor.executed[0]["node"] == "n2"
    assert [sp.label for sp in executor.spans()] == ["isolate the leader (n2)"]


def test_recovery_is_timed_from_the_first_ending_of_the_last_batch():
    s = scenario(
        "x", duration_s=20, nodes=3, conditions=[node_failure(interval_s=5, count=1), network_latency(100, 200)]
    )
    schedule = compile_schedule(s, 5, NODES, LINKS)
    cluster = SimpleNamespace(faults=FakeFaults(), links=object())
    executor = Executor(cluster, schedule, Aims(), Probe(), tick_s=1000)  # type: ignore[arg-type]
    executor.run(time.monotonic_ns() - 10**12)
    end = executor.end_all()
    assert set(executor.lifted_at_s.values()) == {20.0}  # the restart and the latency's revert, both at the end
    assert end == min(executor.lifted.values())  # the restart was issued first: recovery includes its catching up
