"""Ids decided by the proposer: unique per node run, reproducible from a seed."""

from __future__ import annotations

import random

from mabeam.ids import IdFactory


def test_ids_are_unique_and_name_their_kind_and_node():
    ids = IdFactory("n1", random.Random(1))
    made = [ids.new("auc") for _ in range(1000)]
    assert len(set(made)) == 1000 and all(m.startswith("auc-n1-") for m in made)


def test_same_seed_same_ids_and_nodes_never_collide():
    a, b = IdFactory("n1", random.Random(5)), IdFactory("n1", random.Random(5))
    assert [a.new("x") for _ in range(3)] == [b.new("x") for _ in range(3)]
    c = IdFactory("n2", random.Random(5))
    assert c.new("x") != IdFactory("n1", random.Random(5)).new("x")
