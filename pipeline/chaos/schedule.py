"""A scenario compiled into a concrete schedule: what happens, where, when.

:func:`compile_schedule` makes every random choice of a scenario (which node
fails, which links get which latency, which nodes form the minority in each
round, the seed of every fault call) from the scenario's seed and nothing
else, so the same scenario and seed give the same schedule, byte for byte, on
any machine.  The schedule is written to ``schedule.json`` *before* a run
starts; ``--replay schedule.json`` runs exactly that schedule again (the file
carries the scenario too, so a changed ``pipeline.toml`` does not change a
replay); ``--dry-run`` prints it and starts nothing.

One choice cannot be made ahead: ``node_failure(target="leader")`` fails
whichever node leads at that moment.  The schedule says ``leader``; the
executed node is in the run's fault log.

Times are seconds from the start of the chaos window.  Each condition opens
one or more *windows* (a crash until its restart, a partition round until
its revert, latency until the end); availability is measured before, during
and after each (:mod:`pipeline.chaos.metrics`).  At the end of the window
every fault still active is ended: links healed (verified), nodes restarted
or resumed, pressure helpers stopped.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.chaos.model import (
    MessageLoss,
    NetworkLatency,
    NodeFailure,
    Partition,
    ResourceExhaustion,
    Scenario,
    ScenarioError,
    scenario_from_mapping,
)

__all__ = ["Window", "Action", "Schedule", "compile_schedule", "load_schedule", "FORMAT", "START_ACTIONS"]

FORMAT = 1
START_ACTIONS = ("crash", "pause", "latency", "message_loss", "memory_pressure", "cpu_pressure", "partition")
END_ACTIONS = ("restart", "resume", "revert")


@dataclass(frozen=True)
class Window:
    """One fault's time span: ``[start_s, end_s)`` of the chaos window."""

    id: str
    condition: int
    kind: str
    label: str
    start_s: float
    end_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "condition": self.condition,
            "kind": self.kind,
            "label": self.label,
            "start_s": self.start_s,
            "end_s": self.end_s,
        }


@dataclass(frozen=True)
class Action:
    """One call on the cluster's fault API at ``at_s``: ``action`` with ``params``
    (a node, links, groups, sizes), ``seed`` for the fault call, for ``window``."""

    at_s: float
    action: str
    window: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "action": self.action, "window": self.window, "seed": self.seed, **self.params}

    def describe(self) -> str:
        bits = []
        for key, value in self.params.items():
            if key == "links":
                bits.append(f"links({len(value)})={','.join(value)}")
            elif key == "groups":
                bits.append("groups=" + " | ".join(" ".join(g) for g in value))
            else:
                bits.append(f"{key}={value}")
        seed = f" seed={self.seed}" if self.seed is not None else ""
        return f"+{self.at_s:7.3f} s  {self.action:<15} {self.window:<4} {' '.join(bits)}{seed}"


@dataclass(frozen=True)
class Schedule:
    """A compiled scenario: its windows and actions in time order."""

    scenario: Scenario
    seed: int
    nodes: tuple[str, ...]
    links: tuple[str, ...]
    windows: tuple[Window, ...]
    actions: tuple[Action, ...]

    @property
    def workload_seed(self) -> int:
        return random.Random(f"{self.seed}/{self.scenario.name}/workload").randrange(2**31)

    def window(self, wid: str) -> Window:
        for w in self.windows:
            if w.id == wid:
                return w
        raise KeyError(wid)

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "format": FORMAT,
            "scenario": s.as_dict(),
            "seed": self.seed,
            "workload_seed": self.workload_seed,
            "nodes": list(self.nodes),
            "links": list(self.links),
            "timeline": {"warmup_s": s.warmup_s, "duration_s": s.duration_s, "cooldown_s": s.cooldown_s},
            "windows": [w.to_json() for w in self.windows],
            "actions": [a.to_json() for a in self.actions],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    def describe(self) -> str:
        s = self.scenario
        lines = [
            f"schedule of {s.name} (seed {self.seed}): {len(self.nodes)} nodes ({' '.join(self.nodes)}), "
            f"{len(self.links)} links; warm-up {s.warmup_s:g} s, chaos window {s.duration_s:g} s, "
            f"cool-down {s.cooldown_s:g} s; workload {s.workload!r} seed {self.workload_seed}",
            f"  {s!r}",
            "  windows:",
        ]
        lines += [f"    {w.id:<4} +{w.start_s:7.3f} .. +{w.end_s:7.3f} s  {w.label}" for w in self.windows]
        lines.append("  actions:")
        lines += [f"    {a.describe()}" for a in self.actions]
        lines.append(f"    +{s.duration_s:7.3f} s  end of window: heal every link, restart/resume nodes, stop helpers")
        return "\n".join(lines)


def _round(x: float) -> float:
    return round(float(x), 3)


def _down_at(down: list[tuple[str, float, float]], t: float) -> set[str]:
    return {node for node, start, end in down if start <= t < end}


def compile_schedule(scenario: Scenario, seed: int, nodes: Sequence[str], links: Sequence[str]) -> Schedule:
    """The concrete schedule of ``scenario`` on these nodes and links, from ``seed`` only."""
    names = tuple(nodes)
    link_names = tuple(sorted(links))
    windows: list[Window] = []
    actions: list[Action] = []
    down: list[tuple[str, float, float]] = []
    end = scenario.duration_s
    counter = 0

    def new_window(i: int, kind: str, label: str, start: float, stop: float) -> str:
        nonlocal counter
        counter += 1
        wid = f"w{counter}"
        windows.append(Window(wid, i, kind, label, _round(start), _round(min(stop, end))))
        return wid

    for i, c in enumerate(scenario.conditions):
        rng = random.Random(f"{seed}/{scenario.name}/condition/{i}")
        if isinstance(c, NodeFailure):
            for k in range(c.count):
                at = c.first_s + k * c.interval_s
                stop = end if c.down_s is None else min(end, at + c.down_s)
                if c.target == "random":
                    up = [n for n in names if n not in _down_at(down, at)]
                    if not up:
                        raise ScenarioError(f"conditions.{i}.count", f"no node left up at {at:g} s to fail")
                    node = up[rng.randrange(len(up))]
                    down.append((node, at, stop))
                else:
                    node = c.target
                where = "the leader" if node == "leader" else node
                wid = new_window(i, c.kind, f"{c.mode} {where}", at, stop)
                actions.append(Action(_round(at), c.mode, wid, {"node": node}, rng.randrange(2**31)))
                actions.append(
                    Action(_round(stop), "restart" if c.mode == "crash" else "resume", wid, {}, rng.randrange(2**31))
                )
        elif isinstance(c, NetworkLatency):
            count = max(1, round(c.fraction * len(link_names))) if link_names else 0
            chosen = sorted(rng.sample(link_names, count))
            stop = end if c.duration_s is None else c.start_s + c.duration_s
            label = f"latency {c.min_ms}-{c.max_ms} ms on {count}/{len(link_names)} links"
            wid = new_window(i, c.kind, label, c.start_s, stop)
            actions.append(
                Action(
                    _round(c.start_s),
                    "latency",
                    wid,
                    {"links": chosen, "min_ms": c.min_ms, "max_ms": c.max_ms},
                    rng.randrange(2**31),
                )
            )
            actions.append(Action(_round(stop), "revert", wid, {}, None))
        elif isinstance(c, MessageLoss):
            count = max(1, round(c.fraction * len(link_names))) if link_names else 0
            chosen = sorted(rng.sample(link_names, count))
            stop = end if c.duration_s is None else c.start_s + c.duration_s
            label = f"message loss p={c.probability:g} ({c.mode}) on {count}/{len(link_names)} links"
            wid = new_window(i, c.kind, label, c.start_s, stop)
            loss = {"links": chosen, "probability": c.probability, "mode": c.mode}
            actions.append(Action(_round(c.start_s), "message_loss", wid, loss, rng.randrange(2**31)))
            actions.append(Action(_round(stop), "revert", wid, {}, None))
        elif isinstance(c, ResourceExhaustion):
            stop = end if c.duration_s is None else c.start_s + c.duration_s
            seconds = _round(stop - c.start_s)
            if c.resource == "memory":
                assert scenario.memory_mb is not None  # checked by scenario()
                mb = max(1, int(c.target_fraction * scenario.memory_mb))
                label = f"memory pressure {mb} MiB ({c.target_fraction:.0%} of {scenario.memory_mb} MiB)"
                params: dict[str, Any] = {"mb": mb, "seconds": seconds}
                action = "memory_pressure"
            else:
                params = {"fraction": c.target_fraction, "seconds": seconds}
                label = f"cpu pressure {c.target_fraction:.0%} of the cores"
                action = "cpu_pressure"
            wid = new_window(i, c.kind, label, c.start_s, stop)
            actions.append(Action(_round(c.start_s), action, wid, params, rng.randrange(2**31)))
            actions.append(Action(_round(stop), "revert", wid, {}, None))
        elif isinstance(c, Partition):
            n = len(names)
            size = {"majority_minority": n - (n // 2 + 1), "halves": n // 2, "isolate": 1, "isolate_leader": 1}[c.shape]
            size = max(1, size)
            order = list(names)
            rng.shuffle(order)
            for r in range(c.rounds):
                at = c.start_s + r * c.interval_s
                stop = at + c.hold_s
                if c.shape == "isolate_leader":
                    wid = new_window(i, c.kind, "isolate the leader", at, stop)
                    params = {"isolate": "leader", "mode": c.mode}
                    actions.append(Action(_round(at), "partition", wid, params, rng.randrange(2**31)))
                    actions.append(Action(_round(stop), "revert", wid, {}, None))
                    continue
                if c.rotate:
                    minority = {order[(r * size + j) % n] for j in range(size)}
                else:
                    minority = set(rng.sample(list(names), size))
                groups = [[x for x in names if x not in minority], [x for x in names if x in minority]]
                label = f"partition {' '.join(groups[0])} | {' '.join(groups[1])}"
                wid = new_window(i, c.kind, label, at, stop)
                actions.append(
                    Action(_round(at), "partition", wid, {"groups": groups, "mode": c.mode}, rng.randrange(2**31))
                )
                actions.append(Action(_round(stop), "revert", wid, {}, None))
    order_of = {a: k for k, a in enumerate(END_ACTIONS + START_ACTIONS)}  # at the same instant, ends first
    actions.sort(key=lambda a: (a.at_s, order_of[a.action], int(a.window[1:])))
    windows.sort(key=lambda w: (w.start_s, int(w.id[1:])))
    return Schedule(scenario, seed, names, link_names, tuple(windows), tuple(actions))


def from_json(data: Any, source: str = "schedule.json") -> Schedule:
    """A schedule from its JSON form (what :meth:`Schedule.to_json` wrote)."""
    try:
        if data.get("format") != FORMAT:
            raise ScenarioError("format", f"expected {FORMAT}, got {data.get('format')!r}")
        scenario_data = dict(data["scenario"])
        name = scenario_data.pop("name")
        scenario = scenario_from_mapping(name, scenario_data)
        windows = tuple(
            Window(w["id"], int(w["condition"]), w["kind"], w["label"], float(w["start_s"]), float(w["end_s"]))
            for w in data["windows"]
        )
        actions = []
        for raw in data["actions"]:
            a = dict(raw)
            at, action, window, seed = a.pop("at_s"), a.pop("action"), a.pop("window"), a.pop("seed")
            if action not in START_ACTIONS + END_ACTIONS:
                raise ScenarioError("actions.action", f"{action!r} is not allowed", START_ACTIONS + END_ACTIONS)
            actions.append(Action(float(at), action, window, a, seed))
        return Schedule(
            scenario, int(data["seed"]), tuple(data["nodes"]), tuple(data["links"]), windows, tuple(actions)
        )
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc.key}", str(exc).split(": ", 1)[-1]) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ScenarioError(source, f"not a chaos schedule ({type(exc).__name__}: {exc})") from None


def load_schedule(path: Path) -> Schedule:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), f"cannot read the schedule: {exc}") from None
    return from_json(data, str(path))
