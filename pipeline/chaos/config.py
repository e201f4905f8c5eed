"""The chaos stage's configuration: the ``[chaos]`` table of ``pipeline.toml``.

Validated on load: a mistake is one :class:`~pipeline.run.config.ConfigError`
line naming the file, the key and, for a closed set, the allowed values (the
CLI exits 2)::

    pipeline.toml: chaos.scenarios.leader_kill.conditions.0.mode: 'explode' is not allowed; allowed: crash, pause
    pipeline.toml: chaos.scenarios: unknown scenario 'x'; allowed: progressive_node_failures, ...

Nothing here knows the service: the node is a command template (``{python}``
is this interpreter), health, leader, digest and GC telemetry are dotted
fields of JSON paths, and the workload is a ``module:callable`` of the suite,
named in ``[chaos.workloads]``.
"""

from __future__ import annotations

import math
import re
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.chaos.model import Scenario, ScenarioError, scenario_from_mapping
from pipeline.run.config import ConfigError

__all__ = ["ChaosConfig", "load", "from_mapping", "ConfigError", "CHAOS_KEYS"]

CHAOS_KEYS = (
    "order",
    "command",
    "env",
    "secret_env",
    "reports",
    "junit",
    "ready_timeout_s",
    "health_path",
    "ready_field",
    "ready_value",
    "leader_field",
    "digest_path",
    "digest_field",
    "telemetry_path",
    "gc_field",
    "progress_interval_s",
    "workloads",
    "scenarios",
)
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class ChaosConfig:
    """The ``[chaos]`` table, checked."""

    scenarios: tuple[Scenario, ...]
    workloads: tuple[tuple[str, str], ...]
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    secret_env: str = ""
    reports: Path = Path("reports/chaos")
    junit: Path = Path("reports/chaos.xml")
    root: Path = Path(".")
    source: str = "pipeline.toml"
    ready_timeout_s: float = 30.0
    health_path: str = "/health"
    ready_field: str = ""
    ready_value: str = ""
    leader_field: str = ""
    digest_path: str = ""
    digest_field: str = "digest"
    telemetry_path: str = ""
    gc_field: str = ""
    progress_interval_s: float = 5.0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scenarios)

    def scenario(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise ConfigError(
            f"{self.source}: chaos.scenarios: unknown scenario {name!r}; allowed: {', '.join(self.names)}"
        )

    def workload(self, name: str) -> str:
        found = dict(self.workloads).get(name)
        if found is None:
            allowed = ", ".join(n for n, _ in self.workloads) or "(none)"
            raise ConfigError(f"{self.source}: chaos.workloads: unknown workload {name!r}; allowed: {allowed}")
        return found

    def node_command(self) -> list[str]:
        return [sys.executable if part == "{python}" else part for part in self.command]

    def with_scenario(self, scenario: Scenario) -> ChaosConfig:
        """This configuration with ``scenario`` added or replacing its namesake (a replay)."""
        kept = tuple(s for s in self.scenarios if s.name != scenario.name)
        return replace(self, scenarios=(*kept, scenario))


def load(path: str | Path = "pipeline.toml") -> ChaosConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_mapping(data.get("chaos", {}), str(path), path.resolve().parent)


def _err(source: str, key: str, problem: str, allowed: tuple[str, ...] | None = None) -> ConfigError:
    text = f"{source}: chaos.{key}: {problem}" if key else f"{source}: chaos: {problem}"
    if allowed is not None:
        text += f"; allowed: {', '.join(allowed)}"
    return ConfigError(text)


def _str(source: str, table: dict, key: str, default: str, *, empty: bool = True) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or (not empty and not value):
        raise _err(source, key, f"expected a {'' if empty else 'non-empty '}string, got {value!r}")
    return value


def _str_map(source: str, table: dict, key: str) -> tuple[tuple[str, str], ...]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _err(source, key, f"expected a table of strings, got {value!r}")
    return tuple(sorted(value.items()))


def from_mapping(data: Any, source: str, root: Path) -> ChaosConfig:
    """The ``[chaos]`` table (``data``) checked; paths relative to ``root``."""
    if not isinstance(data, dict):
        raise _err(source, "", f"expected a table, got {data!r}")
    for key in data:
        if key not in CHAOS_KEYS:
            raise _err(source, key, "unknown key", CHAOS_KEYS)
    command = data.get("command", ["(missing)"])  # missing: said after the rest is checked
    if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
        raise _err(source, "command", f"expected a non-empty list of strings, got {command!r}")
    workloads = _str_map(source, data, "workloads")
    for name, spec in workloads:
        if ":" not in spec:
            raise _err(source, f"workloads.{name}", f"expected 'module:callable', got {spec!r}")
    raw = data.get("scenarios", {})
    if not isinstance(raw, dict):
        raise _err(source, "scenarios", f"expected tables [chaos.scenarios.NAME], got {raw!r}")
    scenarios: dict[str, Scenario] = {}
    for name, table in raw.items():
        if not _NAME.fullmatch(name):
            raise _err(source, f"scenarios.{name}", "a scenario name is lowercase letters, digits and '_'")
        try:
            made = scenario_from_mapping(name, table)
        except ScenarioError as exc:
            raise ConfigError(f"{source}: chaos.scenarios.{name}.{exc}") from None
        if workloads and made.workload.name not in dict(workloads):
            raise _err(
                source,
                f"scenarios.{name}.workload.name",
                f"unknown workload {made.workload.name!r}",
                tuple(n for n, _ in workloads),
            )
        scenarios[name] = made
    order = data.get("order", list(scenarios))
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise _err(source, "order", f"expected a list of scenario names, got {order!r}")
    for name in order:
        if name not in scenarios:
            raise _err(source, "order", f"unknown scenario {name!r}", tuple(scenarios))
    ordered = [scenarios[n] for n in order] + [s for n, s in scenarios.items() if n not in order]
    interval = data.get("progress_interval_s", 5.0)
    timeout = data.get("ready_timeout_s", 30.0)
    for key, value in (("progress_interval_s", interval), ("ready_timeout_s", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise _err(source, key, f"expected a positive, finite number of seconds, got {value!r}")
    if "command" not in data:  # the toolkit knows no service: the node command is the project's
        raise _err(
            source, "command", 'missing: the node command, e.g. ["{python}", "-m", "myservice", "--port", "{port}"]'
        )
    return ChaosConfig(
        scenarios=tuple(ordered),
        workloads=workloads,
        command=tuple(command),
        env=_str_map(source, data, "env"),
        secret_env=_str(source, data, "secret_env", ""),
        reports=root / _str(source, data, "reports", "reports/chaos", empty=False),
        junit=root / _str(source, data, "junit", "reports/chaos.xml", empty=False),
        root=root,
        source=source,
        ready_timeout_s=float(timeout),
        health_path=_str(source, data, "health_path", "/health", empty=False),
        ready_field=_str(source, data, "ready_field", ""),
        ready_value=_str(source, data, "ready_value", ""),
        leader_field=_str(source, data, "leader_field", ""),
        digest_path=_str(source, data, "digest_path", ""),
        digest_field=_str(source, data, "digest_field", "digest", empty=False),
        telemetry_path=_str(source, data, "telemetry_path", ""),
        gc_field=_str(source, data, "gc_field", ""),
        progress_interval_s=float(interval),
    )
