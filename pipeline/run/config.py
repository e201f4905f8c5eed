"""The pipeline's configuration: stages, branch policies and thresholds.

Read from ``pipeline.toml`` (or ``[tool.pipeline]`` in ``pyproject.toml``) and
validated on load.  Anything wrong raises :class:`ConfigError` whose message is
one line naming the file, the key and the allowed values; the tasks turn it into
exit code 2.  With no file at all, the built-in defaults below (DESIGN §2) apply.
The format is documented in docs/pipeline.md.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from pipeline.report.threshold import PERFORMANCE_DEFAULTS, Threshold, ThresholdError, parse_threshold
from pipeline.run.branch import BRANCH_TYPES

REQUIREMENTS = ("required", "optional", "skip")
SEVERITIES = ("fail", "warn")
STAGE_NAME = re.compile(r"[a-z][a-z0-9_-]*")

TOP_KEYS = ("pipeline", "stages", "policies", "performance", "chaos")
PIPELINE_KEYS = ("reports", "noxfile", "kill_grace_s")
STAGE_KEYS = ("session", "report", "budget_s", "parallel", "reruns", "pytest_args", "thresholds")
POLICY_KEYS = ("required", "optional", "skip", "flaky", "missing")


class ConfigError(Exception):
    """A configuration problem, as one line: ``file: key: what is wrong; allowed: ...``."""


@dataclass(frozen=True)
class Stage:
    """One stage: a nox session writing one JUnit report within a time budget."""

    name: str
    session: str
    report: Path
    budget_s: float
    parallel: bool | int = False
    reruns: int = 0
    pytest_args: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()


@dataclass(frozen=True)
class Policy:
    """What a branch type runs: each stage ``required``, ``optional`` or ``skip``.

    ``flaky`` and ``missing`` say whether a flaky test, or a configured stage whose
    nox session does not exist, fails the gate (``fail``) or only warns (``warn``).
    """

    branch_type: str
    requirements: tuple[tuple[str, str], ...]
    flaky: str
    missing: str

    def requirement(self, stage: str) -> str:
        return dict(self.requirements)[stage]


@dataclass(frozen=True)
class Config:
    source: str
    root: Path
    reports: Path
    noxfile: Path
    kill_grace_s: float
    stages: tuple[Stage, ...]
    policies: tuple[Policy, ...]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def policy(self, branch_type: str) -> Policy:
        for policy in self.policies:
            if policy.branch_type == branch_type:
                return policy
        raise KeyError(branch_type)


# ---------------------------------------------------------------- defaults

DEFAULT_STAGES: dict[str, dict[str, Any]] = {
    "unit": {"budget_s": 300, "parallel": True},
    "service": {"budget_s": 600, "parallel": True, "reruns": 1},
    "multinode": {"budget_s": 1200, "reruns": 1},
    "performance": {"budget_s": 900, "thresholds": [repr(t) for t in PERFORMANCE_DEFAULTS]},
    "chaos": {"budget_s": 1800},
}
DEFAULT_REQUIREMENTS = {
    "feature": {
        "unit": "required",
        "service": "required",
        "multinode": "required",
        "performance": "optional",
        "chaos": "skip",
    },
    "main": {
        "unit": "required",
        "service": "required",
        "multinode": "required",
        "performance": "required",
        "chaos": "optional",
    },
}
DEFAULT_SEVERITY = {
    "feature": {"flaky": "warn", "missing": "warn"},
    "main": {"flaky": "warn", "missing": "warn"},
    "release": {"flaky": "fail", "missing": "fail"},
}
DEFAULT_BUDGET_S = 600
DEFAULT_KILL_GRACE_S = 10


# ---------------------------------------------------------------- loading


def load_config(path: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Config:
    """Load and validate the configuration.

    ``path`` given: that file (``pyproject.toml`` means its ``[tool.pipeline]``).
    Otherwise ``pipeline.toml`` in ``root`` (default: the current directory), then
    ``[tool.pipeline]`` of ``root/pyproject.toml``, then the built-in defaults.
    """
    base = Path(root) if root is not None else Path.cwd()
    if path is not None:
        if not str(path).strip():
            raise ConfigError("--config: empty path; give a file such as pipeline.toml")
        file = Path(path)
        if file.is_dir():
            raise ConfigError(f"{path}: is a directory, not a configuration file")
        if not file.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        return _from_file(file, required=True)
    if (base / "pipeline.toml").is_file():
        return _from_file(base / "pipeline.toml", required=True)
    if (base / "pyproject.toml").is_file():
        config = _from_file(base / "pyproject.toml", required=False)
        if config is not None:
            return config
    return from_mapping({}, source="built-in defaults", root=base)


@overload
def _from_file(file: Path, required: Literal[True]) -> Config: ...
@overload
def _from_file(file: Path, required: bool) -> Config | None: ...


def _from_file(file: Path, required: bool) -> Config | None:
    """The configuration in ``file``; ``None`` only when ``required`` is false and
    ``file`` is a ``pyproject.toml`` without ``[tool.pipeline]``."""
    shown = _shown(file)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    prefix = ""
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("pipeline")
        if data is None:
            if required:
                raise ConfigError(f"{shown}: no [tool.pipeline] table")
            return None
        prefix = "tool.pipeline."
    return from_mapping(data, source=shown, root=file.resolve().parent, prefix=prefix)


def _shown(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(file)


def from_mapping(data: dict, source: str, root: Path, prefix: str = "") -> Config:
    """Validate a parsed configuration table (the whole file, or ``[tool.pipeline]``)."""
    v = _Validator(source, prefix)
    v.keys(data, "", TOP_KEYS)
    settings = v.table(data, "pipeline")
    v.keys(settings, "pipeline", PIPELINE_KEYS)
    reports = root / v.string(settings, "pipeline", "reports", "reports")
    noxfile = root / v.string(settings, "pipeline", "noxfile", "noxfile.py")
    grace = v.seconds(settings, "pipeline", "kill_grace_s", DEFAULT_KILL_GRACE_S)

    stage_tables = v.table(data, "stages") if "stages" in data else DEFAULT_STAGES
    if not stage_tables:
        raise v.error("stages", "no stages defined; add at least one [stages.<name>] table")
    stages = tuple(v.stage(name, table, root, reports) for name, table in stage_tables.items())
    names = tuple(s.name for s in stages)

    policy_tables = v.table(data, "policies")
    for branch_type in policy_tables:
        if branch_type not in BRANCH_TYPES:
            raise v.error(f"policies.{branch_type}", "unknown branch type", BRANCH_TYPES)
    policies = tuple(v.policy(bt, policy_tables.get(bt), names) for bt in BRANCH_TYPES)
    return Config(source, root, reports, noxfile, grace, stages, policies)


class _Validator:
    """Type checks that raise one-line :class:`ConfigError` messages."""

    def __init__(self, source: str, prefix: str):
        self.source = source
        self.prefix = prefix

    def error(self, key: str, problem: str, allowed: tuple[str, ...] | None = None) -> ConfigError:
        where = f"{self.prefix}{key}" if key else (self.prefix.rstrip(".") or "top level")
        message = f"{self.source}: {where}: {problem}"
        if allowed is not None:
            message += f"; allowed: {', '.join(allowed) if allowed else '(none)'}"
        return ConfigError(message)

    def keys(self, table: dict, where: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(_join(where, key), "unknown key", allowed)

    def table(self, data: dict, key: str) -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {_kind(value)}")
        return value

    def string(self, table: dict, where: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.error(_join(where, key), f"expected a non-empty string, got {_kind(value)}")
        return value

    def seconds(self, table: dict, where: str, key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise self.error(_join(where, key), f"expected a positive number of seconds, got {_toml(value)}")
        return float(value)

    def choice(self, table: dict, where: str, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = table.get(key, default)
        if value not in allowed:
            raise self.error(_join(where, key), f"{_toml(value)} is not allowed", allowed)
        return value

    def names(self, table: dict, where: str, key: str, stages: tuple[str, ...]) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(_join(where, key), f"expected a list of stage names, got {_kind(value)}")
        for name in value:
            if name not in stages:
                raise self.error(_join(where, key), f"unknown stage {name!r}", stages)
        return value

    def stage(self, name: str, table: Any, root: Path, reports: Path) -> Stage:
        where = f"stages.{name}"
        if not STAGE_NAME.fullmatch(name):
            raise self.error(where, "a stage name is lower-case letters, digits, '-' and '_'")
        if not isinstance(table, dict):
            raise self.error(where, f"expected a table, got {_kind(table)}")
        self.keys(table, where, STAGE_KEYS)
        session = self.string(table, where, "session", name)
        report = table.get("report")
        report_path = reports / f"{name}.xml" if report is None else root / self.string(table, where, "report", "")
        budget = self.seconds(table, where, "budget_s", DEFAULT_BUDGET_S)
        parallel = table.get("parallel", False)
        if not isinstance(parallel, bool) and not (isinstance(parallel, int) and parallel > 0):
            raise self.error(f"{where}.parallel", f"expected true, false or a number of workers, got {_toml(parallel)}")
        reruns = table.get("reruns", 0)
        if isinstance(reruns, bool) or not isinstance(reruns, int) or reruns < 0:
            raise self.error(f"{where}.reruns", f"expected a whole number >= 0, got {_toml(reruns)}")
        args = table.get("pytest_args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise self.error(f"{where}.pytest_args", f"expected a list of strings, got {_kind(args)}")
        texts = table.get("thresholds", [])
        if not isinstance(texts, list):
            raise self.error(f"{where}.thresholds", f"expected a list of strings, got {_kind(texts)}")
        thresholds = []
        for i, text in enumerate(texts):
            try:
                thresholds.append(parse_threshold(text))
            except ThresholdError as exc:
                raise self.error(f"{where}.thresholds[{i}]", str(exc)) from None
        return Stage(name, session, report_path, budget, parallel, reruns, tuple(args), tuple(thresholds))

    def policy(self, branch_type: str, table: Any, stages: tuple[str, ...]) -> Policy:
        where = f"policies.{branch_type}"
        defaulted = table is None
        if defaulted:
            table = self._default_policy(branch_type, stages)
        if not isinstance(table, dict):
            raise self.error(where, f"expected a table, got {_kind(table)}")
        self.keys(table, where, POLICY_KEYS)
        requirement: dict[str, str] = {}
        for kind in REQUIREMENTS:
            for name in self.names(table, where, kind, stages):
                if name in requirement:
                    raise self.error(where, f"stage {name!r} is listed under both {requirement[name]} and {kind}")
                requirement[name] = kind
        for name in stages:
            if name not in requirement:
                hint = f" (no [{where}] table, and the built-in default does not know it)" if defaulted else ""
                raise self.error(
                    where, f"stage {name!r} is not assigned{hint}; list it under required, optional or skip"
                )
        defaults = DEFAULT_SEVERITY[branch_type]
        return Policy(
            branch_type,
            tuple((name, requirement[name]) for name in stages),
            self.choice(table, where, "flaky", defaults["flaky"], SEVERITIES),
            self.choice(table, where, "missing", defaults["missing"], SEVERITIES),
        )

    @staticmethod
    def _default_policy(branch_type: str, stages: tuple[str, ...]) -> dict:
        if branch_type == "release":
            return {"required": list(stages)}
        known = DEFAULT_REQUIREMENTS[branch_type]
        table: dict[str, list[str]] = {kind: [] for kind in REQUIREMENTS}
        for name in stages:
            if name in known:
                table[known[name]].append(name)
        return table


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return f"{kinds.get(type(value), type(value).__name__)} {_toml(value)}"


def _toml(value: Any) -> str:
    """A value as the TOML file spells it (``true``, not Python's ``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)
