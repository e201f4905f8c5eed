"""A schedule executed on a running cluster, through its fault API only.

Each action is a call on ``cluster.faults`` (crash, pause, restart, resume,
partition, latency, message_loss, memory_pressure, cpu_pressure, and a
record's ``revert()``), made when the schedule says, with the seed the
schedule gives.  Every fault call returns only once the fault is verified
effective; one that is not (``FaultNotEffective``), or cannot be applied, is
a *problem*: the run goes on, but its verdict can only be ``unknown``.

The window of a fault as it happened (a :class:`~pipeline.chaos.metrics.Span`)
runs from just before its call to just after its revert returned (a crashed
node's window ends once it is healthy again).  The clients are aimed away
from nodes this executor took down.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from pipeline.chaos.metrics import Span
from pipeline.chaos.probe import Probe
from pipeline.chaos.schedule import Action, Schedule
from pipeline.chaos.workload import Driver
from pipeline.faults.log import FaultRecord

__all__ = ["Executor"]

PRESSURE_MARGIN_S = 5.0  # a pressure helper outlives its window by this much at most; it is stopped on time


class Executor:
    def __init__(
        self,
        cluster: Any,
        schedule: Schedule,
        driver: Driver | None,
        probe: Probe,
        *,
        stop: threading.Event | None = None,
        tick: Callable[[float], None] | None = None,
        tick_s: float = 5.0,
    ) -> None:
        self.cluster = cluster
        self.schedule = schedule
        self.driver = driver
        self.probe = probe
        self.stop = stop or threading.Event()
        self.tick = tick
        self.tick_s = tick_s
        self.records: dict[str, FaultRecord] = {}
        self.nodes: dict[str, str] = {}  # window -> node it took down
        self.down: set[str] = set()
        self.started: dict[str, int] = {}
        self.ended: dict[str, int] = {}
        self.lifted: dict[str, int] = {}  # window -> when its ending was issued (restart, resume, revert)
        self.lifted_at_s: dict[str, float] = {}  # window -> the schedule's time for that ending
        self.problems: list[str] = []
        self.executed: list[dict[str, Any]] = []
        self.t0_ns = 0
        self._next_tick: float | None = None

    # ------------------------------------------------------------------ timing

    def elapsed(self) -> float:
        return (time.monotonic_ns() - self.t0_ns) / 1e9

    def _wait_until(self, at_s: float) -> bool:
        """Until ``at_s`` into the window (ticking progress); False when stopped."""
        if self._next_tick is None:
            self._next_tick = self.elapsed() + self.tick_s
        while (left := at_s - self.elapsed()) > 0:
            step = min(left, max(0.0, self._next_tick - self.elapsed()))
            if self.stop.wait(step):  # the schedule's next instant, or a stop
                return False
            if self.elapsed() >= self._next_tick:
                if self.tick is not None:
                    self.tick(self.elapsed())
                self._next_tick += self.tick_s
        return True

    def warm_up(self, t0_ns: int) -> None:
        """Until the chaos window opens at ``t0_ns`` (the clients are already running)."""
        self.t0_ns = t0_ns
        self._wait_until(0.0)

    def run(self, t0_ns: int) -> None:
        """Every action at its time, then wait for the end of the window."""
        self.t0_ns = t0_ns
        for action in self.schedule.actions:
            if not self._wait_until(action.at_s):
                return
            self._do(action)
        self._wait_until(self.schedule.scenario.duration_s)

    # ----------------------------------------------------------------- actions

    def _aim(self) -> None:
        if self.driver is not None:
            self.driver.aim([n for n in self.schedule.nodes if n not in self.down])

    def _do(self, action: Action) -> None:
        wid = action.window
        label = self.schedule.window(wid).label
        begun = time.monotonic_ns()
        entry: dict[str, Any] = {"at_s": round(self.elapsed(), 3), "action": action.action, "window": wid}
        try:
            if action.action in ("crash", "pause"):
                node = action.params["node"]
                if node == "leader":
                    node = self._leader()
                entry["node"] = node
                self.down.add(node)
                self.nodes[wid] = node  # before the call: a failure that half-happened is still brought back
                self._aim()
                self.started[wid] = begun
                method = self.cluster.faults.crash if action.action == "crash" else self.cluster.faults.pause
                self.records[wid] = method(node, seed=action.seed)
            elif action.action in ("restart", "resume"):
                node = self.nodes.get(wid)
                if node is None:
                    return  # its failure never happened (already a problem)
                self.lifted[wid] = begun
                self.lifted_at_s[wid] = action.at_s
                if action.action == "restart":
                    self.cluster.faults.restart(node, seed=action.seed)
                else:
                    self.cluster.faults.resume(node, seed=action.seed)
                self.ended[wid] = time.monotonic_ns()
                self.down.discard(node)
                self._aim()
                entry["node"] = node
            elif action.action == "revert":
                record = self.records.get(wid)
                if record is not None:
                    self.lifted[wid] = begun
                    self.lifted_at_s[wid] = action.at_s
                    record.revert()
                    self.ended[wid] = time.monotonic_ns()
            else:
                if action.params.get("isolate") == "leader":
                    node = self._leader()
                    entry["node"] = node
                    self.nodes[wid] = node
                    others = [n for n in self.schedule.nodes if n != node]
                    action = Action(
                        action.at_s,
                        action.action,
                        wid,
                        {"groups": [others, [node]], "mode": action.params["mode"]},
                        action.seed,
                    )
                    entry["groups"] = action.params["groups"]
                self.started[wid] = begun
                self.records[wid] = self._start(action)
        except Exception as exc:  # noqa: BLE001 - a fault that did not happen makes the run untrusted
            problem = f"{wid} ({label}) {action.action}: {type(exc).__name__}: {exc}"
            self.problems.append(problem)
            entry["problem"] = problem
            self.ended.setdefault(wid, time.monotonic_ns())
        record = self.records.get(wid)
        if record is not None:
            entry["fault"] = record.tag
        self.executed.append(entry)

    def _leader(self) -> str:
        up = [n for n in self.schedule.nodes if n not in self.down]
        found = self.probe.wait_leader(up, timeout=10.0)
        if found is None:
            raise RuntimeError(f"no leader agreed on by {up} within 10 s")
        return found

    def _start(self, action: Action) -> FaultRecord:
        p = action.params
        faults = self.cluster.faults
        if action.action == "latency":
            return faults.latency(p["min_ms"], p["max_ms"], links=p["links"], seed=action.seed, spread="fixed")
        if action.action == "message_loss":
            return faults.message_loss(p["probability"], links=p["links"], mode=p["mode"], seed=action.seed)
        if action.action == "partition":
            return faults.partition(p["groups"], p["mode"], seed=action.seed)
        if action.action == "memory_pressure":
            return faults.memory_pressure(p["mb"], p["seconds"] + PRESSURE_MARGIN_S, seed=action.seed)
        if action.action == "cpu_pressure":
            workers = max(1, round(p["fraction"] * (os.cpu_count() or 1)))
            return faults.cpu_pressure(p["seconds"] + PRESSURE_MARGIN_S, workers, seed=action.seed)
        raise ValueError(f"unknown action {action.action!r}")

    # --------------------------------------------------------------- the end

    def end_all(self) -> int:
        """End every fault still on: revert records, heal every link (verified),
        restart or resume nodes still down.  Returns monotonic ns of the end of
        the last fault, for ``recovery_time``: when the last batch of endings
        (those the schedule puts at the latest instant) began to be issued."""
        began = time.monotonic_ns()
        for wid in self.started:
            if wid not in self.lifted:
                self.lifted[wid] = began
                self.lifted_at_s[wid] = self.schedule.scenario.duration_s
        for wid, record in list(self.records.items()):
            if record.active and record.kind not in ("crash", "pause"):
                try:
                    record.revert()
                except Exception as exc:  # noqa: BLE001
                    self.problems.append(f"{wid} revert at the end: {type(exc).__name__}: {exc}")
                self.ended.setdefault(wid, time.monotonic_ns())
        if self.cluster.links is not None:
            try:
                self.cluster.faults.heal()
            except Exception as exc:  # noqa: BLE001
                self.problems.append(f"heal at the end: {type(exc).__name__}: {exc}")
        for wid, node in list(self.nodes.items()):
            if node in self.down:
                try:
                    failure = self.records.get(wid)  # None when the crash or pause itself raised
                    if failure is not None and failure.kind == "pause":
                        self.cluster.faults.resume(node)
                    else:
                        self.cluster.faults.restart(node)
                except Exception as exc:  # noqa: BLE001
                    self.problems.append(f"{wid} bringing {node} back at the end: {type(exc).__name__}: {exc}")
                self.down.discard(node)
                self.ended.setdefault(wid, time.monotonic_ns())
        self._aim()
        now = time.monotonic_ns()
        for wid in self.started:
            self.ended.setdefault(wid, now)
        if not self.lifted:
            return began
        last = max(self.lifted_at_s.values())
        return min(t for wid, t in self.lifted.items() if self.lifted_at_s[wid] == last)

    def spans(self) -> list[Span]:
        out = []
        for wid, start in sorted(self.started.items(), key=lambda kv: kv[1]):
            label = self.schedule.window(wid).label
            if "the leader" in label and wid in self.nodes:
                label = f"{label} ({self.nodes[wid]})"
            out.append(Span(wid, label, start, self.ended.get(wid, start)))
        return out
