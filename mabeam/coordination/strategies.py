"""Allocation strategies for one resource: capacity and demands in, shares out.

Each function keeps two promises the tests check: nobody gets more than it
asked for, and the shares never sum to more than the capacity.
"""

from __future__ import annotations

from collections.abc import Sequence

STRATEGIES = ("fair_share", "proportional", "priority")


def fair_share(capacity: float, demands: Sequence[float]) -> list[float]:
    """Max-min fair (water-filling): the smallest demands are met first, and
    what is left is split equally among those still wanting more."""
    shares = [0.0] * len(demands)
    remaining = max(0.0, capacity)
    waiting = len(demands)
    for i in sorted(range(len(demands)), key=lambda i: demands[i]):
        give = min(demands[i], remaining / waiting)
        shares[i] = give
        remaining -= give
        waiting -= 1
    return shares


def proportional(capacity: float, demands: Sequence[float]) -> list[float]:
    """Capacity split in proportion to demand, everyone fully served if it fits."""
    capacity = max(0.0, capacity)
    total = sum(demands)
    if total <= capacity:
        return [float(d) for d in demands]
    return [capacity * d / total for d in demands]


def priority(capacity: float, demands: Sequence[float], priorities: Sequence[int]) -> list[float]:
    """Highest priority first (ties: earlier joiner first), each up to its demand."""
    shares = [0.0] * len(demands)
    remaining = max(0.0, capacity)
    for i in sorted(range(len(demands)), key=lambda i: -priorities[i]):
        give = min(demands[i], remaining)
        shares[i] = give
        remaining -= give
    return shares


def allocate(strategy: str, capacity: float, demands: Sequence[float], priorities: Sequence[int]) -> list[float]:
    if strategy == "fair_share":
        return fair_share(capacity, demands)
    if strategy == "proportional":
        return proportional(capacity, demands)
    if strategy == "priority":
        return priority(capacity, demands, priorities)
    raise ValueError(f"unknown strategy {strategy!r}")
