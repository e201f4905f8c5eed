"""What a test cluster is: small frozen specs made by factory functions.

A spec is data, not behaviour: it can be built in a test, loaded from a config
file, printed in a report and compared.  It is validated when it is made, so a
typo fails at once with the key and the allowed values instead of as a node that
never comes up.  ``repr`` shows only what differs from the defaults, so a spec
reads back like the call that made it.

Node commands are templates (a list of arguments, or a string split like a
shell would).  Placeholders, filled per node at start time:

=================  =========================================================
``{name}``         node name (``n1``)
``{index}``        1-based position in the cluster
``{host}``         address the node must listen on (``127.0.0.1``)
``{port}``         port the node must listen on (free, picked at run time)
``{peers}``        ``n2=127.0.0.1:41001,n3=127.0.0.1:41002``: where to reach each
                   peer, i.e. the listen addresses of this node's OUTGOING link
                   proxies (or the peers' own addresses without proxies)
``{data_dir}``     an empty per-node directory for the run
``{log_path}``     the file that receives the node's stdout and stderr
``{config_file}``  a JSON file holding the node's ``config`` overrides
``{run_id}``       the run's id
``{config[KEY]}``  one config override value
=================  =========================================================

The same facts are in the environment: ``CLUSTER_NODE``, ``CLUSTER_HOST``,
``CLUSTER_PORT``, ``CLUSTER_PEERS``, ``CLUSTER_DATA_DIR``, ``CLUSTER_RUN_ID``,
``CLUSTER_CONFIG`` (JSON of the overrides), ``CLUSTER_CONFIG_FILE``.

Resource limits (local provider, Linux): ``memory_mb`` becomes RLIMIT_AS (the
address-space cap; a node then gets MemoryError/ENOMEM instead of eating the
machine) or, with ``memory_limit="data"``, RLIMIT_DATA (heap and anonymous
mappings only, kinder to runtimes that reserve large virtual ranges); ``cpus``
pins the node with ``sched_setaffinity``; ``open_files`` is RLIMIT_NOFILE.  All
are set in the child between fork and exec, so they bind the node and whatever
it spawns.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shlex
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, overload

from pipeline.cluster.topology import TOPOLOGIES, Link, topology_links

__all__ = [
    "ConfigError",
    "Resources",
    "LatencyRange",
    "NodeSpec",
    "ClusterConfig",
    "resources",
    "latency_range",
    "node_spec",
    "cluster_config",
    "PLACEHOLDERS",
]

PLACEHOLDERS = ("name", "index", "host", "port", "peers", "data_dir", "log_path", "config_file", "run_id", "config")
MEMORY_LIMITS = ("as", "data")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


class ConfigError(ValueError):
    """A cluster or node spec is invalid.  ``key`` names the offending key and
    ``allowed`` (when there is a closed set) the values it may take."""

    def __init__(self, key: str, message: str, allowed: Sequence[object] | None = None) -> None:
        text = f"{key}: {message}"
        if allowed is not None:
            text += f" (allowed: {', '.join(str(a) for a in allowed)})"
        super().__init__(text)
        self.key = key
        self.allowed = tuple(allowed) if allowed is not None else None


class _Spec:
    """``repr`` that lists only the fields that differ from their default.

    Mixed into dataclasses only; the annotation below says so to the type checker."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclass(frozen=True, repr=False)
class Resources(_Spec):
    """Per-node resource limits (see the module docstring for how they apply)."""

    memory_mb: int | None = None
    memory_limit: str = "as"
    cpus: tuple[int, ...] | None = None
    open_files: int | None = None

    @property
    def empty(self) -> bool:
        return self.memory_mb is None and self.cpus is None and self.open_files is None


@dataclass(frozen=True, repr=False)
class LatencyRange(_Spec):
    """Added one-way delay per link, drawn from [min_ms, max_ms]."""

    min_ms: int
    max_ms: int


@dataclass(frozen=True, repr=False)
class NodeSpec(_Spec):
    """How to run one node: a command template (local provider) or an image
    (containers provider), plus its environment, config overrides and limits."""

    name: str | None = None
    command: tuple[str, ...] | None = None
    image: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    config: tuple[tuple[str, Any], ...] = ()
    resources: Resources = field(default_factory=Resources)
    health_path: str | None = "/health"
    port: int | None = None  # container port (image); local nodes always get a free port
    cwd: str | None = None

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    @property
    def config_dict(self) -> dict[str, Any]:
        return dict(self.config)

    def named(self, name: str | None) -> NodeSpec:
        return dataclasses.replace(self, name=name)


@dataclass(frozen=True, repr=False)
class ClusterConfig(_Spec):
    """A whole cluster: its nodes, which peer links exist, how links are proxied."""

    node_count: int
    topology: str
    nodes: tuple[NodeSpec, ...]
    hub: str | None = None
    custom_links: tuple[Link, ...] | None = None
    latency: LatencyRange | None = None
    link_proxies: bool = True
    client_proxies: bool = False
    ready_timeout: float = 30.0
    stop_timeout: float = 5.0
    seed: int | None = None
    report_dir: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The node names, in order (:func:`cluster_config` names every node)."""
        names = tuple(n.name for n in self.nodes if n.name is not None)
        if len(names) != len(self.nodes):
            raise ConfigError("nodes", "every node of a cluster needs a name")
        return names

    @property
    def links(self) -> tuple[Link, ...]:
        """The directed peer links of this topology."""
        return topology_links(self.topology, self.names, hub=self.hub, links=self.custom_links)

    def __repr__(self) -> str:
        text = super().__repr__()
        template = self.nodes[0].named(None)
        if all(n.named(None) == template for n in self.nodes):
            names = ", ".join(self.names)
            text = text.replace(f"nodes={self.nodes!r}", f"names=({names}), node={template!r}")
        return text

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(f"no node {name!r}; nodes: {', '.join(self.names)}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, key_prefix: str = "cluster") -> ClusterConfig:
        """Build from a parsed config file (e.g. a ``[cluster]`` TOML table)."""
        if not isinstance(data, Mapping):
            raise ConfigError(key_prefix, f"must be a table, got {type(data).__name__}")
        allowed = _CLUSTER_KEYS
        for key in data:
            if key not in allowed:
                raise ConfigError(f"{key_prefix}.{key}", "unknown key", allowed)
        return cluster_config(**dict(data))


# ---------------------------------------------------------------- validation helpers


@overload
def _int(
    key: str, value: object, *, minimum: int | None = None, maximum: int | None = None, optional: Literal[False] = False
) -> int: ...
@overload
def _int(
    key: str, value: object, *, minimum: int | None = None, maximum: int | None = None, optional: bool = False
) -> int | None: ...


def _int(
    key: str, value: object, *, minimum: int | None = None, maximum: int | None = None, optional: bool = False
) -> int | None:
    """``value`` checked to be an integer in range; ``None`` passes only when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(key, f"must be <= {maximum}, got {value}")
    return value


def _number(key: str, value: object, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number of seconds, got {value}")
    if positive and value <= 0:
        raise ConfigError(key, f"must be > 0, got {value}")
    return float(value)


def _choice(key: str, value: object, allowed: Sequence[object]) -> Any:
    if value not in allowed:
        raise ConfigError(key, f"{value!r} is not allowed", allowed)
    return value


def _str_map(key: str, value: object) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must be a mapping of names to strings, got {type(value).__name__}")
    out = []
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise ConfigError(key, f"names must be non-empty strings, got {k!r}")
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise ConfigError(f"{key}.{k}", f"must be a string or number, got {v!r}")
        out.append((k, str(v)))
    return tuple(sorted(out))


def _command(key: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:  # an unbalanced quote
            raise ConfigError(key, f"cannot split {value!r}: {exc}") from None
    elif isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        parts = list(value)
    else:
        raise ConfigError(key, f"must be a list of strings or a command string, got {value!r}")
    if not parts:
        raise ConfigError(key, "must not be empty")
    formatter = string.Formatter()
    for part in parts:
        try:
            fields = [(f, conv, spec) for _, f, spec, conv in formatter.parse(part) if f is not None]
        except ValueError as exc:
            raise ConfigError(key, f"bad template {part!r}: {exc}") from None
        for fname, conversion, spec in fields:
            root = re.split(r"[.\[]", fname, maxsplit=1)[0]
            if root not in PLACEHOLDERS:
                raise ConfigError(key, f"unknown placeholder {{{fname}}} in {part!r}", PLACEHOLDERS)
            if conversion not in (None, "r", "s", "a"):
                raise ConfigError(key, f"bad conversion !{conversion} in {part!r}", ("!r", "!s", "!a"))
            if spec and "{" not in spec and root != "config" and root == fname:
                # a format spec must suit the value: port/index are ints, the rest strings
                sample = 1 if root in ("port", "index") and conversion is None else "x"
                try:
                    format(sample, spec)
                except ValueError as exc:
                    raise ConfigError(key, f"bad format spec {spec!r} in {part!r}: {exc}") from None
    return tuple(parts)


def resources(
    memory_mb: int | None = None,
    cpus: Iterable[int] | None = None,
    open_files: int | None = None,
    memory_limit: str = "as",
) -> Resources:
    """Resource limits for a node; see the module docstring."""
    _int("resources.memory_mb", memory_mb, minimum=16, optional=True)
    _choice("resources.memory_limit", memory_limit, MEMORY_LIMITS)
    _int("resources.open_files", open_files, minimum=16, optional=True)
    cpu_tuple = None
    if cpus is not None:
        if isinstance(cpus, (str, bytes)) or not isinstance(cpus, Iterable):
            raise ConfigError("resources.cpus", f"must be a list of CPU numbers, got {cpus!r}")
        cpu_tuple = tuple(cpus)
        if not cpu_tuple:
            raise ConfigError("resources.cpus", "must name at least one CPU")
        for c in cpu_tuple:
            _int("resources.cpus", c, minimum=0)
    return Resources(memory_mb=memory_mb, memory_limit=memory_limit, cpus=cpu_tuple, open_files=open_files)


def _resources(key: str, value: object) -> Resources:
    if value is None:
        return Resources()
    if isinstance(value, Resources):
        return value
    if isinstance(value, Mapping):
        allowed = ("memory_mb", "memory_limit", "cpus", "open_files")
        for k in value:
            if k not in allowed:
                raise ConfigError(f"{key}.{k}", "unknown key", allowed)
        return resources(**dict(value))
    raise ConfigError(key, f"must be resources(...) or a mapping, got {value!r}")


def latency_range(min_ms: int, max_ms: int | None = None) -> LatencyRange:
    """One-way link delay in [min_ms, max_ms] milliseconds (max defaults to min)."""
    max_ms = min_ms if max_ms is None else max_ms
    _int("latency.min_ms", min_ms, minimum=0, maximum=600_000)
    _int("latency.max_ms", max_ms, minimum=0, maximum=600_000)
    if max_ms < min_ms:
        raise ConfigError("latency.max_ms", f"must be >= min_ms ({min_ms}), got {max_ms}")
    return LatencyRange(min_ms, max_ms)


def _latency(key: str, value: object) -> LatencyRange | None:
    if value is None or isinstance(value, LatencyRange):
        return value
    if isinstance(value, Mapping):
        for k in value:
            if k not in ("min_ms", "max_ms", "min", "max"):
                raise ConfigError(f"{key}.{k}", "unknown key", ("min_ms", "max_ms"))
        return latency_range(value.get("min_ms", value.get("min")), value.get("max_ms", value.get("max")))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return latency_range(value[0], value[1])
    raise ConfigError(key, f"must be latency_range(min, max), (min, max) or a mapping, got {value!r}")


_NODE_KEYS = ("name", "command", "image", "env", "config", "resources", "health_path", "port", "cwd")


def node_spec(
    name: str | None = None,
    command: str | Sequence[str] | None = None,
    *,
    image: str | None = None,
    env: Mapping[str, object] | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Resources | Mapping | None = None,
    health_path: str | None = "/health",
    port: int | None = None,
    cwd: str | None = None,
    key: str = "node",
) -> NodeSpec:
    """A node spec.  Give ``command`` (local provider) and/or ``image``
    (containers provider).  ``health_path=None`` means "ready when the port
    accepts a TCP connection" for nodes that do not speak HTTP."""
    if name is not None and (not isinstance(name, str) or not _NAME_RE.match(name)):
        raise ConfigError(
            f"{key}.name",
            f"{name!r} must start with a letter and use only letters, digits, '_' or '-' (at most 32 characters)",
        )
    cmd = _command(f"{key}.command", command)
    if image is not None and (not isinstance(image, str) or not image):
        raise ConfigError(f"{key}.image", f"must be a non-empty image reference, got {image!r}")
    if cmd is None and image is None:
        raise ConfigError(f"{key}.command", "a node needs a command (local provider) or an image (containers provider)")
    if health_path is not None and (not isinstance(health_path, str) or not health_path.startswith("/")):
        raise ConfigError(f"{key}.health_path", f"must be a path starting with '/' or None, got {health_path!r}")
    _int(f"{key}.port", port, minimum=1, maximum=65535, optional=True)
    if cwd is not None:
        if not isinstance(cwd, (str, os.PathLike)) or not os.fspath(cwd):
            raise ConfigError(f"{key}.cwd", f"must be a non-empty path or None, got {cwd!r}")
        cwd = os.fspath(cwd)
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"{key}.config", f"must be a mapping, got {type(config).__name__}")
    cfg = tuple(sorted((str(k), v) for k, v in (config or {}).items()))
    return NodeSpec(
        name=name,
        command=cmd,
        image=image,
        env=_str_map(f"{key}.env", env),
        config=cfg,
        resources=_resources(f"{key}.resources", resources),
        health_path=health_path,
        port=port,
        cwd=cwd,
    )


_CLUSTER_KEYS = (
    "node_count",
    "topology",
    "command",
    "image",
    "nodes",
    "env",
    "config",
    "resources",
    "health_path",
    "port",
    "cwd",
    "hub",
    "links",
    "latency",
    "link_proxies",
    "client_proxies",
    "ready_timeout",
    "stop_timeout",
    "seed",
    "report_dir",
    "name_prefix",
)


def cluster_config(
    node_count: int | None = None,
    topology: str = "mesh",
    *,
    command: str | Sequence[str] | None = None,
    image: str | None = None,
    nodes: Sequence[NodeSpec | Mapping[str, Any]] | None = None,
    env: Mapping[str, object] | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Resources | Mapping | None = None,
    health_path: str | None = "/health",
    port: int | None = None,
    cwd: str | None = None,
    hub: str | None = None,
    links: Iterable[object] | None = None,
    latency: LatencyRange | Sequence[int] | Mapping | None = None,
    link_proxies: bool = True,
    client_proxies: bool = False,
    ready_timeout: float = 30.0,
    stop_timeout: float = 5.0,
    seed: int | None = None,
    report_dir: str | None = None,
    name_prefix: str = "n",
) -> ClusterConfig:
    """A cluster spec.

    Either one template (``command``/``image`` plus ``env``, ``config``,
    ``resources``, ``health_path``) for ``node_count`` nodes named
    ``n1..nN``, or an explicit ``nodes`` list (node specs or mappings; unnamed
    ones get ``nK``).  ``latency`` is a default delay range put on every link
    when the cluster starts.
    """
    _choice("topology", topology, TOPOLOGIES)
    if nodes is not None:
        if command is not None or image is not None:
            raise ConfigError("nodes", "give either nodes=[...] or a command/image template, not both")
        if not isinstance(nodes, Sequence) or isinstance(nodes, (str, bytes)):
            raise ConfigError("nodes", f"must be a list of node specs, got {type(nodes).__name__}")
        count = _int("node_count", node_count if node_count is not None else len(nodes), minimum=1, maximum=64)
        if count != len(nodes):
            raise ConfigError("node_count", f"is {count} but {len(nodes)} nodes are listed")
        specs: list[NodeSpec] = []
        names: list[str] = []
        for i, raw in enumerate(nodes, 1):
            if isinstance(raw, Mapping):
                for k in raw:
                    if k not in _NODE_KEYS:
                        raise ConfigError(f"nodes[{i - 1}].{k}", "unknown key", _NODE_KEYS)
                raw = node_spec(**dict(raw), key=f"nodes[{i - 1}]")
            elif not isinstance(raw, NodeSpec):
                raise ConfigError(f"nodes[{i - 1}]", f"must be node_spec(...) or a mapping, got {raw!r}")
            names.append(raw.name or f"{name_prefix}{i}")
            specs.append(raw if raw.name else raw.named(names[-1]))
    else:
        count = _int("node_count", 3 if node_count is None else node_count, minimum=1, maximum=64)
        template = node_spec(
            None,
            command,
            image=image,
            env=env,
            config=config,
            resources=resources,
            health_path=health_path,
            port=port,
            cwd=cwd,
            key="node",
        )
        if not isinstance(name_prefix, str) or not _NAME_RE.match(name_prefix + "1"):
            raise ConfigError(
                "name_prefix", f"{name_prefix!r} must start with a letter and use only letters, digits, '_' or '-'"
            )
        names = [f"{name_prefix}{i}" for i in range(1, count + 1)]
        specs = [template.named(name) for name in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError("nodes", f"duplicate node names: {', '.join(dupes)}")
    custom = None
    try:
        resolved = topology_links(topology, names, hub=hub, links=links)
    except ValueError as exc:
        key = "links" if topology == "custom" or links is not None else ("hub" if hub is not None else "topology")
        message = str(exc)
        raise ConfigError(key, message[len(key) + 2 :] if message.startswith(key + ": ") else message) from None
    if topology == "custom":
        custom = resolved
    for key_name, flag in (("link_proxies", link_proxies), ("client_proxies", client_proxies)):
        if not isinstance(flag, bool):
            raise ConfigError(key_name, f"must be true or false, got {flag!r}", (True, False))
    _number("ready_timeout", ready_timeout)
    _number("stop_timeout", stop_timeout)
    _int("seed", seed, minimum=0, optional=True)
    if report_dir is not None:
        if not isinstance(report_dir, (str, os.PathLike)) or not os.fspath(report_dir):
            raise ConfigError("report_dir", f"must be a non-empty path or None, got {report_dir!r}")
        report_dir = os.fspath(report_dir)
    lat = _latency("latency", latency)
    if lat is not None and not link_proxies:
        raise ConfigError("latency", "needs link_proxies=True (latency is added on the link proxies)")
    return ClusterConfig(
        node_count=count,
        topology=topology,
        nodes=tuple(specs),
        hub=hub,
        custom_links=custom,
        latency=lat,
        link_proxies=link_proxies,
        client_proxies=client_proxies,
        ready_timeout=float(ready_timeout),
        stop_timeout=float(stop_timeout),
        seed=seed,
        report_dir=report_dir,
    )
