"""Steady State Coordination (seed §4.2): coordinate_agents 5/s,
monitor_system 1/s (the seed's monitor_performance: ``GET /telemetry``),
fault_detection 0.1/s (``GET /coordination/status`` and a recent group's
status) over 25 users, 15 minutes.
"""

from workload import CoordinationOps


class SteadyStateCoordination(CoordinationOps):
    SEED_RATES = {"coordinate_agents": 5, "monitor_system": 1, "fault_detection": 0.1}
    SEED_USERS = 25
    AGENTS_PER_USER = 4
