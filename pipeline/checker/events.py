"""Event delivery: once to every subscriber, never twice, in one common order.

Recorded shapes:

* subscribe / unsubscribe: ``client`` = subscriber, ``key`` = topic pattern;
* publish: ``key`` = topic, ``value`` = the event id (client-chosen, unique;
  or a dict with an ``"id"``); ok = published, fail = definitely not,
  unknown = maybe;
* deliver: ``client`` = subscriber, ``value`` = the event id, recorded when the
  subscriber receives it (``history.record(...)``); a subscriber's deliveries
  are in the order it received them.

The suite must stop recording only once deliveries have drained (the checker
treats the end of the history as "everything that will arrive has arrived").

Checks:

1. every delivered id was published (ok or unknown; never a failed publish),
   and not before its publish was invoked;
2. no subscriber receives an event twice;
3. a subscriber receives only events whose topic matches a pattern it
   subscribed to (ok or unknown subscribe invoked before the delivery);
4. an ok publish reaches every subscriber *covering* it: subscribed (ok,
   completed before the publish was invoked) with a matching pattern and
   never unsubscribed afterwards.  An unknown publish that reached anyone
   did happen, so it too must reach every covering subscriber;
5. one common order: the subscribers' sequences, merged, contain no cycle
   (two subscribers that both received x and y agree which came first, and
   no longer chain of subscribers contradicts itself either).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pipeline.checker.history import Op
from pipeline.checker.result import CheckResult
from pipeline.checker.values import freeze

__all__ = ["EventModel", "check_events", "topic_matches"]

NAME = "events"


def topic_matches(pattern: str, topic: str) -> bool:
    """Dot-separated topics: ``*`` is one segment, ``**`` or ``#`` any number (even none)."""
    pat, top = pattern.split("."), topic.split(".")
    # reach[j]: the pattern consumed so far can end right before topic segment j
    reach = [True] + [False] * len(top)
    for seg in pat:
        if seg in ("**", "#"):
            seen = False
            for j in range(len(reach)):
                seen = seen or reach[j]
                reach[j] = seen
        else:
            nxt = [False] * len(reach)
            for j in range(len(top)):
                if reach[j] and (seg == "*" or seg == top[j]):
                    nxt[j + 1] = True
            reach = nxt
    return reach[-1]


@dataclass(frozen=True)
class EventModel:
    """Op names and the topic matcher (``matches(pattern, topic)``)."""

    publishes: frozenset[str] = frozenset({"publish"})
    delivers: frozenset[str] = frozenset({"deliver"})
    subscribes: frozenset[str] = frozenset({"subscribe"})
    unsubscribes: frozenset[str] = frozenset({"unsubscribe"})
    matches: Callable[[str, str], bool] = field(default=topic_matches)

    def names(self) -> frozenset[str]:
        return self.publishes | self.delivers | self.subscribes | self.unsubscribes


def _event_id(op: Op) -> Any:
    value = op.value if op.value is not None else op.result
    if isinstance(value, dict):
        value = value.get("id")
    return freeze(value)


def _first_inversion(a: list[Any], b: list[Any]) -> tuple[Any, Any] | None:
    """Two events that ``a`` and ``b`` both received in opposite orders, if any."""
    pos_b = {e: i for i, e in enumerate(b)}
    common = [e for e in a if e in pos_b]
    for x, y in pairwise(common):
        if pos_b[x] > pos_b[y]:
            return x, y
    return None


def _cycle(sequences: dict[str, list[Any]]) -> list[tuple[Any, Any, str]] | None:
    """A cycle in the 'received before' graph built from consecutive deliveries."""
    edges: dict[Any, dict[Any, str]] = {}
    for sub, seq in sequences.items():
        for x, y in pairwise(seq):
            edges.setdefault(x, {}).setdefault(y, sub)
    white, grey, black = 0, 1, 2
    color: dict[Any, int] = {}
    for root in list(edges):
        if color.get(root, white) != white:
            continue
        stack = [(root, iter(edges.get(root, {}).items()))]
        path = [root]
        color[root] = grey
        while stack:
            node, it = stack[-1]
            step = next(it, None)
            if step is None:
                color[node] = black
                stack.pop()
                path.pop()
                continue
            child, _sub = step
            c = color.get(child, white)
            if c == grey:
                cyc = path[path.index(child) :] + [child]
                return [(x, y, edges[x][y]) for x, y in pairwise(cyc)]
            if c == white:
                color[child] = grey
                path.append(child)
                stack.append((child, iter(edges.get(child, {}).items())))
    return None


def check_events(history: Iterable[Op], model: EventModel | None = None) -> CheckResult:
    """Exactly-once delivery to covering subscribers, in one order."""
    model = model or EventModel()
    ops = list(history)
    publishes: dict[Any, Op] = {}
    deliveries: dict[str, list[Op]] = {}
    subs: dict[str, list[Op]] = {}
    unsubs: dict[str, list[Op]] = {}
    for op in ops:
        if op.f in model.publishes:
            publishes.setdefault(_event_id(op), op)
        elif op.f in model.delivers and not op.failed:
            deliveries.setdefault(op.client, []).append(op)
        elif op.f in model.subscribes and not op.failed:
            subs.setdefault(op.client, []).append(op)
        elif op.f in model.unsubscribes and not op.failed:
            unsubs.setdefault(op.client, []).append(op)
    for seq in deliveries.values():
        seq.sort(key=lambda o: (o.invoke_ns, o.index))
    subscribers = sorted(set(subs) | set(deliveries))
    problems: list[tuple[str, tuple[Op, ...]]] = []

    def covers(sub: str, pub: Op) -> bool:
        for s in subs.get(sub, []):
            if s.ok and s.precedes(pub) and model.matches(s.key, pub.key):
                if not any(u.key == s.key and u.invoke_ns > s.invoke_ns for u in unsubs.get(sub, [])):
                    return True
        return False

    def may_receive(sub: str, pub: Op, at: Op) -> bool:
        return any(s.invoke_ns <= at.end_ns and model.matches(s.key, pub.key) for s in subs.get(sub, []))

    received: dict[str, dict[Any, list[Op]]] = {}
    for sub in subscribers:
        got = received.setdefault(sub, {})
        for d in deliveries.get(sub, []):
            eid = _event_id(d)
            got.setdefault(eid, []).append(d)
            pub = publishes.get(eid)
            if pub is None:
                problems.append((f"Subscriber {sub} received event {eid!r}, which nobody published.", (d,)))
            elif pub.failed:
                problems.append(
                    (
                        f"Subscriber {sub} received event {eid!r}, whose publish failed "
                        f"(a failed publish must not be applied).",
                        (pub, d),
                    )
                )
            elif d.end_ns < pub.invoke_ns:
                problems.append((f"Subscriber {sub} received event {eid!r} before it was published.", (pub, d)))
            elif not may_receive(sub, pub, d):
                problems.append(
                    (
                        f"Subscriber {sub} received event {eid!r} on topic {pub.key!r}, but "
                        f"none of its subscriptions matches that topic.",
                        (pub, d, *subs.get(sub, ())[:2]),
                    )
                )
        for eid, ds in got.items():
            if len(ds) > 1:
                pub = publishes.get(eid)
                problems.append(
                    (
                        f"Subscriber {sub} received event {eid!r} {len(ds)} times; each event must be delivered once.",
                        (*([pub] if pub else []), *ds[:3]),
                    )
                )
    happened = {eid for got in received.values() for eid in got}
    for eid, pub in publishes.items():
        if pub.failed or not (pub.ok or eid in happened):
            continue
        for sub in subscribers:
            if covers(sub, pub) and eid not in received.get(sub, {}):
                cover = next(s for s in subs[sub] if s.ok and s.precedes(pub))
                why = "acknowledged" if pub.ok else "of unknown outcome but delivered to others, so it happened"
                problems.append(
                    (
                        f"Event {eid!r} (topic {pub.key!r}, publish {why}) never reached "
                        f"subscriber {sub}, which subscribed to {cover.key!r} before the "
                        f"publish and never unsubscribed.",
                        (cover, pub),
                    )
                )
    sequences = {sub: [_event_id(d) for d in deliveries.get(sub, [])] for sub in subscribers}
    if not problems:
        for i, a in enumerate(subscribers):
            for b in subscribers[i + 1 :]:
                inv = _first_inversion(sequences[a], sequences[b])
                if inv:
                    x, y = inv
                    excerpt: tuple[Op, ...] = (
                        received[a][x][0],
                        received[a][y][0],
                        received[b][y][0],
                        received[b][x][0],
                    )
                    problems.append(
                        (
                            f"Subscribers {a} and {b} disagree on the order of events: {a} "
                            f"received {x!r} before {y!r}, {b} received {y!r} before {x!r}.",
                            excerpt,
                        )
                    )
                    break
            if problems:
                break
    if not problems:
        cyc = _cycle(sequences)
        if cyc:
            steps = "; ".join(f"{sub} got {x!r} before {y!r}" for x, y, sub in cyc)
            excerpt = tuple(o for x, y, sub in cyc for o in (received[sub][x][0], received[sub][y][0]))
            problems.append((f"The subscribers' orders admit no common order: {steps}.", excerpt))
    stats = {
        "events": len(publishes),
        "subscribers": len(subscribers),
        "deliveries": sum(len(v) for v in deliveries.values()),
    }
    if problems:
        (first, excerpt), rest = problems[0], problems[1:]
        notes = [f"{len(rest)} more problem(s), e.g.: {rest[0][0]}"] if rest else []
        return CheckResult.violation(NAME, first, excerpt, notes=notes, stats=stats)
    return CheckResult.ok(
        NAME,
        f"{stats['deliveries']} deliveries of {len(publishes)} events to "
        f"{len(subscribers)} subscribers: each once, in one order.",
        stats=stats,
    )
