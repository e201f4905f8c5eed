"""The Docker engine a run talks to: reaching it, labelling what we make, removing it.

Why labels and not a list of ids: a runner that is SIGKILLed half-way through
creating a container cannot write down the id it was about to get, but the
engine keeps the labels it was given.  Every container, network and volume the
toolkit makes carries ``pipeline.toolkit=mabeam-pipeline`` and
``pipeline.run=<run id>``, so :func:`remove_run` finds all of a run's objects
(also ones created after the last write of the run state file), and
:func:`leftovers` finds objects whose run is gone altogether.

Reaching the engine is checked once, with a short timeout, and a failure is one
line that says where we looked (``DOCKER_HOST`` or the default socket) and what
to do, never a traceback from deep inside the SDK.
"""

from __future__ import annotations

import importlib
import os
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "DockerUnavailable",
    "LABEL_TOOLKIT",
    "LABEL_RUN",
    "LABEL_RUNNER",
    "TOOLKIT",
    "connect",
    "engine_description",
    "is_local_engine",
    "run_labels",
    "remove_run",
    "leftovers",
    "configure_testcontainers",
    "publish",
]

LABEL_TOOLKIT = "pipeline.toolkit"
LABEL_RUN = "pipeline.run"
LABEL_RUNNER = "pipeline.runner"
TOOLKIT = "mabeam-pipeline"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


class DockerUnavailable(RuntimeError):
    """No Docker engine answers where we looked (the message is one line)."""


def engine_description(docker_host: str | None = None) -> str:
    """Where the engine is looked for, as a user would set it."""
    host = docker_host or os.environ.get("DOCKER_HOST")
    return f"DOCKER_HOST={host}" if host else f"{DEFAULT_SOCKET} (DOCKER_HOST unset)"


def is_local_engine() -> bool:
    """True when the engine runs on this machine (a unix socket or a loopback
    address), so published ports can be bound to 127.0.0.1 here."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith(("unix://", "npipe://")):
        return True
    name = urlparse(host).hostname or ""
    return name in ("localhost", "127.0.0.1", "::1")


def connect(timeout: float = 5.0, docker_host: str | None = None) -> Any:
    """A ``docker.DockerClient`` that has answered a ping, or DockerUnavailable.
    ``docker_host``: this engine instead of ``$DOCKER_HOST`` (a dead run's)."""
    try:  # through importlib: the docker SDK ships no type information
        docker: Any = importlib.import_module("docker")
        DockerException: Any = importlib.import_module("docker.errors").DockerException
    except ImportError as exc:  # pragma: no cover - docker is a dependency of testcontainers
        raise DockerUnavailable(f"the docker SDK is not installed ({exc}); pip install testcontainers") from None
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=max(1, round(timeout)))
        else:
            client = docker.from_env(timeout=max(1, round(timeout)))
        client.ping()
    except (TimeoutError, DockerException, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DockerUnavailable(
            f"no Docker engine reachable at {engine_description(docker_host)}: {reason}; "
            "start dockerd (or point DOCKER_HOST at an engine), or use --provider local"
        ) from None
    return client


def run_labels(run_id: str, runner: str | None = None) -> dict[str, str]:
    labels = {LABEL_TOOLKIT: TOOLKIT, LABEL_RUN: run_id}
    if runner:
        labels[LABEL_RUNNER] = runner
    return labels


def remove_run(client: Any, run_id: str) -> list[str]:
    """Remove every container, then network, then volume labelled with
    ``run_id``; return what was removed (``container n1``, ...)."""
    return _remove(client, {"label": [f"{LABEL_TOOLKIT}={TOOLKIT}", f"{LABEL_RUN}={run_id}"]})


def leftovers(client: Any) -> dict[str, list[str]]:
    """Run id -> names of the toolkit's objects still on the engine."""
    found: dict[str, list[str]] = {}
    flt = {"label": f"{LABEL_TOOLKIT}={TOOLKIT}"}
    for kind, objects in (
        ("container", client.containers.list(all=True, filters=flt)),
        ("network", client.networks.list(filters=flt)),
        ("volume", client.volumes.list(filters=flt)),
    ):
        for obj in objects:
            labels = _labels(obj)
            found.setdefault(labels.get(LABEL_RUN, "?"), []).append(f"{kind} {obj.name}")
    return found


def _labels(obj: Any) -> dict[str, str]:
    attrs = obj.attrs or {}
    return attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}


def _remove(client: Any, flt: dict[str, Any]) -> list[str]:
    errors: Any = importlib.import_module("docker.errors")
    APIError, NotFound = errors.APIError, errors.NotFound

    removed = []
    for container in client.containers.list(all=True, filters=flt):
        try:
            container.remove(force=True, v=True)
            removed.append(f"container {container.name}")
        except NotFound:
            pass
        except APIError as exc:
            if "removal of container" not in str(exc) or "already in progress" not in str(exc):
                raise
    for network in client.networks.list(filters=flt):
        try:
            network.remove()
            removed.append(f"network {network.name}")
        except NotFound:
            pass
    for volume in client.volumes.list(filters=flt):
        try:
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
        except NotFound:
            pass
    return removed


def configure_testcontainers(client: Any) -> str:
    """Ryuk (testcontainers' reaper) when its image is on the engine, else
    disabled (it cannot be pulled everywhere, and the toolkit's own cleanup
    does the same job); published ports are reached on 127.0.0.1 for a local
    engine.  Returns a one-line description for the run's log."""
    from testcontainers.core.config import ConnectionMode
    from testcontainers.core.config import testcontainers_config as tc

    if is_local_engine() and not os.environ.get("TESTCONTAINERS_HOST_OVERRIDE"):
        os.environ["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"
        tc.tc_host_override = "127.0.0.1"
    if is_local_engine():  # published on 127.0.0.1 here, even when this runner is itself in a container
        tc.connection_mode_override = ConnectionMode.docker_host
    if os.environ.get("TESTCONTAINERS_RYUK_DISABLED") is None:
        try:
            client.images.get(tc.ryuk_image)
            tc.ryuk_disabled = False
        except Exception:  # noqa: BLE001 - ImageNotFound, or an engine that cannot say
            tc.ryuk_disabled = True
    state = "off (the toolkit's cleanup removes what the run made)" if tc.ryuk_disabled else f"on ({tc.ryuk_image})"
    return f"engine {engine_description()}, Ryuk {state}"


def publish(container: Any, port: int, bind_host: str | None, host_port: int | None) -> None:
    """Publish ``port`` of a testcontainers ``DockerContainer``: on
    ``bind_host:host_port`` (a local engine: loopback, a port chosen here so it
    survives restarts), or on a port the engine picks (a remote engine).
    ``with_bind_ports`` cannot name the host address, so the SDK's port map is
    set directly."""
    ports: dict[str, Any] = container.ports
    ports[f"{port}/tcp"] = (bind_host, host_port) if bind_host else None
