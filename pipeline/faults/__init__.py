"""Faults over a running cluster: ``cluster.faults.partition(...)``, ``.heal()``,
``.crash("n2")``, latency, message loss, pauses, restarts, CPU and memory pressure.

Modules: :mod:`~pipeline.faults.vocabulary` (the composed ``Faults`` object),
:mod:`~pipeline.faults.network` and :mod:`~pipeline.faults.nodes` (the two
halves of the vocabulary), :mod:`~pipeline.faults.base` (seeding, logging,
the ``FaultTarget`` a fault acts on), :mod:`~pipeline.faults.log` (records and
the fault log), :mod:`~pipeline.faults.shapes` (partition shapes as pure
functions) and :mod:`~pipeline.faults.pressure` (CPU and memory helpers).
"""

from pipeline.faults.log import FaultError, FaultLog, FaultNotEffective, FaultRecord

__all__ = ["FaultError", "FaultLog", "FaultNotEffective", "FaultRecord"]
