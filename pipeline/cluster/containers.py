"""The containers provider: each node is a container, started with testcontainers.

The same manager, link table and faults as with local processes; only where a
node runs changes.  Per run:

* one Docker network of its own, ``pipeline-<run id>``; each node joins it
  under its node name (``n1``...), the run's Toxiproxy under ``toxiproxy``
  (:mod:`pipeline.containers.toxiproxy`), so a node's peers are
  ``toxiproxy:<port>`` and every partition and toxic works unchanged;
* one container per node, ``pipeline-<run id>-<node>``, listening on
  ``0.0.0.0:<spec.port or 8000>`` inside and published on 127.0.0.1 at a port
  chosen here, so a restart keeps the node's address for peers (its alias) and
  for the tests (the same host port);
* resource limits from the node spec go to the engine: ``memory_mb`` becomes the
  container's memory limit (a cgroup limit on resident memory, where the local
  provider caps address space), ``cpus`` its cpuset, ``open_files`` its
  ``nofile`` ulimit;
* crash is ``docker kill`` (SIGKILL, exit status -9 as locally), stop is
  ``docker stop`` (SIGTERM, then SIGKILL after the timeout), pause is the
  cgroup freezer (``docker pause``), restart starts the *same* container again,
  so its data directory survives as a local node's does;
* readiness is polled with testcontainers' ``HttpWaitStrategy`` (the manager
  owns the deadline); logs are read from the engine into
  ``<run dir>/<node>.log`` whenever a node stops and at the end.

The command: the spec's command template with the placeholders filled for the
container (``{host}`` = 0.0.0.0, ``{port}`` = the container port,
``{data_dir}`` = ``/data/<node>``); a command that starts with this
interpreter (``sys.executable``, as the suites write it) runs the image's
``python3`` instead.  The image: the spec's ``image``, else the project's
node image (:func:`pipeline.containers.image.ensure_image`, built once per
source change).

Nothing is left behind: every object carries the run's labels; the run's
watchdog and ``invoke cluster-clean`` remove them by label when the runner is
killed, and ``open`` first sweeps objects of dead runs.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.cluster.config import NodeSpec
from pipeline.cluster.errors import NodeLaunchError
from pipeline.cluster.process import Watchdog
from pipeline.cluster.provider import Address, NodeLaunch, Provider, ProviderError, RunContext, free_port

__all__ = ["ContainersProvider", "DEFAULT_PORT", "docker_unavailable_reason"]

DEFAULT_PORT = 8000
ROOT = Path(__file__).resolve().parents[2]


def docker_unavailable_reason(timeout: float = 5.0) -> str | None:
    """None when a Docker engine answers, else the one line saying why not."""
    from pipeline.containers import engine

    try:
        engine.connect(timeout).close()
    except engine.DockerUnavailable as exc:
        return str(exc)
    return None


class ContainersProvider(Provider):
    """Nodes as containers (see the module docstring)."""

    kind = "containers"
    proxy_listen_host = "0.0.0.0"

    def __init__(
        self,
        image: str | None = None,
        *,
        image_mode: str = "auto",
        root: Path = ROOT,
        watchdog: bool = True,
        progress: Any = None,
    ) -> None:
        self.image = image
        self.image_mode = image_mode
        self.root = root
        self.use_watchdog = watchdog
        self._progress = progress or (lambda line: print(f"[pipeline.containers] {line}", file=sys.stderr))
        self._client: Any = None
        self._network: Any = None
        self._run: RunContext | None = None
        self._watchdog: Watchdog | None = None
        self._toxiproxy: Any = None
        self._addresses: dict[str, Address] = {}
        self._specs: dict[str, NodeSpec] = {}
        self._host_ports: dict[str, int | None] = {}
        self._launches: dict[str, NodeLaunch] = {}
        self._containers: dict[str, Any] = {}  # name -> testcontainers DockerContainer
        self._images: dict[str, str] = {}
        self._lock = threading.RLock()
        self._local = True
        self.host = "127.0.0.1"

    # ---------------------------------------------------------------- lifecycle

    def open(self, run: RunContext) -> None:
        from pipeline.cluster.clean import CleanReport, sweep_containers
        from pipeline.containers import engine

        try:
            self._client = engine.connect()
        except engine.DockerUnavailable as exc:
            raise ProviderError(f"containers provider: {exc}") from None
        self._run = run
        self._local = engine.is_local_engine()
        if not self._local:
            self.host = self._client.api.base_url.split("://")[-1].split(":")[0] or "localhost"
        described = engine.configure_testcontainers(self._client)
        report = CleanReport()
        sweep_containers(report, live={run.run_id})  # what killed runs left, before we add ours
        if report.removed:
            self._progress(f"removed leftovers of dead runs: {', '.join(w for _, w in report.removed)}")
        if run.state is not None:
            run.state.docker_host = os.environ.get("DOCKER_HOST", "")
            run.state.save()
            if self.use_watchdog and self._watchdog is None:
                self._watchdog = Watchdog(run.state, run.run_dir)
        from testcontainers.core.network import Network

        network = Network(docker_network_kw={"labels": self._labels()})
        network.name = f"pipeline-{run.run_id}"
        self._network = network.create()
        self._progress(f"run {run.run_id}: network {network.name}, {described}")

    def _labels(self) -> dict[str, str]:
        from pipeline.containers import engine

        state = self._run.state if self._run is not None else None
        run_id = self._run.run_id if self._run is not None else "?"
        return engine.run_labels(run_id, state.runner_label() if state is not None else None)

    def _node_image(self, spec: NodeSpec) -> str:
        if spec.image:
            return spec.image
        if self.image:
            return self.image
        key = str(self.root)
        if key not in self._images:
            from pipeline.containers.image import ensure_image

            t0 = time.monotonic()
            self._images[key] = ensure_image(self.root, client=self._client, mode=self.image_mode)
            self._progress(f"node image {self._images[key]} ready in {time.monotonic() - t0:.1f}s")
        return self._images[key]

    def toxiproxy(self, seed: int, proxies: int) -> Any:
        from pipeline.containers.toxiproxy import ContainerToxiproxy

        if self._run is None or self._network is None:
            raise ProviderError("containers provider: toxiproxy() before open()")
        # the manager asks for Toxiproxy after allocating every node, before any starts:
        # the embedded server runs in the first node's image
        first = next(iter(self._specs.values()), None)
        if first is None:
            raise ProviderError("containers provider: toxiproxy() before allocate()")
        image = self._node_image(first)
        self._toxiproxy = ContainerToxiproxy(
            client=self._client,
            network=self._network,
            name=f"pipeline-{self._run.run_id}-toxiproxy",
            labels=self._labels(),
            node_image=image,
            proxies=proxies,
            seed=seed,
            host=self.host,
            bind_host="127.0.0.1" if self._local else None,
        )
        self._progress(f"toxiproxy {self._toxiproxy.kind} at {self._toxiproxy.url} ({proxies} proxy ports)")
        return self._toxiproxy

    def allocate(self, name: str, spec: NodeSpec) -> Address:
        address = Address(name, spec.port or DEFAULT_PORT)
        self._addresses[name] = address
        self._specs[name] = spec
        self._host_ports[name] = free_port() if self._local else None
        return address

    def client_address(self, name: str) -> Address:
        port = self._host_ports.get(name)
        if port is None:
            container = self._containers.get(name)
            if container is None:
                raise ProviderError(f"node {name!r} was never started; nodes: {', '.join(self._containers)}")
            port = self._host_ports[name] = int(container.get_exposed_port(self.address(name).port))
        return Address(self.host, port)

    def peer_address(self, proxy_listen: Address) -> Address:
        from pipeline.containers.toxiproxy import ALIAS

        return Address(ALIAS, proxy_listen.port)

    # ------------------------------------------------------------------ start

    def _inside(self, launch: NodeLaunch) -> NodeLaunch:
        """The launch as the container sees it: where it listens, its folders."""
        return replace(
            launch,
            address=Address("0.0.0.0", launch.address.port),
            data_dir=Path(f"/data/{launch.name}"),
            log_path=Path("/dev/stdout"),
            config_file=Path(f"/data/{launch.name}.json"),
        )

    def _command(self, inside: NodeLaunch) -> list[str]:
        argv = inside.argv()
        if argv and argv[0] in {sys.executable, os.path.realpath(sys.executable)}:
            argv[0] = "python3"  # the suites' "this interpreter" is the image's Python in a container
        return argv

    def start(self, launch: NodeLaunch) -> None:
        if self._run is None or self._network is None:
            raise ProviderError("containers provider: start() before open()")
        with self._lock:
            self._launches[launch.name] = launch
            existing = self._containers.get(launch.name)
        if existing is not None:  # a restart: the same container, its data and address kept
            self._wrapped(launch.name).start()
            return
        from testcontainers.core.container import DockerContainer

        from pipeline.containers.engine import publish

        inside = self._inside(launch)
        argv = self._command(inside)
        launch.prepare_files()  # the host copy of the config file, beside the logs
        image = self._node_image(launch.spec)
        env = inside.environment()
        container = (
            DockerContainer(image, env=env)
            .with_command(argv)
            .with_name(f"pipeline-{self._run.run_id}-{launch.name}")
            .with_network(self._network)
            .with_network_aliases(launch.name)
            .with_kwargs(labels=self._labels(), **self._limits(launch))
            .with_copy_into_container(launch.config_file.read_bytes(), str(inside.config_file))
        )
        publish(container, launch.address.port, "127.0.0.1" if self._local else None, self._host_ports[launch.name])
        with open(launch.log_path, "ab") as log:
            log.write(
                f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start {launch.name} in container "
                f"{container._name} ({image}) on {launch.address}: {' '.join(argv)}\n".encode()
            )
        with self._lock:
            self._containers[launch.name] = container
        try:
            container.start()
        except Exception as exc:  # noqa: BLE001 - image missing, port taken, bad limits: one clear error
            reason = " ".join(str(exc).split())[:300]
            raise NodeLaunchError(
                launch.name, f"cannot start container from {image}: {reason}", 125, "", launch.log_path
            ) from None

    def _limits(self, launch: NodeLaunch) -> dict[str, Any]:
        res = launch.spec.resources
        kwargs: dict[str, Any] = {}
        if res.memory_mb is not None:
            kwargs["mem_limit"] = f"{res.memory_mb}m"
            kwargs["memswap_limit"] = f"{res.memory_mb}m"  # no swap: the limit is the limit
        if res.cpus is not None:
            kwargs["cpuset_cpus"] = ",".join(str(c) for c in res.cpus)
        if res.open_files is not None:
            import importlib

            ulimit: Any = importlib.import_module("docker.types").Ulimit  # the SDK ships no types
            kwargs["ulimits"] = [ulimit(name="nofile", soft=res.open_files, hard=res.open_files)]
        return kwargs

    # -------------------------------------------------------------- inspecting

    def _wrapped(self, name: str) -> Any:
        container = self._containers.get(name)
        wrapped = None if container is None else getattr(container, "_container", None)
        if wrapped is None:
            raise ProviderError(f"node {name!r} was never started; nodes: {', '.join(self._containers)}")
        return wrapped

    def _state(self, name: str) -> dict[str, Any]:
        wrapped = self._wrapped(name)
        try:
            wrapped.reload()
        except Exception as exc:  # noqa: BLE001 - removed under us
            raise ProviderError(f"node {name}: container {wrapped.name} is gone ({exc})") from None
        return wrapped.attrs.get("State") or {}

    def exit_code(self, name: str) -> int | None:
        state = self._state(name)
        if state.get("Status") not in ("exited", "dead"):
            return None
        return _exit_status(int(state.get("ExitCode", 0)))

    def pid(self, name: str) -> int | None:
        try:
            pid = int(self._state(name).get("Pid") or 0)
        except ProviderError:
            return None
        return pid or None

    def is_paused(self, name: str) -> bool:
        try:
            return self._state(name).get("Status") == "paused"
        except ProviderError:
            return False

    def healthy(self, name: str, health_path: str | None, timeout: float = 0.5) -> bool:
        from testcontainers.core.wait_strategies import HttpWaitStrategy, PortWaitStrategy

        container = self._containers.get(name)
        if container is None:
            return False
        try:
            if self._state(name).get("Status") != "running":  # one inspect: exited, dead, paused, restarting
                return False
        except ProviderError:
            return False
        port = self.address(name).port
        strategy: Any = HttpWaitStrategy(port, health_path) if health_path is not None else PortWaitStrategy(port)
        strategy = strategy.with_startup_timeout(max(0.05, timeout)).with_poll_interval(max(0.01, timeout / 4))
        try:
            strategy.wait_until_ready(container)
        except (TimeoutError, ConnectionError, OSError):
            return False
        return True

    # ---------------------------------------------------------------- signals

    def stop(self, name: str, timeout: float = 5.0) -> int | None:
        return self._stop_many([name], timeout)[name]

    def _stop_many(self, names: list[str], timeout: float) -> dict[str, int | None]:
        """``docker stop`` of each (unpaused first, so it can act on SIGTERM), in parallel."""

        def stop_one(name: str) -> int | None:
            wrapped = self._wrapped(name)
            if self.is_paused(name):
                wrapped.unpause()
            if self.exit_code(name) is None:
                wrapped.stop(timeout=max(1, math.ceil(timeout)))
            code = _exit_status(int(wrapped.wait(timeout=max(5, math.ceil(timeout) + 5)).get("StatusCode", 0)))
            self._save_log(name)
            return code

        known = [n for n in names if n in self._containers]
        if not known:
            return {n: None for n in names}
        with ThreadPoolExecutor(max_workers=len(known)) as pool:
            codes = dict(zip(known, pool.map(stop_one, known), strict=True))
        return {n: codes.get(n) for n in names}

    def kill(self, name: str) -> int | None:
        wrapped = self._wrapped(name)
        if self.exit_code(name) is None:
            wrapped.kill()
        code = _exit_status(int(wrapped.wait(timeout=30).get("StatusCode", 0)))
        self._save_log(name)
        return code

    def pause(self, name: str) -> None:
        if self.exit_code(name) is not None:
            raise ProviderError(f"node {name} is not running (exit status {self.exit_code(name)}); cannot pause")
        self._wrapped(name).pause()

    def resume(self, name: str) -> None:
        if self.is_paused(name):
            self._wrapped(name).unpause()

    def restart(self, name: str, timeout: float = 5.0) -> None:
        launch = self._launches.get(name)
        if launch is None:
            raise ProviderError(f"node {name!r} was never started")
        if self.exit_code(name) is None:
            self.stop(name, timeout)
        with open(launch.log_path, "ab") as log:
            log.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} restart {name}\n".encode())
        self.start(launch)

    # ------------------------------------------------------------------- logs

    def _container_log(self, name: str, tail: int | str = "all") -> str:
        try:
            data = self._wrapped(name).logs(stdout=True, stderr=True, tail=tail)
        except Exception:  # noqa: BLE001 - never started, or gone
            return ""
        return data.decode("utf-8", "replace")

    def _save_log(self, name: str) -> None:
        """Write the container's whole output after the launch header lines
        (the engine keeps every start's output in one stream)."""
        launch = self._launches.get(name)
        if launch is None:
            return
        text = self._container_log(name)
        try:
            head = [ln for ln in launch.log_path.read_text(errors="replace").splitlines() if ln.startswith("=== ")]
        except OSError:
            head = []
        launch.log_path.write_text("\n".join(head) + ("\n" if head else "") + text)

    def log_path(self, name: str) -> Path | None:
        launch = self._launches.get(name)
        return None if launch is None else launch.log_path

    def log_tail(self, name: str, lines: int = 40) -> str:
        text = self._container_log(name, tail=lines)
        return "\n".join(text.splitlines()[-lines:])

    # --------------------------------------------------------------- teardown

    def close(self, timeout: float = 5.0) -> None:
        """Stop every node (in parallel), keep its log, remove its container.
        The run's Toxiproxy and network stay until :meth:`release`, because the
        link table deletes its proxies after this."""
        with self._lock:
            names = list(self._containers)
        running = [n for n in names if self._alive(n)]
        if running:
            self._stop_many(running, timeout)
        for name in names:
            self._save_log(name)
            container = self._containers.pop(name)
            wrapped = getattr(container, "_container", None)
            if wrapped is not None:
                try:
                    wrapped.remove(force=True, v=True)
                except Exception:  # noqa: BLE001 - gone already; release() sweeps by label
                    pass

    def _alive(self, name: str) -> bool:
        try:
            return self.exit_code(name) is None
        except ProviderError:
            return False

    def release(self) -> None:
        """Remove the run's Toxiproxy, network and anything else carrying its
        label, then let the watchdog go."""
        if self._toxiproxy is not None and self._run is not None:
            try:
                (self._run.run_dir / "toxiproxy.log").write_bytes(self._toxiproxy.logs())
            except OSError:
                pass
            self._toxiproxy.close()
            self._toxiproxy = None
        if self._client is not None and self._run is not None:
            from pipeline.containers import engine

            try:
                engine.remove_run(self._client, self._run.run_id)
            finally:
                self._network = None
                self._client.close()
                self._client = None
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None


def _exit_status(code: int) -> int:
    """The engine's exit code as the local provider reports it: 128+N (killed
    by signal N) becomes -N."""
    return -(code - 128) if 128 < code <= 128 + 64 else code
