"""A workload of the ping node (pipeline/testing/pingnode.py), for the end-to-end tests:
each operation is a recorded ``GET /peers`` (what a node can reach), so partitions show in
the answers while every answer is still served."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import requests

from pipeline.checker.history import History


class _Client:
    def __init__(self, workload: PingWorkload, name: str) -> None:
        self.workload = workload
        self.name = name
        self.session = requests.Session()

    def step(self, rng: random.Random, node: str, n: int) -> None:
        with self.workload.history.op(self.name, "peers", node=node) as op:
            r = self.session.get(self.workload.urls[node] + "/peers?timeout=0.2", timeout=self.workload.timeout_s)
            r.raise_for_status()
            op.ok(sorted(r.json()["reachable"]))

    def close(self) -> None:
        self.session.close()


class PingWorkload:
    checkers: tuple[str, ...] = ()

    def __init__(self, history: History, urls: Mapping[str, str], seed: int, timeout_s: float) -> None:
        self.history = history
        self.urls = dict(urls)
        self.timeout_s = timeout_s
        self.finished: list[str] = []

    def setup(self, nodes: Sequence[str]) -> None:
        self.history.record("setup", "nodes", result=list(nodes))

    def client(self, name: str) -> _Client:
        return _Client(self, name)

    def finish(self, nodes: Sequence[str]) -> None:
        self.finished = list(nodes)
        self.history.record("final", "nodes", result=list(nodes))


def ping(history: History, urls: Mapping[str, str], seed: int, timeout_s: float) -> PingWorkload:
    return PingWorkload(history, urls, seed, timeout_s)


def broken(history: History, urls: Mapping[str, str], seed: int, timeout_s: float) -> PingWorkload:
    raise RuntimeError("this workload cannot start")
