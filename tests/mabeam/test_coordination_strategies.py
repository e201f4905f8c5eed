"""Allocation strategies: max-min fairness, proportionality, priority order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.coordination.strategies import allocate, fair_share, priority, proportional

EPS = 1e-9
capacities = st.floats(0, 1000, allow_nan=False)
demand_lists = st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=12)


def _common(capacity, demands, shares):
    assert len(shares) == len(demands)
    assert all(-EPS <= s <= d + EPS for s, d in zip(shares, demands, strict=True))  # never above demand
    assert sum(shares) <= capacity + EPS * (1 + capacity)  # never above capacity


@given(capacities, demand_lists)
def test_fair_share_is_max_min_fair(capacity, demands):
    shares = fair_share(capacity, demands)
    _common(capacity, demands, shares)
    tol = 1e-7 * (1 + capacity)
    if sum(demands) <= capacity:
        assert shares == pytest.approx(demands)
    else:
        assert sum(shares) == pytest.approx(capacity, abs=tol)  # nothing wasted
        # Max-min: anyone left short holds at least as much as everyone else.
        for s, d in zip(shares, demands, strict=True):
            if s < d - tol:
                assert all(s >= other - tol for other in shares)


def test_fair_share_water_filling_example():
    assert fair_share(10, [2, 8, 8]) == [2, 4, 4]
    assert fair_share(9, [1, 2, 10, 10]) == [1, 2, 3, 3]


@given(capacities, demand_lists)
def test_proportional_shares_follow_demand(capacity, demands):
    shares = proportional(capacity, demands)
    _common(capacity, demands, shares)
    total = sum(demands)
    if total > capacity and total > 0:
        for s, d in zip(shares, demands, strict=True):
            assert s == pytest.approx(capacity * d / total)


@given(capacities, demand_lists, st.data())
def test_priority_serves_higher_priorities_first(capacity, demands, data):
    prios = data.draw(st.lists(st.integers(0, 3), min_size=len(demands), max_size=len(demands)))
    shares = priority(capacity, demands, prios)
    _common(capacity, demands, shares)
    for i in range(len(demands)):
        if shares[i] < demands[i] - EPS:  # i was short, so nobody served after i got anything
            for j in range(len(demands)):
                served_after = prios[j] < prios[i] or (prios[j] == prios[i] and j > i)
                if served_after:
                    assert shares[j] == 0


def test_priority_ties_go_to_join_order():
    assert priority(5, [5, 5], [1, 1]) == [5, 0]


def test_unknown_strategy():
    with pytest.raises(ValueError):
        allocate("greedy", 1, [1], [0])
