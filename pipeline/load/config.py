"""The performance stage's configuration: the ``[performance]`` table of ``pipeline.toml``.

Validated on load like the rest of the file: a mistake is one
:class:`~pipeline.run.config.ConfigError` line naming the file, the key and,
for a closed set, the allowed values (the CLI exits 2)::

    pipeline.toml: performance.patterns.hft.users: expected a whole number >= 1, got 0
    pipeline.toml: performance.patterns: unknown pattern 'hft'; allowed: high_frequency_trading, ...

Nothing here knows what the service does: patterns name a locustfile, its
operations' target rates, a user count and two durations; the cluster is a
node command template (``{python}`` is this interpreter, the other
placeholders are the cluster manager's); telemetry is a list of dotted fields
read from HTTP paths of every node.  Thresholds default to the stage's own
(``[stages.performance].thresholds``); a pattern may replace some
(``thresholds``, per metric) and drop others (``skip_thresholds``).
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.report.threshold import PERFORMANCE_DEFAULTS, Threshold, ThresholdError, parse_threshold
from pipeline.run.config import ConfigError

__all__ = [
    "LoadConfig",
    "PatternConfig",
    "TelemetryConfig",
    "load",
    "from_mapping",
    "ConfigError",
    "PERFORMANCE_KEYS",
    "PATTERN_KEYS",
    "TELEMETRY_KEYS",
]

PERFORMANCE_KEYS = (
    "patterns",
    "order",
    "nodes",
    "command",
    "env",
    "secret_env",
    "memory_mb",
    "reports",
    "junit",
    "ramp_s",
    "stop_timeout_s",
    "grace_s",
    "ready_timeout_s",
    "processes",
    "progress_interval_s",
    "generator_bound_ratio",
    "node_cpu_busy_percent",
    "ready_field",
    "ready_value",
    "link_proxies",
    "host_other_cpu_percent",
    "telemetry",
)
PATTERN_KEYS = (
    "title",
    "locustfile",
    "users",
    "duration_s",
    "ci_duration_s",
    "operations",
    "thresholds",
    "skip_thresholds",
    "ramp_s",
)
TELEMETRY_KEYS = ("interval_s", "paths", "fields")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PLACEHOLDER = "{python}"

DEFAULT_PATHS = {"telemetry": "/telemetry", "status": "/health"}
DEFAULT_FIELDS = {
    "cpu_seconds": "telemetry:process.cpu_seconds",
    "rss_bytes": "telemetry:process.rss_bytes",
    "gc_collections": "telemetry:process.gc.collections",
    "requests": "telemetry:counters.ops.*",
    "errors": "telemetry:counters.errors.*",
    "role": "status:role",
    "term": "status:term",
    "commit_index": "status:commit_index",
    "applied": "status:applied",
}


@dataclass(frozen=True)
class TelemetryConfig:
    """What is sampled from every node, every ``interval_s``: ``fields`` maps a
    column name to ``"<path name>:<dotted field>"`` of the JSON one of
    ``paths`` answers.  A field ending in ``.*`` sums every key under it; a list
    is summed.  ``cpu_seconds``, ``requests`` and ``gc_collections`` also get a
    per-second rate column (``cpu_percent``, ``requests_per_s``, ``gc_per_s``)."""

    interval_s: float = 1.0
    paths: tuple[tuple[str, str], ...] = tuple(DEFAULT_PATHS.items())
    fields: tuple[tuple[str, str], ...] = tuple(DEFAULT_FIELDS.items())


@dataclass(frozen=True)
class PatternConfig:
    """One workload pattern: its locustfile, target rate per operation (per
    second, for the whole pattern), user count and durations."""

    name: str
    title: str
    locustfile: Path
    users: int
    duration_s: float
    ci_duration_s: float
    operations: tuple[tuple[str, float], ...]
    thresholds: tuple[Threshold, ...]
    ramp_s: float

    @property
    def target_ops(self) -> float:
        """The pattern's total target rate at its configured user count."""
        return sum(rate for _, rate in self.operations)

    def per_user_rates(self) -> dict[str, float]:
        return {op: rate / self.users for op, rate in self.operations}

    def scaled(self, users: int | None) -> PatternConfig:
        """The pattern with another user count: each user keeps its rate, so the
        target scales with the users."""
        if users is None or users == self.users:
            return self
        factor = users / self.users
        return replace(self, users=users, operations=tuple((op, rate * factor) for op, rate in self.operations))


@dataclass(frozen=True)
class LoadConfig:
    source: str
    root: Path
    patterns: tuple[PatternConfig, ...]
    nodes: int = 3
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secret_env: str = ""
    memory_mb: int | None = None
    reports: Path = Path("reports/performance")
    junit: Path = Path("reports/performance.xml")
    ramp_s: float = 2.0
    stop_timeout_s: float = 5.0
    grace_s: float = 60.0
    ready_timeout_s: float = 60.0
    processes: int = 0
    progress_interval_s: float = 5.0
    generator_bound_ratio: float = 0.9
    node_cpu_busy_percent: float = 80.0
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    stage_thresholds: tuple[Threshold, ...] = PERFORMANCE_DEFAULTS
    ready_field: str = ""
    ready_value: str = ""
    link_proxies: bool = False
    host_other_cpu_percent: float = 50.0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.patterns)

    def pattern(self, name: str) -> PatternConfig:
        for p in self.patterns:
            if p.name == name:
                return p
        raise ConfigError(
            f"{self.source}: performance.patterns: unknown pattern {name!r}; allowed: {', '.join(self.names)}"
        )

    def node_command(self) -> list[str]:
        return [
            sys.executable if part == _PLACEHOLDER else part.replace(_PLACEHOLDER, sys.executable)
            for part in self.command
        ]


def load(path: str | Path = "pipeline.toml") -> LoadConfig:
    """Read and validate ``[performance]`` (and the stage thresholds) from ``path``."""
    file = Path(path)
    shown = str(path)
    if not file.is_file():
        raise ConfigError(f"{shown}: no such configuration file")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: invalid TOML: {exc}") from None
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("pipeline", {})
    return from_mapping(data, shown, file.resolve().parent)


def from_mapping(data: dict, source: str, root: Path) -> LoadConfig:
    v = _V(source)
    stage = data.get("stages", {}).get("performance", {}) if isinstance(data.get("stages"), dict) else {}
    base: tuple[Threshold, ...] = PERFORMANCE_DEFAULTS
    if isinstance(stage, dict) and "thresholds" in stage:
        base = v.thresholds(stage, "stages.performance", "thresholds")
    table = data.get("performance")
    if table is None:
        raise v.error("performance", "no [performance] table: the stage needs its patterns")
    if not isinstance(table, dict):
        raise v.error("performance", f"expected a table, got {_kind(table)}")
    v.keys(table, "performance", PERFORMANCE_KEYS)
    pattern_tables = table.get("patterns")
    if not isinstance(pattern_tables, dict) or not pattern_tables:
        raise v.error("performance.patterns", "expected at least one [performance.patterns.<name>] table")
    patterns = {name: v.pattern(name, t, root, base) for name, t in pattern_tables.items()}
    order = table.get("order", list(patterns))
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        raise v.error("performance.order", f"expected a non-empty list of pattern names, got {_kind(order)}")
    for name in order:
        if name not in patterns:
            raise v.error("performance.order", f"unknown pattern {name!r}", tuple(patterns))
    if "command" not in table:  # the toolkit knows no service: the node command is the project's
        raise v.error(
            "performance.command", 'missing: the node command, e.g. ["{python}", "-m", "myservice", "--port", "{port}"]'
        )
    command = table["command"]
    if (
        isinstance(command, str)
        or not isinstance(command, list)
        or not command
        or not all(isinstance(c, str) and c for c in command)
    ):
        raise v.error("performance.command", f"expected a non-empty list of strings, got {_kind(command)}")
    env = table.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in env.items()):
        raise v.error("performance.env", f"expected a table of strings, got {_kind(env)}")
    memory = table.get("memory_mb")
    if memory is not None:
        memory = v.whole(table, "performance", "memory_mb", 0, minimum=16)
    secret_env = table.get("secret_env", "")
    if not isinstance(secret_env, str):
        raise v.error("performance.secret_env", f'expected a variable name or "", got {_kind(secret_env)}')
    telemetry = v.telemetry(table.get("telemetry", {}))
    ready_field = table.get("ready_field", "")
    ready_value = table.get("ready_value", "")
    if not isinstance(ready_field, str) or not isinstance(ready_value, str):
        raise v.error("performance.ready_field", "ready_field and ready_value must be strings")
    if ready_field:
        where, _, dotted = ready_field.partition(":")
        paths = tuple(name for name, _ in telemetry.paths)
        if where not in paths or not dotted:
            raise v.error(
                "performance.ready_field", f'expected "<path name>:<dotted field>", got {ready_field!r}', paths
            )
    link_proxies = table.get("link_proxies", False)
    if not isinstance(link_proxies, bool):
        raise v.error("performance.link_proxies", f"expected true or false, got {_kind(link_proxies)}")
    ratio = v.number(table, "performance", "generator_bound_ratio", 0.9)
    if not 0 < ratio <= 1:
        raise v.error("performance.generator_bound_ratio", f"expected a number in (0, 1], got {ratio!r}")
    busy = v.number(table, "performance", "node_cpu_busy_percent", 80.0)
    other = table.get("host_other_cpu_percent", 50.0)
    if isinstance(other, bool) or not isinstance(other, (int, float)) or not math.isfinite(other) or other < 0:
        raise v.error("performance.host_other_cpu_percent", f"expected a number >= 0 (0: off), got {_kind(other)}")
    other = float(other)
    return LoadConfig(
        source=source,
        root=root,
        patterns=tuple(patterns[n] for n in order),
        nodes=v.whole(table, "performance", "nodes", 3, minimum=1, maximum=64),
        command=tuple(command),
        env=tuple(sorted(env.items())),
        secret_env=secret_env,
        memory_mb=memory,
        reports=root / v.string(table, "performance", "reports", "reports/performance"),
        junit=root / v.string(table, "performance", "junit", "reports/performance.xml"),
        ramp_s=v.number(table, "performance", "ramp_s", 2.0),
        stop_timeout_s=v.number(table, "performance", "stop_timeout_s", 5.0),
        grace_s=v.number(table, "performance", "grace_s", 60.0),
        ready_timeout_s=v.number(table, "performance", "ready_timeout_s", 60.0),
        processes=v.whole(table, "performance", "processes", 0, minimum=-1, maximum=64),
        progress_interval_s=v.number(table, "performance", "progress_interval_s", 5.0),
        generator_bound_ratio=ratio,
        node_cpu_busy_percent=busy,
        telemetry=telemetry,
        stage_thresholds=base,
        ready_field=ready_field,
        ready_value=ready_value,
        link_proxies=link_proxies,
        host_other_cpu_percent=other,
    )


class _V:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str, allowed: tuple[str, ...] | None = None) -> ConfigError:
        text = f"{self.source}: {key}: {problem}"
        if allowed is not None:
            text += f"; allowed: {', '.join(allowed)}"
        return ConfigError(text)

    def keys(self, table: dict, where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(f"{where}.{key}", "unknown key", allowed)

    def string(self, table: dict, where: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(f"{where}.{key}", f"expected a non-empty string, got {_kind(value)}")
        return value

    def number(self, table: dict, where: str, key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise self.error(f"{where}.{key}", f"expected a positive number, got {_kind(value)}")
        return float(value)

    def whole(
        self, table: dict, where: str, key: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise self.error(f"{where}.{key}", f"expected a whole number {bound}, got {_kind(value)}")
        return value

    def thresholds(self, table: dict, where: str, key: str) -> tuple[Threshold, ...]:
        texts = table.get(key, [])
        if not isinstance(texts, list):
            raise self.error(f"{where}.{key}", f"expected a list of strings, got {_kind(texts)}")
        out = []
        for i, text in enumerate(texts):
            try:
                out.append(parse_threshold(text))
            except ThresholdError as exc:
                raise self.error(f"{where}.{key}[{i}]", str(exc)) from None
        return tuple(out)

    def pattern(self, name: str, table: Any, root: Path, base: tuple[Threshold, ...]) -> PatternConfig:
        where = f"performance.patterns.{name}"
        if not _NAME.fullmatch(name):
            raise self.error(where, "a pattern name is lower-case letters, digits and '_'")
        if not isinstance(table, dict):
            raise self.error(where, f"expected a table, got {_kind(table)}")
        self.keys(table, where, PATTERN_KEYS)
        locustfile = root / self.string(table, where, "locustfile", "")
        if not locustfile.is_file():
            raise self.error(f"{where}.locustfile", f"no such file: {locustfile}")
        ops = table.get("operations")
        if not isinstance(ops, dict) or not ops:
            raise self.error(f"{where}.operations", "expected a table of operation = target rate per second")
        operations = []
        for op, rate in ops.items():
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
                raise self.error(f"{where}.operations.{op}", f"expected a positive rate per second, got {_kind(rate)}")
            operations.append((op, float(rate)))
        own = self.thresholds(table, where, "thresholds")
        skip = table.get("skip_thresholds", [])
        known = tuple(t.metric for t in base)
        if not isinstance(skip, list) or not all(isinstance(s, str) for s in skip):
            raise self.error(f"{where}.skip_thresholds", f"expected a list of metric names, got {_kind(skip)}")
        for metric in skip:
            if metric not in known:
                raise self.error(f"{where}.skip_thresholds", f"{metric!r} is not a stage threshold's metric", known)
        replaced = {t.metric for t in own}
        thresholds = tuple(t for t in base if t.metric not in replaced and t.metric not in skip) + own
        return PatternConfig(
            name=name,
            title=self.string(table, where, "title", name.replace("_", " ").title()),
            locustfile=locustfile,
            users=self.whole(table, where, "users", 1, minimum=1),
            duration_s=self.number(table, where, "duration_s", 60.0),
            ci_duration_s=self.number(table, where, "ci_duration_s", 25.0),
            operations=tuple(operations),
            thresholds=thresholds,
            ramp_s=self.number(table, where, "ramp_s", 2.0),
        )

    def telemetry(self, table: Any) -> TelemetryConfig:
        where = "performance.telemetry"
        if not isinstance(table, dict):
            raise self.error(where, f"expected a table, got {_kind(table)}")
        self.keys(table, where, TELEMETRY_KEYS)
        paths = table.get("paths", DEFAULT_PATHS)
        if (
            not isinstance(paths, dict)
            or not paths
            or not all(isinstance(k, str) and isinstance(p, str) and p.startswith("/") for k, p in paths.items())
        ):
            raise self.error(f"{where}.paths", 'expected a table of name = "/path"')
        fields = table.get("fields", DEFAULT_FIELDS)
        if not isinstance(fields, dict) or not fields:
            raise self.error(f"{where}.fields", 'expected a table of column = "<path name>:<dotted field>"')
        for column, spec in fields.items():
            source, _, dotted = spec.partition(":") if isinstance(spec, str) else ("", "", "")
            if source not in paths or not dotted:
                raise self.error(
                    f"{where}.fields.{column}",
                    f'expected "<path name>:<dotted field>", got {_kind(spec)}',
                    tuple(paths),
                )
        return TelemetryConfig(
            self.number(table, where, "interval_s", 1.0), tuple(paths.items()), tuple(fields.items())
        )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return f"{kinds.get(type(value), type(value).__name__)} {value!r}"
