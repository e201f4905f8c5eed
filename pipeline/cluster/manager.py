"""Start a cluster from a :class:`ClusterConfig` and hand back a handle.

Order of a start, and why:

1. a run id, a report folder (``reports/cluster/<run-id>/``, or under
   ``$PIPELINE_REPORTS``) and a run state file, so even a start that dies
   half-way can be cleaned;
2. each node's listen address (free ports), then one Toxiproxy proxy per
   directed link with ``listen=127.0.0.1:0``: the server picks the port and we
   read it back.  Proxies must exist before the nodes, because a node's peers
   *are* its outgoing proxies' addresses (``{peers}`` / ``CLUSTER_PEERS``);
3. all nodes are spawned at once, then their health checks are polled in
   parallel against one deadline.  A node that exits or misses the deadline
   fails the start with its name, exit status and log tail, after everything
   already started has been torn down.  A node that lost its port to another
   process in the meantime ("address already in use" in its log) is moved to
   a fresh port once, with its proxies re-pointed;
4. the config's default latency, if any, is applied as the first (logged)
   fault.

Before all this, leftovers of *dead* runs (runner gone, see
:mod:`pipeline.cluster.clean`) are removed, and every new proxy is checked to
start healed (enabled, no toxics), so a run never inherits a broken network.

The seed: ``seed=`` argument, else the config's ``seed``, else
``$PIPELINE_SEED``, else random; it is logged, printed in the fault log's first
line and attached to failing test reports, and passing it back replays every
seeded choice.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.cluster import teardown
from pipeline.cluster.config import ClusterConfig
from pipeline.cluster.errors import NodeStartError
from pipeline.cluster.handle import ClusterHandle, NodeHandle
from pipeline.cluster.provider import NodeLaunch, Provider, RunContext
from pipeline.cluster.runstate import RunState, new_run_id

__all__ = ["ClusterManager", "resolve_seed", "default_report_root", "shared_toxiproxy"]

log = logging.getLogger("pipeline.cluster")
_PORT_TAKEN = re.compile(r"address already in use|EADDRINUSE|errno 98", re.IGNORECASE)

_SHARED_TP: Any = None
_SHARED_LOCK = threading.Lock()


def shared_toxiproxy(seed: int | None = None) -> Any:
    """One Toxiproxy for every cluster of this process (``TOXIPROXY_URL`` >
    ``toxiproxy-server`` on PATH > embedded child process), located on first
    use and closed at exit.  Runs never collide on it: proxy names carry the
    run id."""
    global _SHARED_TP
    with _SHARED_LOCK:
        if _SHARED_TP is None:
            from pipeline.toxiproxy import locate

            _SHARED_TP = locate(seed=seed)
            log.info("toxiproxy: %s", _SHARED_TP)
        return _SHARED_TP


def resolve_seed(*candidates: int | None) -> int:
    """First given seed, else ``$PIPELINE_SEED``, else a fresh random one."""
    for seed in candidates:
        if seed is not None:
            return int(seed)
    env = os.environ.get("PIPELINE_SEED")
    if env:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"PIPELINE_SEED: must be an integer, got {env!r}") from None
    return random.SystemRandom().randrange(2**31)


def default_report_root() -> Path:
    reports = os.environ.get("PIPELINE_REPORTS")
    return (Path(reports) if reports else Path("reports")) / "cluster"


class ClusterManager:
    """Starts clusters through a provider.

    ``provider``: a :class:`Provider` *factory or instance*; default a new
    :class:`~pipeline.cluster.local.LocalProvider` per cluster.  ``toxiproxy``:
    a handle with ``.client()`` (from :func:`pipeline.toxiproxy.locate`, or the
    fake); default :func:`shared_toxiproxy`.  ``runs_dir``: where run state
    files go (default :func:`pipeline.cluster.runstate.runs_dir`).
    """

    def __init__(
        self,
        provider: Any = None,
        *,
        toxiproxy: Any = None,
        runs_dir: Path | None = None,
        report_root: Path | None = None,
        probe_timeout: float = 0.3,
        clean_dead_runs: bool = True,
    ) -> None:
        self._provider = provider
        self._toxiproxy = toxiproxy
        self.runs_dir = runs_dir
        self.report_root = report_root
        self.probe_timeout = probe_timeout
        self.clean_dead_runs = clean_dead_runs

    def _new_provider(self) -> Provider:
        if self._provider is None:
            from pipeline.cluster.local import LocalProvider

            return LocalProvider()
        if isinstance(self._provider, Provider):
            return self._provider
        return self._provider()

    def start(self, config: ClusterConfig, *, seed: int | None = None, run_id: str | None = None) -> ClusterHandle:
        """Start every node of ``config``; return once all are healthy."""
        t0 = time.monotonic()
        seed = resolve_seed(seed, config.seed)
        if self.clean_dead_runs:  # what crashed runs left (their runners are dead) goes first
            from pipeline.cluster.clean import clean

            report = clean(directory=self.runs_dir)
            if report.found_anything:
                log.warning("cleaned leftovers of dead runs before starting:\n%s", report.summary())
        run_id = run_id or new_run_id()
        root = Path(config.report_dir) if config.report_dir else (self.report_root or default_report_root())
        run_dir = (root / run_id).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        state = RunState.create(run_id, directory=self.runs_dir, report_dir=str(run_dir))
        provider = self._new_provider()
        handle = ClusterHandle(config, run_id=run_id, run_dir=run_dir, seed=seed, provider=provider, state=state)
        handle.faults.probe_timeout = self.probe_timeout
        teardown.track(handle)
        log.info(
            "cluster %s: starting %d nodes (%s), seed=%d, logs in %s",
            run_id,
            config.node_count,
            config.topology,
            seed,
            run_dir,
        )
        print(f"[pipeline.cluster] run {run_id} seed={seed} logs={run_dir}", file=sys.stderr)
        try:
            self._start(handle, config, provider, state, run_dir, seed)
        except BaseException:
            handle.close()
            raise
        handle.ready_seconds = time.monotonic() - t0
        return handle

    def _start(
        self,
        handle: ClusterHandle,
        config: ClusterConfig,
        provider: Provider,
        state: RunState,
        run_dir: Path,
        seed: int,
    ) -> None:
        provider.open(RunContext(handle.run_id, run_dir, state))
        named = list(zip(config.names, config.nodes, strict=True))
        addresses = {name: provider.allocate(name, spec) for name, spec in named}
        if config.link_proxies or config.client_proxies:
            wanted = (len(config.links) if config.link_proxies else 0) + (
                config.node_count if config.client_proxies else 0
            )
            tp = self._toxiproxy
            own = provider.toxiproxy(seed, wanted) if tp is None else None
            if tp is None:
                tp = own or shared_toxiproxy(seed)
            handle.toxiproxy = tp
            state.toxiproxy_url = getattr(tp, "url", None)
            state.toxiproxy_owned = own is not None  # goes with the provider's containers
            tp_pid = getattr(tp, "pid", None)
            if tp_pid and self._toxiproxy is None:
                state.add_process("toxiproxy", "toxiproxy", "toxiproxy", tp_pid, group=False)
                state.toxiproxy_owned = True
            from pipeline.cluster.links import LinkTable

            handle.links = LinkTable(
                tp.client(),
                handle.run_id,
                peer_address=provider.peer_address,
                prober=getattr(tp, "prober", None),
                state=state,
                listen_host=provider.proxy_listen_host,
                next_listen=getattr(tp, "next_listen", None),
                runner_address=getattr(tp, "host_address", None),
            )
            handle.links.create(
                config.links if config.link_proxies else (), addresses, config.names if config.client_proxies else ()
            )
        launches = []
        for index, (name, spec) in enumerate(named, 1):
            if config.link_proxies:
                if handle.links is None:  # cannot happen: the link table is created above for link proxies
                    raise RuntimeError(f"cluster {handle.run_id}: link proxies configured but no link table")
                peers = handle.links.peers_of(name)
            else:
                peers = {link.dst: addresses[link.dst] for link in config.links if link.src == name}
            launches.append(
                NodeLaunch(
                    name=name,
                    index=index,
                    spec=spec,
                    address=addresses[name],
                    peers=peers,
                    run_id=handle.run_id,
                    data_dir=run_dir / "data" / name,
                    log_path=run_dir / f"{name}.log",
                    config_file=run_dir / "data" / f"{name}.json",
                )
            )
        for launch in launches:
            provider.start(launch)
        self._wait_ready(handle, provider, launches, config.ready_timeout)
        for launch in launches:
            client_proxy = handle.links.client_proxy(launch.name) if handle.links is not None else None
            url_addr = client_proxy.runner_address if client_proxy is not None else provider.client_address(launch.name)
            handle._nodes[launch.name] = NodeHandle(
                launch.name,
                f"http://{url_addr}",
                launch.address,
                dict(launch.peers),
                provider.log_path(launch.name),
                handle,
            )
        if config.latency is not None:
            handle.faults.latency(config.latency.min_ms, config.latency.max_ms, verify=True)

    def _wait_ready(
        self, handle: ClusterHandle, provider: Provider, launches: list[NodeLaunch], timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout

        def wait_one(launch: NodeLaunch) -> NodeStartError | None:
            moved = False
            while True:
                try:
                    handle.wait_healthy(launch.name, max(0.0, deadline - time.monotonic()), budget=timeout)
                    return None
                except NodeStartError as exc:
                    if moved or exc.exit_code is None or not _PORT_TAKEN.search(exc.log_tail):
                        return exc
                moved = True  # lost the port race: move once, re-point proxies, try again
                new = provider.reassign(launch.name)
                log.warning("node %s: port taken, moving to %s", launch.name, new)
                if handle.links is not None:
                    handle.links.set_upstream(launch.name, new)
                provider.restart(launch.name)

        with ThreadPoolExecutor(max_workers=len(launches)) as pool:
            errors = [e for e in pool.map(wait_one, launches) if e is not None]
        if errors:
            first = errors[0]
            if len(errors) > 1:
                others = ", ".join(e.name for e in errors[1:])
                first.args = (first.args[0] + f"\n(also failed: {others})",)
            raise first
