"""Node faults: crash, stop, pause, resume, restart, CPU and memory pressure.

Each returns once the kernel confirms it (a crash after the process is
reaped, a pause after the process is reported stopped) or, for a restart,
once the node is healthy again on the same address with the same peers.

Node faults: ``crash`` (SIGKILL), ``pause``/``resume`` (SIGSTOP/SIGCONT),
``stop`` (SIGTERM, then SIGKILL), ``restart`` (same address, same peers), and
``cpu_pressure``/``memory_pressure`` (:mod:`pipeline.faults.pressure`).
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.faults import pressure as pressures
from pipeline.faults.base import FaultBase, FaultTarget
from pipeline.faults.log import FaultError, FaultLog, FaultNotEffective, FaultRecord

__all__ = ["NodeFaults"]


class NodeFaults(FaultBase):
    """Faults on node processes, through the cluster's provider."""

    def __init__(self, cluster: FaultTarget, *, seed: int, log: FaultLog) -> None:
        super().__init__(cluster, seed=seed, log=log)
        self.pressures: list[pressures.Pressure] = []

    # ------------------------------------------------------------- node faults

    def _node_fault(
        self,
        kind: str,
        node: str,
        seed: int | None,
        action: Callable[[], str],
        undo: Callable[[], None] | None,
        instant: bool,
    ) -> FaultRecord:
        self._node(node)
        record = self._start(kind, node, self._seed(seed), nodes=(node,))
        record._undo = undo
        note = action()
        self._verified(record, note)
        if instant:
            record.finish("instant")
        return record

    def crash(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGKILL the node (and its process group).  Revert = restart."""

        def act() -> str:
            code = self.cluster.provider.kill(node)
            if self.cluster.provider.exit_code(node) is None:
                raise FaultNotEffective(f"crash: {node} still running")
            return f"process reaped, exit status {code}"

        return self._node_fault("crash", node, seed, act, lambda: self._restart_node(node), instant=False)

    def stop(self, node: str, *, timeout: float | None = None, seed: int | None = None) -> FaultRecord:
        """Graceful stop (SIGTERM, SIGKILL after ``timeout``).  Revert = restart."""

        def act() -> str:
            code = self.cluster.provider.stop(node, self.cluster.config.stop_timeout if timeout is None else timeout)
            return f"process exited with status {code}"

        return self._node_fault("stop", node, seed, act, lambda: self._restart_node(node), instant=False)

    def pause(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGSTOP the node: its ports stay open but nothing answers.  Revert = resume."""

        def act() -> str:
            self.cluster.provider.pause(node)
            return "kernel reports the process stopped"

        return self._node_fault("pause", node, seed, act, lambda: self.cluster.provider.resume(node), instant=False)

    def resume(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGCONT a paused node; ends its pause fault."""

        def act() -> str:
            self.cluster.provider.resume(node)
            for r in self.log.active():
                if r.kind == "pause" and r.nodes == (node,):
                    r.finish("resumed")
            self.cluster.wait_healthy(node, self.cluster.config.ready_timeout)
            return "process running and healthy"

        return self._node_fault("resume", node, seed, act, None, instant=True)

    def _restart_node(self, node: str) -> None:
        self.cluster.provider.restart(node, self.cluster.config.stop_timeout)
        self.cluster.wait_healthy(node, self.cluster.config.ready_timeout)

    def restart(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """Stop (if running) and start the node again on the same address with
        the same peers; returns once it is healthy.  Ends its crash/stop fault."""

        def act() -> str:
            self._restart_node(node)
            for r in self.log.active():
                if r.kind in ("crash", "stop", "pause") and r.nodes == (node,):
                    r.finish("restarted")
            return f"healthy again on {self.cluster.provider.address(node)} (pid {self.cluster.provider.pid(node)})"

        return self._node_fault("restart", node, seed, act, None, instant=True)

    # ---------------------------------------------------------------- pressure

    def cpu_pressure(
        self, seconds: float, workers: int = 1, *, node: str | None = None, seed: int | None = None
    ) -> FaultRecord:
        """Burn ``workers`` CPUs for ``seconds`` (pinned to ``node``'s CPUs
        when it has an affinity limit).  Revert = kill the helper early."""
        cpus = None
        if node is not None:
            self._node(node)
            cpus = self.cluster.config.node(node).resources.cpus
        seed = self._seed(seed)
        try:
            pressure = pressures.cpu_pressure(seconds, workers, cpus=cpus, state=self.cluster.state)
        except pressures.PressureError as exc:
            raise FaultError(str(exc)) from None
        return self._pressure_record(pressure, "cpu_pressure", seed, node)

    def memory_pressure(self, mb: int, seconds: float, *, seed: int | None = None) -> FaultRecord:
        """Hold ``mb`` MiB of resident memory for ``seconds``."""
        seed = self._seed(seed)
        try:
            pressure = pressures.memory_pressure(mb, seconds, state=self.cluster.state)
        except pressures.PressureError as exc:
            raise FaultError(str(exc)) from None
        return self._pressure_record(pressure, "memory_pressure", seed, None)

    def _pressure_record(self, pressure: pressures.Pressure, kind: str, seed: int, node: str | None) -> FaultRecord:
        self.pressures.append(pressure)
        record = self._start(
            kind,
            pressure.label + (f" near {node}" if node else ""),
            seed,
            nodes=(node,) if node else (),
            params={"pid": pressure.pid},
        )
        record._undo = pressure.stop
        self._verified(record, f"helper pid {pressure.pid} reported ready")
        return record
