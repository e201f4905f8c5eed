"""Partition shapes: which directed links a partition cuts.

Pure functions over node names, so a shape can be unit-tested and printed
before anything is broken.  A shape returns a :class:`PartitionPlan`; the
fault layer intersects its ``blocked`` set with the links that exist in the
topology and breaks those proxies.

Shapes (the vocabulary of Jepsen-style nemeses):

* ``groups``: nodes in different groups cannot reach each other, both ways;
* ``halves``: two groups of n//2 and n - n//2;
* ``majority_minority``: a majority (n//2 + 1) and the rest;
* ``isolate(node)``: one node alone, the rest together;
* ``bridge``: two halves that cannot see each other, and one node (the bridge)
  that sees both;
* ``majorities_ring``: every node sees a majority, but no two nodes see the
  same majority (needs 4 or more nodes);
* ``one_way(src, dst)``: only ``src->dst`` is cut; ``dst`` still reaches ``src``.

Membership follows node order unless a seeded ``random.Random`` is given, in
which case the nodes are shuffled with it first (the seed is logged by the
fault that asked).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.cluster.topology import Link

__all__ = [
    "PartitionPlan",
    "groups",
    "halves",
    "majority_minority",
    "isolate",
    "bridge",
    "majorities_ring",
    "one_way",
    "SHAPES",
]

SHAPES = ("groups", "halves", "majority_minority", "isolate", "bridge", "majorities_ring", "one_way")


@dataclass(frozen=True)
class PartitionPlan:
    """A named shape, its groups (for the log) and the links it cuts."""

    shape: str
    groups: tuple[tuple[str, ...], ...]
    blocked: frozenset[Link]

    def __repr__(self) -> str:
        if self.shape == "one_way" or not self.groups:
            cut = ", ".join(sorted(map(str, self.blocked)))
            return f"PartitionPlan({self.shape}: cut {cut})"
        return f"PartitionPlan({self.shape}: " + " | ".join(" ".join(g) for g in self.groups) + ")"


def _order(names: Sequence[str], rng: random.Random | None) -> list[str]:
    names = list(names)
    if rng is not None:
        rng.shuffle(names)
    return names


def _between(groups_: Sequence[Sequence[str]]) -> frozenset[Link]:
    blocked: set[Link] = set()
    for i, a in enumerate(groups_):
        for j, b in enumerate(groups_):
            if i != j:
                blocked.update(Link(x, y) for x in a for y in b)
    return frozenset(blocked)


def groups(names: Sequence[str], parts: Iterable[Iterable[str]], shape: str = "groups") -> PartitionPlan:
    """Cut every link between nodes of different ``parts``.  Every node must
    be in exactly one part."""
    parts_t = tuple(tuple(p) for p in parts)
    if len(parts_t) < 2:
        raise ValueError(f"groups: a partition needs at least 2 groups, got {len(parts_t)}")
    seen: dict[str, int] = {}
    for i, part in enumerate(parts_t):
        if not part:
            raise ValueError(f"groups: group {i} is empty")
        for node in part:
            if node not in names:
                raise ValueError(f"groups: unknown node {node!r}; nodes: {', '.join(names)}")
            if node in seen:
                raise ValueError(f"groups: node {node!r} is in group {seen[node]} and group {i}")
            seen[node] = i
    missing = [n for n in names if n not in seen]
    if missing:
        raise ValueError(
            f"groups: nodes {', '.join(missing)} are in no group (list every node, e.g. groups=[[...], [...]])"
        )
    return PartitionPlan(shape, parts_t, _between(parts_t))


def halves(names: Sequence[str], rng: random.Random | None = None) -> PartitionPlan:
    if len(names) < 2:
        raise ValueError("halves: needs at least 2 nodes")
    order = _order(names, rng)
    k = len(order) // 2
    return groups(names, [order[:k], order[k:]], "halves")


def majority_minority(names: Sequence[str], rng: random.Random | None = None) -> PartitionPlan:
    if len(names) < 2:
        raise ValueError("majority_minority: needs at least 2 nodes")
    order = _order(names, rng)
    k = len(order) // 2 + 1
    return groups(names, [order[:k], order[k:]] if k < len(order) else [order[:-1], order[-1:]], "majority_minority")


def isolate(names: Sequence[str], node: str) -> PartitionPlan:
    if node not in names:
        raise ValueError(f"isolate: unknown node {node!r}; nodes: {', '.join(names)}")
    if len(names) < 2:
        raise ValueError("isolate: needs at least 2 nodes")
    return groups(names, [[node], [n for n in names if n != node]], "isolate")


def bridge(names: Sequence[str], rng: random.Random | None = None, node: str | None = None) -> PartitionPlan:
    """Two sides that cannot see each other; ``node`` (default: the middle
    one in order) sees both.  Needs at least 3 nodes."""
    if len(names) < 3:
        raise ValueError("bridge: needs at least 3 nodes")
    order = _order(names, rng)
    middle = order[len(order) // 2] if node is None else node
    if middle not in names:
        raise ValueError(f"bridge: unknown node {middle!r}; nodes: {', '.join(names)}")
    rest = [n for n in order if n != middle]
    k = len(rest) // 2
    left, right = rest[:k], rest[k:]
    blocked = _between([left, right])
    return PartitionPlan("bridge", (tuple(left), (middle,), tuple(right)), blocked)


def majorities_ring(names: Sequence[str], rng: random.Random | None = None) -> PartitionPlan:
    """Nodes on a ring each see their nearest neighbours, just enough for a
    majority (including themselves); everything farther is cut."""
    n = len(names)
    if n < 4:
        raise ValueError(f"majorities_ring: needs at least 4 nodes (got {n}); with fewer every majority is the same")
    order = _order(names, rng)
    majority = n // 2 + 1
    reach = majority // 2  # the fewest neighbours each side with 2*reach + 1 >= majority
    blocked: set[Link] = set()
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            if i == j:
                continue
            distance = min((i - j) % n, (j - i) % n)
            if distance > reach:
                blocked.add(Link(a, b))
    views = tuple(tuple(b for b in order if b == a or Link(a, b) not in blocked) for a in order)
    return PartitionPlan("majorities_ring", views, frozenset(blocked))


def one_way(names: Sequence[str], src: str, dst: str) -> PartitionPlan:
    for node in (src, dst):
        if node not in names:
            raise ValueError(f"one_way: unknown node {node!r}; nodes: {', '.join(names)}")
    if src == dst:
        raise ValueError("one_way: src and dst must differ")
    return PartitionPlan("one_way", (), frozenset({Link(src, dst)}))
