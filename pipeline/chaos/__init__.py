"""The chaos stage: seeded scenarios of faults against a fresh cluster, a recorded
background workload, criteria per phase, exact replay and timeline plots.

``nox -s chaos`` / ``python -m pipeline.chaos`` (:mod:`~pipeline.chaos.__main__`).
Modules: :mod:`~pipeline.chaos.model` (scenarios and conditions),
:mod:`~pipeline.chaos.schedule` (a scenario compiled from its seed into what,
where, when; ``schedule.json``), :mod:`~pipeline.chaos.config` (the ``[chaos]``
table), :mod:`~pipeline.chaos.execute` (the schedule through ``cluster.faults``),
:mod:`~pipeline.chaos.workload` (the paced, recorded clients),
:mod:`~pipeline.chaos.probe` (health, leader, digests, GC telemetry),
:mod:`~pipeline.chaos.metrics` (availability per phase, error rate, GC pressure),
:mod:`~pipeline.chaos.result`, :mod:`~pipeline.chaos.junit`,
:mod:`~pipeline.chaos.progress`, :mod:`~pipeline.chaos.plot` and
:mod:`~pipeline.chaos.runner` (the stage).  Knows nothing about the service:
the workload is the suite's (``suites/chaos/``), named in ``[chaos.workloads]``.
"""
