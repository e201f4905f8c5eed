"""Which directed peer links a cluster has.

A *link* is one direction of node-to-node traffic: ``n1->n2`` carries the
connections that n1 opens to n2.  Each link gets its own Toxiproxy proxy, so a
fault can cut or slow one direction without touching the other.  The topology
decides which links exist at all: a node is only told about the peers it has an
outgoing link to.

* ``mesh``: every ordered pair of distinct nodes.
* ``ring``: each node and its two ring neighbours, both ways (n nodes -> 2n links,
  2 links for a 2-node ring).
* ``star``: the hub and every other node, both ways (the hub is the first node
  unless named).
* ``custom``: exactly the links given, e.g. ``["n1->n2", ("n2", "n3")]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = ["Link", "TOPOLOGIES", "topology_links", "parse_link"]

TOPOLOGIES = ("ring", "star", "mesh", "custom")


class Link(NamedTuple):
    """One direction of peer traffic: connections opened by ``src`` to ``dst``."""

    src: str
    dst: str

    def __str__(self) -> str:
        return f"{self.src}->{self.dst}"

    def reverse(self) -> Link:
        return Link(self.dst, self.src)


def parse_link(value: object) -> Link:
    """``"n1->n2"`` or ``("n1", "n2")`` -> ``Link("n1", "n2")``."""
    if isinstance(value, Link):
        return value
    if isinstance(value, str):
        if "->" not in value:
            raise ValueError(f"link {value!r} must be written 'src->dst'")
        src, dst = (part.strip() for part in value.split("->", 1))
        return Link(src, dst)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return Link(value[0], value[1])
    raise ValueError(f"link {value!r} must be 'src->dst' or a (src, dst) pair of node names")


def topology_links(
    kind: str, names: Sequence[str], *, hub: str | None = None, links: Iterable[object] | None = None
) -> tuple[Link, ...]:
    """The directed links of topology ``kind`` over ``names`` (in a stable order).

    Raises ``ValueError`` naming the problem (unknown kind, unknown node in a
    custom link, a self-link, a hub that is not a node).
    """
    names = list(names)
    if kind not in TOPOLOGIES:
        raise ValueError(f"topology {kind!r} is not one of {', '.join(TOPOLOGIES)}")
    if kind != "custom" and links is not None:
        raise ValueError("links: only allowed with topology='custom'")
    if kind != "star" and hub is not None:
        raise ValueError("hub: only allowed with topology='star'")
    n = len(names)
    out: list[Link] = []
    if kind == "mesh":
        out = [Link(a, b) for a in names for b in names if a != b]
    elif kind == "ring":
        for i, a in enumerate(names):
            for b in (names[(i + 1) % n], names[(i - 1) % n]):
                if b != a and Link(a, b) not in out:
                    out.append(Link(a, b))
    elif kind == "star":
        center = names[0] if hub is None else hub
        if center not in names:
            raise ValueError(f"hub {center!r} is not a node; nodes: {', '.join(names)}")
        for other in names:
            if other != center:
                out += [Link(center, other), Link(other, center)]
    else:
        if links is None:
            raise ValueError("links: required with topology='custom' (e.g. ['n1->n2', 'n2->n1'])")
        for raw in links:
            link = parse_link(raw)
            for end in link:
                if end not in names:
                    raise ValueError(f"links: {str(link)!r} names unknown node {end!r}; nodes: {', '.join(names)}")
            if link.src == link.dst:
                raise ValueError(f"links: {str(link)!r} links a node to itself")
            if link not in out:
                out.append(link)
    return tuple(out)
