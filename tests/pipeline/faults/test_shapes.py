"""Partition shapes as pure functions (pipeline/faults/shapes.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.cluster.topology import Link, parse_link
from pipeline.faults import shapes

N5 = ["n1", "n2", "n3", "n4", "n5"]


def L(*texts: str) -> frozenset[Link]:
    return frozenset(parse_link(t) for t in texts)


def between(a: list[str], b: list[str]) -> frozenset[Link]:
    return frozenset({Link(x, y) for x in a for y in b} | {Link(y, x) for x in a for y in b})


def test_groups_cut_exactly_the_cross_links():
    plan = shapes.groups(N5, [["n1", "n2", "n3"], ["n4", "n5"]])
    assert plan.blocked == between(["n1", "n2", "n3"], ["n4", "n5"])
    assert len(plan.blocked) == 12


def test_named_shapes():
    assert shapes.halves(N5).groups == (("n1", "n2"), ("n3", "n4", "n5"))
    assert shapes.majority_minority(N5).groups == (("n1", "n2", "n3"), ("n4", "n5"))
    assert shapes.isolate(N5, "n3").blocked == between(["n3"], ["n1", "n2", "n4", "n5"])
    assert shapes.one_way(N5, "n1", "n2").blocked == L("n1->n2")


def test_bridge_middle_node_sees_both_sides():
    plan = shapes.bridge(N5)
    left, (middle,), right = plan.groups
    assert middle == "n3" and set(left) | set(right) == {"n1", "n2", "n4", "n5"}
    assert plan.blocked == between(list(left), list(right))
    assert not any(middle in link for link in plan.blocked)


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_majorities_ring_every_node_sees_a_distinct_majority(n):
    names = [f"n{i}" for i in range(1, n + 1)]
    plan = shapes.majorities_ring(names)
    views = {a: frozenset(b for b in names if b == a or Link(a, b) not in plan.blocked) for a in names}
    assert all(len(v) >= n // 2 + 1 for v in views.values())
    assert len(set(views.values())) == n  # nobody shares a majority
    assert all(Link(b, a) in plan.blocked for a, b in plan.blocked)  # symmetric


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="in no group"):
        shapes.groups(N5, [["n1"], ["n2"]])
    with pytest.raises(ValueError, match="in group 0 and group 1"):
        shapes.groups(N5, [["n1", "n2", "n3"], ["n3", "n4", "n5"]])
    with pytest.raises(ValueError, match="unknown node 'n9'"):
        shapes.isolate(N5, "n9")
    with pytest.raises(ValueError, match="at least 4"):
        shapes.majorities_ring(["a", "b", "c"])


@given(st.integers(2, 9), st.integers(0, 2**31))
@settings(max_examples=60, deadline=None)
def test_shuffled_halves_are_a_partition_and_reproducible(n, seed):
    names = [f"n{i}" for i in range(1, n + 1)]
    plan = shapes.halves(names, random.Random(seed))
    assert plan == shapes.halves(names, random.Random(seed))
    a, b = plan.groups
    assert sorted(a + b) == sorted(names) and abs(len(a) - len(b)) <= 1
    assert plan.blocked == between(list(a), list(b))
