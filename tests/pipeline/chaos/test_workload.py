"""The paced workload driver: bounded, seeded, aimed, and honest about slots it could not keep."""

from __future__ import annotations

import random
import threading

import pytest

from pipeline.chaos.workload import Driver, load_factory


class Recorder:
    checkers: tuple[str, ...] = ()

    def __init__(self, slow_first: float = 0.0) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.slow_first = slow_first
        self.closed: list[str] = []

    def setup(self, nodes):
        pass

    def finish(self, nodes):
        pass

    def client(self, name):
        workload = self

        class Client:
            def step(self, rng: random.Random, node: str, n: int) -> None:
                if n == 0 and workload.slow_first:
                    threading.Event().wait(workload.slow_first)  # a slow operation (the service's time, not a sync)
                with workload.lock:
                    workload.calls.append((name, node, n))

            def close(self) -> None:
                workload.closed.append(name)

        return Client()


def run(workload, **kw):
    driver = Driver(workload, ["n1", "n2", "n3"], seed=kw.pop("seed", 1), **kw)
    driver.start()
    for t in driver._threads:
        t.join(30)
    driver.stop()
    return driver


def test_bounded_in_operations_and_every_client_closed():
    workload = Recorder()
    driver = run(workload, rate_ops=400, threads=2, max_seconds=30, max_ops=15)
    assert driver.total == 30 and driver.done_ops == {"c1": 15, "c2": 15}
    assert sorted(workload.closed) == ["c1", "c2"]


def test_the_nodes_each_client_picks_follow_the_seed():
    def picks(seed):
        workload = Recorder()
        run(workload, rate_ops=400, threads=2, max_seconds=30, max_ops=10, seed=seed)
        return sorted(workload.calls)

    assert picks(3) == picks(3) and picks(3) != picks(4)


def test_aim_restricts_the_targets_and_never_to_none():
    driver = Driver(Recorder(), ["n1", "n2"], seed=1, rate_ops=10, threads=1, max_seconds=1)
    driver.aim(["n2"])
    assert driver.targets == ["n2"]
    driver.aim([])
    assert driver.targets == ["n2"]


def test_a_client_stuck_in_a_slow_operation_reports_the_slots_it_missed():
    workload = Recorder(slow_first=0.2)
    driver = run(workload, rate_ops=100, threads=1, max_seconds=30, max_ops=3)
    assert len(driver.missed) >= 19 and all(client == "c1" for client, _ in driver.missed)  # 10 ms slots, 0.2 s op


def test_load_factory_names_what_is_wrong():
    assert callable(load_factory("tests.pipeline.chaos.helpers:ping"))
    with pytest.raises(ValueError, match="expected 'module:callable'"):
        load_factory("nocolon")
    with pytest.raises(ValueError, match="cannot import"):
        load_factory("no.such.module:f")
    with pytest.raises(ValueError, match="has no callable 'nope'"):
        load_factory("tests.pipeline.chaos.helpers:nope")
