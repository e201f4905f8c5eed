"""Multi-Agent Coordination Burst (seed §4.2): coordinate_agents 20/s,
consensus_voting 10/s, resource_allocation 5/s over 100 users, 3 minutes.

Each user starts its own agents first (``setup:start_agent``); a consensus
ballot's votes are ``consensus_voting:vote``, a pool made for an allocation is
``resource_allocation:pool``.
"""

from workload import CoordinationOps


class MultiAgentCoordinationBurst(CoordinationOps):
    SEED_RATES = {"coordinate_agents": 20, "consensus_voting": 10, "resource_allocation": 5}
    SEED_USERS = 100
