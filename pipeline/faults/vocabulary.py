"""The whole fault vocabulary of one cluster: ``cluster.faults``.

A cluster handle composes one :class:`Faults` over itself
(``cluster.faults.partition(...)``, ``cluster.faults.crash("n2")``,
``cluster.faults.heal()``); the vocabulary is not inherited into the handle,
so the handle stays about where the nodes are and how they are torn down, and
the vocabulary can grow (chaos conditions build on it) without touching it.

Every method returns a :class:`~pipeline.faults.log.FaultRecord` that is
already in ``cluster.faults.log``, seeded (``seed=`` or drawn from the
cluster seed), and verified effective (see :mod:`pipeline.faults.network`
and :mod:`pipeline.faults.nodes` for what "effective" means per fault).
"""

from __future__ import annotations

from pipeline.faults.network import NetworkFaults
from pipeline.faults.nodes import NodeFaults

__all__ = ["Faults"]


class Faults(NetworkFaults, NodeFaults):
    """Network and node faults of one cluster, sharing one seed and one log."""

    def release(self) -> list[str]:
        """Undo what faults left behind at teardown: heal the links (so nodes
        stop on a clean network rather than timing out on a cut one), end every
        active record, stop pressure helpers.  Returns what could not be undone."""
        errors: list[str] = []
        links = self.cluster.links
        if links is not None and any(r.links for r in self.log.active()):
            try:
                links.heal_all()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                errors.append(f"heal: {exc}")
        for record in self.log.active():
            record.finish("teardown")
        for pressure in self.pressures:
            try:
                pressure.stop()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                errors.append(f"pressure: {exc}")
        return errors

    def __repr__(self) -> str:
        return f"<Faults of {self.cluster!r}: {len(self.log)} recorded, {len(self.log.active())} active>"
