"""Chaos scenarios as small frozen objects: what goes wrong, when, and what must still hold.

A scenario is made by :func:`scenario` from conditions made by their own
factories, and prints back as what it says::

    >>> scenario(
    ...     "progressive_node_failures",
    ...     duration_s=60,
    ...     conditions=[node_failure(interval_s=10, count=2), network_latency(100, 1000, fraction=0.3)],
    ...     criteria=["availability >= 0.8", "data_consistency == 1", "recovery_time <= 30"],
    ... )
    scenario('progressive_node_failures', 60 s on 5 nodes: node_failure(target='random', mode='crash', \
interval_s=10, count=2), network_latency(min_ms=100, max_ms=1000, fraction=0.3); \
criteria: availability >= 0.8, data_consistency == 1, recovery_time <= 30)

Every value is checked when the object is made; a mistake raises
:class:`ScenarioError` naming the key and, for a closed set, the allowed values
(``conditions.0.mode: 'explode' is not allowed; allowed: crash, pause``).

Times are seconds from the start of the *chaos window* (after the warm-up);
``duration_s`` is the window's length.  A condition whose ``duration_s`` is
``None`` lasts until the end of the window.  Nothing here is random: the
random choices (which node, which links, which minority) are made from the
scenario's seed when it is compiled into a schedule (:mod:`pipeline.chaos.schedule`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipeline.report.threshold import Threshold, ThresholdError, parse_threshold

__all__ = [
    "ScenarioError",
    "NodeFailure",
    "NetworkLatency",
    "ResourceExhaustion",
    "MessageLoss",
    "Partition",
    "Condition",
    "Workload",
    "Scenario",
    "node_failure",
    "network_latency",
    "resource_exhaustion",
    "message_loss",
    "partition",
    "workload",
    "scenario",
    "condition_from_mapping",
    "scenario_from_mapping",
    "CONDITION_KINDS",
    "NODE_TARGETS",
    "FAILURE_MODES",
    "RESOURCES",
    "LOSS_MODES",
    "SHAPES",
    "PARTITION_MODES",
    "SCENARIO_KEYS",
    "WORKLOAD_KEYS",
]

NODE_TARGETS = ("random", "leader")
FAILURE_MODES = ("crash", "pause")
RESOURCES = ("memory", "cpu")
LOSS_MODES = ("reset", "drop")
SHAPES = ("majority_minority", "halves", "isolate", "isolate_leader")
PARTITION_MODES = ("drop", "reject")
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_SECONDS = 3600.0


class ScenarioError(ValueError):
    """A scenario or condition value that is not allowed; the message names the key."""

    def __init__(self, key: str, problem: str, allowed: Sequence[object] | None = None) -> None:
        message = f"{key}: {problem}"
        if allowed is not None:
            message += f"; allowed: {', '.join(str(a) for a in allowed)}"
        super().__init__(message)
        self.key = key


class _Spec:
    """``repr`` as a factory call, listing the fields that differ from their default."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    kind: ClassVar[str] = ""
    _always: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name not in self._always and f.default is not dataclasses.MISSING and value == f.default:
                continue
            parts.append(f"{f.name}={_short(value)}")
        return f"{self.kind}({', '.join(parts)})"

    def as_dict(self) -> dict[str, Any]:
        """The condition as a ``[chaos.scenarios.NAME]`` entry would write it (``kind`` first)."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = getattr(self, f.name)
        return out


def _short(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


# ------------------------------------------------------------------ checks


def _number(key: str, value: object, *, low: float = 0.0, high: float = MAX_SECONDS, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(key, f"expected a number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        lo = "(" if open_low else "["
        raise ScenarioError(key, f"must be in {lo}{_short(float(low))}, {_short(float(high))}], got {value!r}")
    return float(value)


def _int(key: str, value: object, *, low: int = 1, high: int = 1000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScenarioError(key, f"expected a whole number in [{low}, {high}], got {value!r}")
    return value


def _choice(key: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ScenarioError(key, f"{value!r} is not allowed", allowed)
    return str(value)


def _optional_seconds(key: str, value: object) -> float | None:
    return None if value is None else _number(key, value, open_low=True)


# -------------------------------------------------------------- conditions


@dataclass(frozen=True, repr=False)
class NodeFailure(_Spec):
    """``count`` nodes fail, one every ``interval_s`` from ``start_s`` (default:
    ``interval_s``): ``crash`` (SIGKILL) or ``pause`` (SIGSTOP).  ``target``:
    ``random`` (a node drawn from the seed, distinct while others are down),
    ``leader`` (whoever leads at that moment: resolved when it happens), or a
    node name.  Each failed node is restarted (resumed) after ``down_s``, or at
    the end of the window when ``down_s`` is ``None``."""

    kind: ClassVar[str] = "node_failure"
    _always: ClassVar[tuple[str, ...]] = ("target", "mode", "interval_s", "count")
    target: str = "random"
    mode: str = "crash"
    interval_s: float = 10.0
    count: int = 1
    start_s: float | None = None
    down_s: float | None = None

    @property
    def first_s(self) -> float:
        return self.interval_s if self.start_s is None else self.start_s


@dataclass(frozen=True, repr=False)
class NetworkLatency(_Spec):
    """Delay in [min_ms, max_ms] on a seeded ``fraction`` of the peer links
    (each link gets one delay drawn from the seed), from ``start_s`` for
    ``duration_s`` (``None``: to the end of the window)."""

    kind: ClassVar[str] = "network_latency"
    _always: ClassVar[tuple[str, ...]] = ("min_ms", "max_ms", "fraction")
    min_ms: int = 100
    max_ms: int = 1000
    fraction: float = 1.0
    start_s: float = 0.0
    duration_s: float | None = None


@dataclass(frozen=True, repr=False)
class ResourceExhaustion(_Spec):
    """``memory``: a helper holds ``target_fraction`` of the node memory limit
    (the scenario's ``memory_mb``) resident; ``cpu``: helpers burn
    ``target_fraction`` of the machine's cores.  Bounded: the helper ends by
    itself at the end of its window (:mod:`pipeline.faults.pressure`)."""

    kind: ClassVar[str] = "resource_exhaustion"
    _always: ClassVar[tuple[str, ...]] = ("resource", "target_fraction")
    resource: str = "memory"
    target_fraction: float = 0.9
    start_s: float = 0.0
    duration_s: float | None = None


@dataclass(frozen=True, repr=False)
class MessageLoss(_Spec):
    """Per-connection loss with ``probability`` on a seeded ``fraction`` of the
    links (``reset`` or ``drop``: see :mod:`pipeline.faults.network`)."""

    kind: ClassVar[str] = "message_loss"
    _always: ClassVar[tuple[str, ...]] = ("probability", "fraction")
    probability: float = 0.1
    fraction: float = 1.0
    mode: str = "reset"
    start_s: float = 0.0
    duration_s: float | None = None


@dataclass(frozen=True, repr=False)
class Partition(_Spec):
    """``rounds`` partitions of ``shape``, one every ``interval_s`` from
    ``start_s``, each held ``hold_s``.  ``rotate``: the minority side changes
    every round (the nodes are put in a seeded order and the minority walks
    along it), so every node spends time cut off; else each round's groups
    are drawn from the seed.  ``isolate_leader`` cuts off whichever node leads
    when the round starts (resolved then, like ``node_failure(target="leader")``):
    the old leader must stop acknowledging writes it cannot replicate."""

    kind: ClassVar[str] = "partition"
    _always: ClassVar[tuple[str, ...]] = ("shape", "rounds", "interval_s", "hold_s")
    shape: str = "majority_minority"
    rounds: int = 1
    interval_s: float = 10.0
    hold_s: float = 5.0
    start_s: float = 0.0
    rotate: bool = False
    mode: str = "drop"


Condition = NodeFailure | NetworkLatency | ResourceExhaustion | MessageLoss | Partition
CONDITION_TYPES: dict[str, type[_Spec]] = {
    c.kind: c for c in (NodeFailure, NetworkLatency, ResourceExhaustion, MessageLoss, Partition)
}
CONDITION_KINDS = tuple(CONDITION_TYPES)


def node_failure(
    target: str = "random",
    mode: str = "crash",
    *,
    interval_s: float = 10.0,
    count: int = 1,
    start_s: float | None = None,
    down_s: float | None = None,
    key: str = "node_failure",
) -> NodeFailure:
    if not isinstance(target, str) or not (target in NODE_TARGETS or NAME.fullmatch(target)):
        raise ScenarioError(f"{key}.target", f"{target!r} is not allowed", (*NODE_TARGETS, "<node name>"))
    return NodeFailure(
        target=target,
        mode=_choice(f"{key}.mode", mode, FAILURE_MODES),
        interval_s=_number(f"{key}.interval_s", interval_s, open_low=True),
        count=_int(f"{key}.count", count, high=100),
        start_s=None if start_s is None else _number(f"{key}.start_s", start_s),
        down_s=_optional_seconds(f"{key}.down_s", down_s),
    )


def _latency_ms(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600_000:
        raise ScenarioError(key, f"expected a whole number of milliseconds in [0, 600000], got {value!r}")
    return value


def network_latency(
    min_ms: int = 100,
    max_ms: int | None = None,
    *,
    fraction: float = 1.0,
    start_s: float = 0.0,
    duration_s: float | None = None,
    key: str = "network_latency",
) -> NetworkLatency:
    low = _latency_ms(f"{key}.min_ms", min_ms)
    high = low if max_ms is None else _latency_ms(f"{key}.max_ms", max_ms)
    if high < low:
        raise ScenarioError(f"{key}.max_ms", f"must be >= min_ms ({low}), got {high}")
    return NetworkLatency(
        min_ms=low,
        max_ms=high,
        fraction=_number(f"{key}.fraction", fraction, high=1.0, open_low=True),
        start_s=_number(f"{key}.start_s", start_s),
        duration_s=_optional_seconds(f"{key}.duration_s", duration_s),
    )


def resource_exhaustion(
    resource: str = "memory",
    target_fraction: float = 0.9,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    key: str = "resource_exhaustion",
) -> ResourceExhaustion:
    return ResourceExhaustion(
        resource=_choice(f"{key}.resource", resource, RESOURCES),
        target_fraction=_number(f"{key}.target_fraction", target_fraction, high=1.0, open_low=True),
        start_s=_number(f"{key}.start_s", start_s),
        duration_s=_optional_seconds(f"{key}.duration_s", duration_s),
    )


def message_loss(
    probability: float = 0.1,
    *,
    fraction: float = 1.0,
    mode: str = "reset",
    start_s: float = 0.0,
    duration_s: float | None = None,
    key: str = "message_loss",
) -> MessageLoss:
    return MessageLoss(
        probability=_number(f"{key}.probability", probability, high=1.0),
        fraction=_number(f"{key}.fraction", fraction, high=1.0, open_low=True),
        mode=_choice(f"{key}.mode", mode, LOSS_MODES),
        start_s=_number(f"{key}.start_s", start_s),
        duration_s=_optional_seconds(f"{key}.duration_s", duration_s),
    )


def partition(
    shape: str = "majority_minority",
    *,
    rounds: int = 1,
    interval_s: float = 10.0,
    hold_s: float = 5.0,
    start_s: float = 0.0,
    rotate: bool = False,
    mode: str = "drop",
    key: str = "partition",
) -> Partition:
    interval = _number(f"{key}.interval_s", interval_s, open_low=True)
    hold = _number(f"{key}.hold_s", hold_s, open_low=True)
    if hold > interval:
        raise ScenarioError(f"{key}.hold_s", f"must be <= interval_s ({_short(interval)}), got {_short(hold)}")
    if not isinstance(rotate, bool):
        raise ScenarioError(f"{key}.rotate", f"expected true or false, got {rotate!r}")
    return Partition(
        shape=_choice(f"{key}.shape", shape, SHAPES),
        rounds=_int(f"{key}.rounds", rounds, high=100),
        interval_s=interval,
        hold_s=hold,
        start_s=_number(f"{key}.start_s", start_s),
        rotate=rotate,
        mode=_choice(f"{key}.mode", mode, PARTITION_MODES),
    )


FACTORIES = {
    "node_failure": node_failure,
    "network_latency": network_latency,
    "resource_exhaustion": resource_exhaustion,
    "message_loss": message_loss,
    "partition": partition,
}


def condition_from_mapping(data: object, key: str) -> Condition:
    """One condition from a TOML table: ``{kind = "node_failure", interval_s = 10, count = 2}``."""
    if not isinstance(data, Mapping):
        raise ScenarioError(key, f"expected a table with a 'kind', got {data!r}")
    kind = data.get("kind")
    if kind not in FACTORIES:
        raise ScenarioError(f"{key}.kind", f"{kind!r} is not allowed", CONDITION_KINDS)
    cls = CONDITION_TYPES[str(kind)]
    allowed = tuple(f.name for f in dataclasses.fields(cls))
    for name in data:
        if name != "kind" and name not in allowed:
            raise ScenarioError(f"{key}.{name}", "unknown key", ("kind", *allowed))
    args = {k: v for k, v in data.items() if k != "kind"}
    made = FACTORIES[str(kind)](**args, key=key)  # type: ignore[operator]
    return made


# ---------------------------------------------------------------- workload


WORKLOAD_KEYS = ("name", "rate_ops", "threads", "timeout_s", "min_rate_ratio")


@dataclass(frozen=True, repr=False)
class Workload(_Spec):
    """The background workload: ``name`` is a workload the stage's
    configuration knows (``[chaos.workloads]``: a ``module:callable`` of the
    suite), run by ``threads`` clients at ``rate_ops`` operations per second in
    all, each operation bounded by ``timeout_s``.  Before the first fault the
    clients must reach ``min_rate_ratio`` of the rate, else the measurement
    says more about the client than the service: the verdict is unknown."""

    kind: ClassVar[str] = "workload"
    _always: ClassVar[tuple[str, ...]] = ("name", "rate_ops", "threads")
    name: str = "default"
    rate_ops: float = 20.0
    threads: int = 4
    timeout_s: float = 5.0
    min_rate_ratio: float = 0.8


def workload(
    name: str = "default",
    *,
    rate_ops: float = 20.0,
    threads: int = 4,
    timeout_s: float = 5.0,
    min_rate_ratio: float = 0.8,
    key: str = "workload",
) -> Workload:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ScenarioError(f"{key}.name", f"expected a lowercase name (a-z, 0-9, _), got {name!r}")
    return Workload(
        name=name,
        rate_ops=_number(f"{key}.rate_ops", rate_ops, high=10_000, open_low=True),
        threads=_int(f"{key}.threads", threads, high=64),
        timeout_s=_number(f"{key}.timeout_s", timeout_s, high=60, open_low=True),
        min_rate_ratio=_number(f"{key}.min_rate_ratio", min_rate_ratio, high=1.0),
    )


def _workload_from(data: object, key: str) -> Workload:
    if isinstance(data, Workload):
        return data
    if isinstance(data, str):
        return workload(data, key=key)
    if not isinstance(data, Mapping):
        raise ScenarioError(key, f"expected a workload name or table, got {data!r}")
    for name in data:
        if name not in WORKLOAD_KEYS:
            raise ScenarioError(f"{key}.{name}", "unknown key", WORKLOAD_KEYS)
    return workload(**data, key=key)


# ---------------------------------------------------------------- scenario


SCENARIO_KEYS = (
    "title",
    "duration_s",
    "nodes",
    "conditions",
    "criteria",
    "workload",
    "seed",
    "warmup_s",
    "cooldown_s",
    "memory_mb",
    "recovery_timeout_s",
)


@dataclass(frozen=True, repr=False)
class Scenario:
    """A named chaos scenario: its window, conditions, criteria and workload."""

    name: str
    duration_s: float
    conditions: tuple[Condition, ...]
    criteria: tuple[Threshold, ...]
    nodes: int = 5
    title: str = ""
    workload: Workload = field(default_factory=Workload)
    seed: int | None = None
    warmup_s: float = 5.0
    cooldown_s: float = 8.0
    memory_mb: int | None = None
    recovery_timeout_s: float = 60.0

    def __repr__(self) -> str:
        conditions = ", ".join(map(repr, self.conditions)) or "no conditions"
        criteria = ", ".join(map(repr, self.criteria)) or "none"
        return (
            f"scenario({self.name!r}, {_short(self.duration_s)} s on {self.nodes} nodes: {conditions}; "
            f"criteria: {criteria})"
        )

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def with_seed(self, seed: int | None) -> Scenario:
        return dataclasses.replace(self, seed=seed)

    def as_dict(self) -> dict[str, Any]:
        """The scenario as its ``[chaos.scenarios.NAME]`` table (what schedule.json embeds)."""
        return {
            "name": self.name,
            "title": self.title,
            "duration_s": self.duration_s,
            "nodes": self.nodes,
            "warmup_s": self.warmup_s,
            "cooldown_s": self.cooldown_s,
            "memory_mb": self.memory_mb,
            "recovery_timeout_s": self.recovery_timeout_s,
            "seed": self.seed,
            "workload": {f.name: getattr(self.workload, f.name) for f in dataclasses.fields(self.workload)},
            "conditions": [c.as_dict() for c in self.conditions],
            "criteria": [repr(t) for t in self.criteria],
        }


def _criterion(text: object, key: str) -> Threshold:
    if isinstance(text, Threshold):
        return text
    try:
        return parse_threshold(text)  # type: ignore[arg-type]
    except ThresholdError as exc:
        raise ScenarioError(key, str(exc)) from None


def _check_times(s: Scenario) -> None:
    for i, c in enumerate(s.conditions):
        key = f"conditions.{i}"
        if isinstance(c, NodeFailure):
            last = c.first_s + (c.count - 1) * c.interval_s
            if last >= s.duration_s:
                raise ScenarioError(
                    f"{key}.count",
                    f"failure {c.count} would start at {_short(last)} s, past duration_s ({_short(s.duration_s)} s)",
                )
            if c.target in NODE_TARGETS and c.target == "random" and c.down_s is None and c.count >= s.nodes:
                raise ScenarioError(f"{key}.count", f"must be < nodes ({s.nodes}) when nodes stay down, got {c.count}")
            if c.target not in NODE_TARGETS and c.target not in _names(s.nodes):
                raise ScenarioError(f"{key}.target", f"{c.target!r} is not allowed", (*NODE_TARGETS, *_names(s.nodes)))
        elif isinstance(c, Partition):
            last = c.start_s + (c.rounds - 1) * c.interval_s + c.hold_s
            if last > s.duration_s:
                raise ScenarioError(
                    f"{key}.rounds",
                    f"round {c.rounds} would end at {_short(last)} s, past duration_s ({_short(s.duration_s)} s)",
                )
            if s.nodes < 2:
                raise ScenarioError(f"{key}.shape", f"a partition needs nodes >= 2, got {s.nodes}")
        else:
            if c.start_s >= s.duration_s:
                raise ScenarioError(f"{key}.start_s", f"must be < duration_s ({_short(s.duration_s)}), got {c.start_s}")
            if c.duration_s is not None and c.start_s + c.duration_s > s.duration_s:
                raise ScenarioError(f"{key}.duration_s", f"ends past duration_s ({_short(s.duration_s)} s)")
            if isinstance(c, ResourceExhaustion) and c.resource == "memory" and s.memory_mb is None:
                raise ScenarioError(
                    f"{key}.resource", "memory exhaustion needs the scenario's memory_mb (the node limit)"
                )


def _names(n: int) -> tuple[str, ...]:
    return tuple(f"n{i + 1}" for i in range(n))


def scenario(
    name: str,
    *,
    duration_s: float,
    conditions: Iterable[Condition] = (),
    criteria: Iterable[str | Threshold] = (),
    nodes: int = 5,
    title: str = "",
    workload: Workload | str | Mapping[str, Any] | None = None,
    seed: int | None = None,
    warmup_s: float = 5.0,
    cooldown_s: float = 8.0,
    memory_mb: int | None = None,
    recovery_timeout_s: float = 60.0,
) -> Scenario:
    """A checked :class:`Scenario` (see the module docstring)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ScenarioError("name", f"expected a lowercase name (a-z, 0-9, _), got {name!r}")
    made_conditions = tuple(conditions)
    for i, c in enumerate(made_conditions):
        if not isinstance(c, (NodeFailure, NetworkLatency, ResourceExhaustion, MessageLoss, Partition)):
            raise ScenarioError(f"conditions.{i}", f"expected a condition, got {c!r}", CONDITION_KINDS)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ScenarioError("seed", f"expected a whole number >= 0, got {seed!r}")
    if memory_mb is not None:
        _int("memory_mb", memory_mb, low=64, high=1 << 20)
    if not isinstance(title, str):
        raise ScenarioError("title", f"expected a string, got {title!r}")
    made = Scenario(
        name=name,
        duration_s=_number("duration_s", duration_s, open_low=True),
        conditions=made_conditions,
        criteria=tuple(_criterion(t, f"criteria.{i}") for i, t in enumerate(criteria)),
        nodes=_int("nodes", nodes, low=1, high=15),
        title=title,
        workload=Workload() if workload is None else _workload_from(workload, "workload"),
        seed=seed,
        warmup_s=_number("warmup_s", warmup_s, open_low=True),
        cooldown_s=_number("cooldown_s", cooldown_s, open_low=True),
        memory_mb=memory_mb,
        recovery_timeout_s=_number("recovery_timeout_s", recovery_timeout_s, open_low=True),
    )
    _check_times(made)
    return made


def scenario_from_mapping(name: str, data: object) -> Scenario:
    """A scenario from its ``[chaos.scenarios.NAME]`` table (keys: :data:`SCENARIO_KEYS`)."""
    if not isinstance(data, Mapping):
        raise ScenarioError("", f"expected a table, got {data!r}")
    for key in data:
        if key not in SCENARIO_KEYS:
            raise ScenarioError(key, "unknown key", SCENARIO_KEYS)
    if "duration_s" not in data:
        raise ScenarioError("duration_s", "missing (the length of the chaos window, in seconds)")
    raw_conditions = data.get("conditions", [])
    if not isinstance(raw_conditions, list):
        raise ScenarioError("conditions", f"expected a list of tables, got {raw_conditions!r}")
    conditions = [condition_from_mapping(c, f"conditions.{i}") for i, c in enumerate(raw_conditions)]
    criteria = data.get("criteria", [])
    if not isinstance(criteria, list):
        raise ScenarioError("criteria", f"expected a list of thresholds like 'availability >= 0.8', got {criteria!r}")
    args = {k: v for k, v in data.items() if k not in ("conditions", "criteria")}
    return scenario(name, conditions=conditions, criteria=criteria, **args)
